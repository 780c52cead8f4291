"""Offscreen rendering of simulator states: kinematic replay, so frame t shows exactly state t."""

from __future__ import annotations

import os

import mujoco
import numpy as np

from pipeline.errors import PipelineError
from pipeline.render.distractors import DISTRACTOR_FIELDS, Distractor, add_distractor_slot
from pipeline.render.quality import get_quality
from pipeline.tasks.spec import TaskSpec, get_task


class FrameRenderer:
    """Renders any number of cameras of one task's scene from full simulator states.

    It owns a private render model (the task's XML with RRL's cameras), so rendering never touches the
    physics env: set the state, run forward kinematics, draw. Optional distractors edit only this model.
    """

    def __init__(
        self,
        task: str | TaskSpec,
        size: int = 256,
        quality: str = "fast",
        cameras: tuple[str, ...] | None = None,
    ):
        self.spec = task if isinstance(task, TaskSpec) else get_task(task)
        if size <= 0:
            raise PipelineError(f"image size must be positive, got {size}")
        self.size = int(size)
        self.quality = get_quality(quality)
        self.model = self.spec.build_render_model(edit=add_distractor_slot)
        known = [self.model.camera(i).name for i in range(self.model.ncam)]
        self.cameras = tuple(cameras) if cameras else self.spec.camera_names
        for name in self.cameras:
            if name not in known:
                raise PipelineError(f"{self.spec.name}: unknown camera {name!r}; cameras: {', '.join(known)}")
        self.quality.apply(self.model)
        # mujoco.Renderer refuses images larger than the model's offscreen buffer: grow the buffer instead
        self.model.vis.global_.offwidth = max(self.model.vis.global_.offwidth, self.size)
        self.model.vis.global_.offheight = max(self.model.vis.global_.offheight, self.size)
        self.data = mujoco.MjData(self.model)
        self._renderer = mujoco.Renderer(self.model, self.size, self.size)
        self.quality.apply_scene(self._renderer.scene)
        # the model fields a distractor may edit, to restore between episodes
        self._pristine = {name: getattr(self.model, name).copy() for name in DISTRACTOR_FIELDS}
        self.distractor: Distractor | None = None

    def set_distractor(self, distractor: "Distractor | None") -> None:
        """Render under `distractor` (None: the plain scene) until the next call. Touches only this model."""
        if distractor is self.distractor:
            return
        for name, value in self._pristine.items():
            getattr(self.model, name)[:] = value
        if distractor is not None:
            distractor.apply(self.model)
        self.distractor = distractor

    def render(self, state: dict[str, np.ndarray], out: np.ndarray | None = None) -> np.ndarray:
        """Frames of every camera for one state: (n_cameras, size, size, 3) uint8."""
        self.spec.set_state(self.model, self.data, state)
        if out is None:
            out = np.empty((len(self.cameras), self.size, self.size, 3), dtype=np.uint8)
        for i, camera in enumerate(self.cameras):
            self._renderer.update_scene(self.data, camera=camera)
            self._renderer.render(out=out[i])
        return out

    def attrs(self) -> dict[str, object]:
        """Renderer settings and camera poses, as recorded in a frames file (no paths, no times)."""
        mujoco.mj_forward(self.model, self.data)
        attrs: dict[str, object] = {
            "image_size": self.size,
            "cameras": list(self.cameras),
            "mujoco_gl": os.environ.get("MUJOCO_GL", ""),
            "mujoco_version": mujoco.__version__,
            **self.quality.as_attrs(self.model),
        }
        for name in self.cameras:
            cam = self.model.camera(name)
            attrs[f"camera.{name}.pos"] = self.data.cam(name).xpos.tolist()
            attrs[f"camera.{name}.xmat"] = self.data.cam(name).xmat.tolist()
            attrs[f"camera.{name}.fovy"] = float(cam.fovy[0])
        return attrs

    def close(self) -> None:
        self._renderer.close()

    def __enter__(self) -> "FrameRenderer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
