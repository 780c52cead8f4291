"""Visual distractors (RRL appendix 7.5): edits of the render model only, never of the physics.

Four kinds, each a frozen dataclass of plain floats/tuples (picklable, so render workers can apply it):

- LightPosition:  moves the scene's light (direction kept), so shading and highlights shift.
- LightDirection: turns the scene's light (position kept), so the lit spot and shading shift.
- ObjectColours:  recolours the task's objects (door: frame, door, latch/handle; hammer: hammer, nail, board;
                  pen: the pen; relocate: the ball); materials are dropped so the colour shows.
- ExtraObject:    shows the hidden slot geom 'distractor_object' as a random primitive on/above the table.

`sample_distractor(kind, task, seed)` draws one per episode, reproducibly from the seed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Protocol

import mujoco
import numpy as np

from pipeline.errors import PipelineError

# Render-model fields a distractor may change; the renderer restores them before applying the next one.
DISTRACTOR_FIELDS = (
    "light_pos",
    "light_dir",
    "geom_rgba",
    "geom_matid",
    "geom_group",
    "geom_size",
    "geom_pos",
    "geom_quat",
    "geom_type",
    "geom_sameframe",
)

SLOT_BODY = "distractor_object"
HIDDEN_GROUP = 5  # MuJoCo draws geom groups 0-2 by default: a geom in group 5 is never drawn
VISIBLE_GROUPS = (0, 1, 2)

DISTRACTOR_KINDS = ("light_position", "light_direction", "object_colour", "extra_object")

# Bodies whose visible geoms ObjectColours recolours (task objects only: never the hand, table or goal marker).
TASK_OBJECT_BODIES: dict[str, tuple[str, ...]] = {
    "door": ("frame", "door", "latch"),
    "hammer": ("Object", "nail", "nail_board"),
    "pen": ("Object",),
    "relocate": ("Object",),
}

# Where ExtraObject may appear, per task: (x range, y range) on the table, world frame, metres. Chosen so
# the object stays inside every camera of the task and is not hidden behind the hand, door or board: the
# hand comes in from -y (palm at y ~ -0.27, z ~ 0.2); the door stands at y ~ 0.04, x ~ -0.13 .. 0.49, so
# in door the object lies on the hand's side; elsewhere it lies beyond the hand, seen past it.
EXTRA_OBJECT_REGIONS: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "door": ((-0.4, 0.4), (-0.4, -0.12)),
    "hammer": ((-0.3, 0.3), (0.0, 0.35)),
    "pen": ((-0.35, 0.35), (0.05, 0.35)),
    "relocate": ((-0.35, 0.35), (0.0, 0.35)),
}
EXTRA_OBJECT_MAX_LIFT = 0.15  # the object floats at most this far above resting on the table

# The Adroit scenes' single light: pos (-1, -1, 4), a spot light (cutoff 45 deg) aimed at the table.
_DEFAULT_LIGHT_POS = np.array([-1.0, -1.0, 4.0])
_DEFAULT_LIGHT_DIR = -_DEFAULT_LIGHT_POS / np.linalg.norm(_DEFAULT_LIGHT_POS)
LIGHT_DISTANCE = (2.0, 5.0)  # LightPosition: distance of the light from the workspace centre
LIGHT_POSITION_CONE_DEG = 45.0  # LightPosition: the light lies within this angle of the default's bearing
LIGHT_DIRECTION_CONE_DEG = 40.0  # LightDirection: the beam turns by at most this angle from the default
_WORKSPACE_CENTRE = np.array([0.0, 0.0, 0.0])

_GEOM_TYPES = {
    "sphere": int(mujoco.mjtGeom.mjGEOM_SPHERE),
    "capsule": int(mujoco.mjtGeom.mjGEOM_CAPSULE),
    "ellipsoid": int(mujoco.mjtGeom.mjGEOM_ELLIPSOID),
    "cylinder": int(mujoco.mjtGeom.mjGEOM_CYLINDER),
    "box": int(mujoco.mjtGeom.mjGEOM_BOX),
}
EXTRA_OBJECT_SHAPES = tuple(_GEOM_TYPES)
EXTRA_OBJECT_SIZE = (0.025, 0.07)  # radii / half-lengths of the extra object, metres


class Distractor(Protocol):
    @property
    def name(self) -> str: ...

    def apply(self, model: mujoco.MjModel) -> None: ...


def add_distractor_slot(spec: mujoco.MjSpec) -> None:
    """A hidden, collision-free geom that the `extra_object` distractor moves, reshapes and shows.

    Present in every render model so that models with and without distractors compile identically; hidden
    it draws nothing and casts no shadow, so plain frames are unchanged.
    """
    body = spec.worldbody.add_body(name=SLOT_BODY, pos=[0, 0, 0])
    body.add_geom(
        name=SLOT_BODY,
        type=mujoco.mjtGeom.mjGEOM_SPHERE,
        size=np.array([0.03, 0.03, 0.03]),
        rgba=np.array([1.0, 0.0, 0.0, 1.0]),
        group=HIDDEN_GROUP,
        contype=0,
        conaffinity=0,
    )


# --- the distractors ----------------------------------------------------------------------------------------

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class LightPosition:
    """Every light of the scene moved to `pos` (world frame); its direction is kept."""

    pos: Vec3
    name: ClassVar[str] = "light_position"

    def apply(self, model: mujoco.MjModel) -> None:
        model.light_pos[:] = np.asarray(self.pos, dtype=float)


@dataclass(frozen=True)
class LightDirection:
    """Every light of the scene aimed along the unit vector `dir`; its position is kept."""

    dir: Vec3
    name: ClassVar[str] = "light_direction"

    def apply(self, model: mujoco.MjModel) -> None:
        direction = np.asarray(self.dir, dtype=float)
        model.light_dir[:] = direction / np.linalg.norm(direction)


@dataclass(frozen=True)
class ObjectColours:
    """The visible geoms of `bodies`, in model order, take colours rgb[0], rgb[1], ... (cycling).

    Each geom keeps its own alpha; its material is dropped (geom_matid -1) so geom_rgba shows.
    """

    bodies: tuple[str, ...]
    rgb: tuple[Vec3, ...]
    name: ClassVar[str] = "object_colour"

    def apply(self, model: mujoco.MjModel) -> None:
        body_ids = set()
        for body in self.bodies:
            try:
                body_ids.add(model.body(body).id)
            except KeyError:
                raise PipelineError(f"object_colour distractor: the render model has no body {body!r}") from None
        geoms = [
            g for g in range(model.ngeom) if model.geom_bodyid[g] in body_ids and model.geom_group[g] in VISIBLE_GROUPS
        ]
        for i, g in enumerate(geoms):
            model.geom_rgba[g, :3] = self.rgb[i % len(self.rgb)]
            model.geom_matid[g] = -1


@dataclass(frozen=True)
class ExtraObject:
    """The slot geom shown as a `shape` of `size` (MuJoCo's size triple) at `pos`, turned by `quat`, in `rgb`."""

    shape: str  # one of EXTRA_OBJECT_SHAPES
    size: Vec3
    pos: Vec3
    quat: tuple[float, float, float, float]
    rgb: Vec3
    name: ClassVar[str] = "extra_object"

    def apply(self, model: mujoco.MjModel) -> None:
        if self.shape not in _GEOM_TYPES:
            raise PipelineError(f"extra_object: unknown shape {self.shape!r}; valid: {', '.join(EXTRA_OBJECT_SHAPES)}")
        try:
            g = model.geom(SLOT_BODY).id
        except KeyError:
            raise PipelineError(f"extra_object: the render model has no slot geom {SLOT_BODY!r}") from None
        # the compiler marks the slot geom as sitting at its body's frame, and kinematics then ignores geom_pos
        # and geom_quat: clear that flag so the object goes where it is put
        model.geom_sameframe[g] = mujoco.mjtSameFrame.mjSAMEFRAME_NONE
        model.geom_type[g] = _GEOM_TYPES[self.shape]
        model.geom_size[g] = self.size
        model.geom_pos[g] = self.pos
        model.geom_quat[g] = self.quat
        model.geom_rgba[g] = (*self.rgb, 1.0)
        model.geom_matid[g] = -1
        model.geom_group[g] = 0


# --- sampling -----------------------------------------------------------------------------------------------


def sample_distractor(kind: str, task: str, seed: int) -> Distractor:
    """One distractor of `kind` for `task`, a pure function of (kind, task, seed)."""
    if kind not in DISTRACTOR_KINDS:
        raise PipelineError(f"unknown distractor kind {kind!r}; valid: {', '.join(DISTRACTOR_KINDS)}")
    if task not in TASK_OBJECT_BODIES:
        raise PipelineError(f"unknown task {task!r}; valid tasks: {', '.join(TASK_OBJECT_BODIES)}")
    # the kind and task enter the seed, so kinds drawn from one episode seed are independent of each other
    task_index = list(TASK_OBJECT_BODIES).index(task)
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, DISTRACTOR_KINDS.index(kind), task_index])
    if kind == "light_position":
        bearing = _cone_sample(rng, -_DEFAULT_LIGHT_DIR, LIGHT_POSITION_CONE_DEG)
        pos = _WORKSPACE_CENTRE + rng.uniform(*LIGHT_DISTANCE) * bearing
        return LightPosition(pos=_vec3(pos))
    if kind == "light_direction":
        return LightDirection(dir=_vec3(_cone_sample(rng, _DEFAULT_LIGHT_DIR, LIGHT_DIRECTION_CONE_DEG)))
    if kind == "object_colour":
        rgb = tuple(_vec3(c) for c in rng.uniform(0.0, 1.0, size=(8, 3)))
        return ObjectColours(bodies=TASK_OBJECT_BODIES[task], rgb=rgb)
    return _sample_extra_object(rng, task)


