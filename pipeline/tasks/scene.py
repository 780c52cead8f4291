"""Scenes: the cameras and the render-only look of a task's scene (colours, shadows), never its physics.

Scene `rrl` is what RRL's mj_envs fork (github.com/ShahRutav/mj_envs, branch rrl) rendered, the paper's; `gymnasium`
is Gymnasium-Robotics' scene as shipped. Each TaskSpec names its cameras and look per scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from pipeline.errors import PipelineError

# rrl: RRL's fork's cameras and render-only edits (what the paper trained and scored with); gymnasium: Gymnasium's
# scene as shipped, with the project's earlier camera rig (relocate: vil_camera, top, side). Physics is the same.
SCENES = ("rrl", "gymnasium")

RGBA = tuple[float, float, float, float]


@dataclass(frozen=True)
class CameraSpec:
    """One camera of a task's rig. With no pose given, the model's own camera of that name is used as is."""

    name: str
    pos: tuple[float, float, float] | None = None
    euler: tuple[float, float, float] | None = None  # MuJoCo's default 'xyz' intrinsic euler, radians
    lookat: tuple[float, float, float] | None = None  # alternative to euler: aim the camera at a point


@dataclass(frozen=True)
class Look:
    """Render-only edits of a scene: colours and shadows, never a physical property, so either look steps alike."""

    geom_rgba: tuple[tuple[str, RGBA], ...] = ()  # named geom -> colour (its material dropped, as RRL's fork did)
    body_rgba: tuple[tuple[str, RGBA], ...] = ()  # every geom of a body -> colour (RRL: the relocate table)
    site_rgba: tuple[tuple[str, RGBA], ...] = ()
    shadows: bool = True  # False: no light casts a shadow

    def apply(self, spec: mujoco.MjSpec) -> None:
        for name, rgba in self.geom_rgba:
            geom = spec.geom(name)
            geom.material, geom.rgba = "", np.asarray(rgba, dtype=float)
        for name, rgba in self.body_rgba:
            for geom in spec.body(name).geoms:
                geom.rgba = np.asarray(rgba, dtype=float)  # an rgba other than the default outranks the material
        for name, rgba in self.site_rgba:
            spec.site(name).rgba = np.asarray(rgba, dtype=float)
        if not self.shadows:
            for light in spec.lights:
                light.castshadow = False


def check_scene(scene: str) -> None:
    if scene not in SCENES:
        raise PipelineError(f"unknown scene {scene!r}; valid: {', '.join(SCENES)}")


def apply_camera(spec: mujoco.MjSpec, cam: CameraSpec) -> None:
    existing = {c.name: c for c in spec.cameras}
    if cam.pos is None:
        if cam.name not in existing:
            raise PipelineError(f"camera {cam.name!r} is not in the model; model cameras: {', '.join(existing)}")
        return
    target = existing.get(cam.name) or spec.worldbody.add_camera(name=cam.name)
    target.pos = np.asarray(cam.pos, dtype=float)
    if cam.lookat is not None:
        target.quat = lookat_quat(np.asarray(cam.pos, float), np.asarray(cam.lookat, float))
    elif cam.euler is not None:
        quat = np.zeros(4)
        mujoco.mju_euler2Quat(quat, np.asarray(cam.euler, dtype=float), "xyz")
        target.quat = quat


def lookat_quat(pos: np.ndarray, lookat: np.ndarray) -> np.ndarray:
    """Orientation of a MuJoCo camera (looks along -z, y up) at `pos` aimed at `lookat`, world z up."""
    forward = lookat - pos
    forward /= np.linalg.norm(forward)
    z_axis = -forward
    x_axis = np.cross(np.array([0.0, 0.0, 1.0]), z_axis)
    x_axis /= np.linalg.norm(x_axis)
    y_axis = np.cross(z_axis, x_axis)
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, np.stack([x_axis, y_axis, z_axis], axis=1).ravel())
    return quat
