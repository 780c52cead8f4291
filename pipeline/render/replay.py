"""The simulator states a demo's frames show: recorded states (kinematic replay) or, failing that, open loop."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.formats.episode import Episode
from pipeline.tasks.env import TaskEnv


@dataclass
class ReplayPlan:
    """States 0..T to render, and how they were obtained."""

    states: list[dict[str, np.ndarray]]
    mode: str  # "kinematic" | "open-loop"
    drift: np.ndarray | None  # open loop only: per-step |replayed obs - recorded obs| (L2)


def has_states(ep: Episode) -> bool:
    """A demo carries usable per-step states unless the source left them out (NaN rows)."""
    return bool(np.isfinite(ep.qpos).all() and np.isfinite(ep.qvel).all())


def plan_replay(ep: Episode, env: TaskEnv | None = None) -> ReplayPlan:
    """Kinematic replay when the demo has states: frame t is state t exactly, frame 0 included.

    Without states, replay the actions open-loop from the initial state (which every source has) and record
    how far the replay drifts from the recorded observations; the reference code did this for every demo and
    drifted 3 to 10 cm.
    """
    if has_states(ep):
        return ReplayPlan([ep.state_at(t) for t in range(ep.length + 1)], "kinematic", None)
    if env is None:
        raise ValueError("open-loop replay needs a physics env")
    env.reset(state=ep.state_at(0))
    states = [env.get_state()]
    observations = [env.observe()]
    for action in ep.actions:
        obs, *_ = env.step(action.astype(np.float64))
        states.append(env.get_state())
        observations.append(obs)
    drift = np.linalg.norm(np.stack(observations) - ep.obs, axis=1)
    return ReplayPlan(states, "open-loop", drift)