def _sample_extra_object(rng: np.random.Generator, task: str) -> ExtraObject:
    shape = EXTRA_OBJECT_SHAPES[int(rng.integers(len(EXTRA_OBJECT_SHAPES)))]
    lo, hi = EXTRA_OBJECT_SIZE
    a, b, c = rng.uniform(lo, hi, size=3)
    if shape == "sphere":
        size, reach = (a, a, a), a
    elif shape in ("capsule", "cylinder"):
        radius = a * 0.75  # a little slimmer than long
        size, reach = (radius, b, 0.0), float(np.hypot(radius, b)) + (radius if shape == "capsule" else 0.0)
    else:  # ellipsoid radii or box half-sizes
        size = (a, b, c)
        reach = max(size) if shape == "ellipsoid" else float(np.linalg.norm(size))
    quat = rng.normal(size=4)
    quat /= np.linalg.norm(quat)
    (x0, x1), (y0, y1) = EXTRA_OBJECT_REGIONS[task]
    pos = (rng.uniform(x0, x1), rng.uniform(y0, y1), reach + rng.uniform(0.0, EXTRA_OBJECT_MAX_LIFT))
    return ExtraObject(
        shape=shape,
        size=_vec3(size),
        pos=_vec3(pos),
        quat=_quat(quat),
        rgb=_vec3(rng.uniform(0.0, 1.0, size=3)),
    )


def _cone_sample(rng: np.random.Generator, axis: np.ndarray, max_deg: float) -> np.ndarray:
    """A unit vector uniformly distributed (by solid angle) within `max_deg` of the unit vector `axis`."""
    cos_max = np.cos(np.radians(max_deg))
    cos_t = rng.uniform(cos_max, 1.0)
    sin_t = np.sqrt(1.0 - cos_t**2)
    phi = rng.uniform(0.0, 2.0 * np.pi)
    helper = np.array([1.0, 0.0, 0.0]) if abs(axis[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    u = np.cross(axis, helper)
    u /= np.linalg.norm(u)
    v = np.cross(axis, u)
    out = cos_t * axis + sin_t * (np.cos(phi) * u + np.sin(phi) * v)
    return out / np.linalg.norm(out)


def _vec3(values: Iterable[float]) -> Vec3:
    x, y, z = (float(v) for v in values)
    return x, y, z


def _quat(values: Iterable[float]) -> tuple[float, float, float, float]:
    w, x, y, z = (float(v) for v in values)
    return w, x, y, z
