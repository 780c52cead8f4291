"""The reward signals of each task: the `rrl` reward and the quantities it is made of, per simulator state.

They label the VAE image dataset (render_vae_data) and are what the reward-induced encoder learns to predict (the
CLVR study's reward prediction, with several reward heads). Door's are the ones the issue names: the hinge
angle, the latch angle and the palm-to-handle distance; the other tasks get their rewards' own terms (RRL's
fork: hammer the nail's distance to its goal, pen the orientation similarity and the distance to the goal ball,
relocate the object-to-target distance) and the hand's distance to the object it must take.
Pure functions of (model, data) after mj_forward, like every reward of spec.py.
"""

from __future__ import annotations

from collections.abc import Callable

import mujoco
import numpy as np

from pipeline.tasks.spec import _door_hinge, _nail_distance, _object_target_distance, _pen_distance_similarity, get_task

Signal = Callable[[mujoco.MjData], float]


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


# per task: the signals after `rrl`, in order (names are what the files and plots show)
SIGNALS: dict[str, tuple[tuple[str, Signal], ...]] = {
    "door": (
        ("hinge", _door_hinge),
        ("latch", lambda d: float(d.joint("latch").qpos[0])),
        ("palm_handle", lambda d: _distance(d.site("S_grasp").xpos, d.site("S_handle").xpos)),
    ),
    "hammer": (
        ("nail_goal", _nail_distance),
        ("palm_hammer", lambda d: _distance(d.site("S_grasp").xpos, d.body("Object").xpos)),
        ("hammer_nail", lambda d: _distance(d.site("tool").xpos, d.site("S_target").xpos)),
    ),
    "pen": (
        ("orientation", lambda d: _pen_distance_similarity(d)[1]),
        ("pen_goal", lambda d: _pen_distance_similarity(d)[0]),
    ),
    "relocate": (
        ("object_target", _object_target_distance),
        ("palm_object", lambda d: _distance(d.site("S_grasp").xpos, d.body("Object").xpos)),
        ("object_height", lambda d: float(d.body("Object").xpos[2])),
    ),
}


def signal_names(task: str) -> tuple[str, ...]:
    get_task(task)  # an unknown task: the one-line error naming the valid ones
    return ("rrl", *(name for name, _ in SIGNALS[task]))


def reward_signals(task: str, model: mujoco.MjModel, data: mujoco.MjData) -> np.ndarray:
    """(K,) float64 in signal_names(task) order, for the state in `data` (positions up to date)."""
    spec = get_task(task)
    return np.array([spec.rrl_reward_fn(model, data), *(fn(data) for _, fn in SIGNALS[task])])
