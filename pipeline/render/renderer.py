"""Offscreen rendering of simulator states: kinematic replay, so frame t shows exactly state t."""

from __future__ import annotations

import os

import mujoco
import numpy as np

from pipeline.errors import PipelineError
from pipeline.render.distractors import DISTRACTOR_FIELDS, Distractor, add_distractor_slot
from pipeline.render.quality import RenderQuality, get_quality
from pipeline.tasks.spec import TaskSpec, get_task


def build_scene(task: str | TaskSpec, size: int, quality: str, cameras: tuple[str, ...] | None, scene: str = "rrl"
                ) -> tuple[TaskSpec, mujoco.MjModel, tuple[str, ...], RenderQuality]:
    """The render model of a scene with its quality preset, validated (size, quality, scene, cameras); no GL
    context needed."""
    spec = task if isinstance(task, TaskSpec) else get_task(task)
    if size <= 0:
        raise PipelineError(f"image size must be positive, got {size}")
    preset = get_quality(quality)
    model = spec.build_render_model(scene, edit=add_distractor_slot)
    known = [model.camera(i).name for i in range(model.ncam)]
    chosen = tuple(cameras) if cameras else spec.scene_camera_names(scene)
    for name in chosen:
        if name not in known:
            raise PipelineError(f"{spec.name}: unknown camera {name!r}; cameras: {', '.join(known)}")
    preset.apply(model)
    # mujoco.Renderer refuses images larger than the model's offscreen buffer: grow the buffer instead
    model.vis.global_.offwidth = max(model.vis.global_.offwidth, size)
    model.vis.global_.offheight = max(model.vis.global_.offheight, size)
    return spec, model, chosen, preset


def scene_attrs(model: mujoco.MjModel, cameras: tuple[str, ...], quality: RenderQuality, size: int,
                scene: str) -> dict[str, object]:
    """Renderer settings and camera world poses, as recorded in a frames file (no paths, no times)."""
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    attrs: dict[str, object] = {
        "scene": scene,
        "image_size": int(size),
        "cameras": list(cameras),
        "mujoco_gl": os.environ.get("MUJOCO_GL", ""),
        "mujoco_version": mujoco.__version__,
        **quality.as_attrs(model),
    }
    for name in cameras:
        attrs[f"camera.{name}.pos"] = data.cam(name).xpos.tolist()
        attrs[f"camera.{name}.xmat"] = data.cam(name).xmat.tolist()
        attrs[f"camera.{name}.fovy"] = float(model.camera(name).fovy[0])
    return attrs


class FrameRenderer:
    """Renders any number of cameras of one task's scene from full simulator states.

    It owns a private render model (the task's XML with the scene's cameras and colours), so rendering never
    touches the physics env: set the state, run forward kinematics, draw. Optional distractors edit only this model.
    """

    def __init__(
        self,
        task: str | TaskSpec,
        size: int = 256,
        quality: str = "fast",
        cameras: tuple[str, ...] | None = None,
        scene: str = "rrl",
    ):
        self.spec, self.model, self.cameras, self.quality = build_scene(task, size, quality, cameras, scene)
        self.scene = scene
        self.size = int(size)
        self.data = mujoco.MjData(self.model)
        self._renderer = mujoco.Renderer(self.model, self.size, self.size)
        self.quality.apply_scene(self._renderer.scene)
        # the model fields a distractor may edit, to restore between episodes
        self._pristine = {name: getattr(self.model, name).copy() for name in DISTRACTOR_FIELDS}
        self.distractor: Distractor | None = None

    def set_distractor(self, distractor: Distractor | None) -> None:
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
        return scene_attrs(self.model, self.cameras, self.quality, self.size, self.scene)

    def close(self) -> None:
        self._renderer.close()

    def __enter__(self) -> FrameRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
