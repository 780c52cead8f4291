"""Visual distractors (RRL appendix 7.5): edits of the render model only, never of the physics."""

from __future__ import annotations

from typing import Protocol

import mujoco
import numpy as np

# Render-model fields a distractor may change; the renderer restores them before applying the next one.
DISTRACTOR_FIELDS = ("light_pos", "light_dir", "geom_rgba", "geom_matid", "geom_group", "geom_size", "geom_pos", "geom_type")

SLOT_BODY = "distractor_object"
HIDDEN_GROUP = 5  # MuJoCo draws geom groups 0-2 by default: a geom in group 5 is never drawn


class Distractor(Protocol):
    name: str

    def apply(self, model: mujoco.MjModel) -> None: ...


def add_distractor_slot(spec: mujoco.MjSpec) -> None:
    """A hidden, collision-free geom that the `object` distractor moves, reshapes and shows.

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
