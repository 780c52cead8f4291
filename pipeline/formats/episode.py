"""One demonstration in memory: the arrays of the demo HDF5 contract (docs/formats.md, 'Demonstrations')."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipeline.errors import PipelineError


@dataclass
class Episode:
    """T transitions; every state array has T+1 rows (state t is the one action t was taken in)."""

    actions: np.ndarray  # (T, A) float32, normalised: the env clips them to [-1, 1]
    rewards: np.ndarray  # (T,) float32, under the file's reward mode
    terminated: np.ndarray  # (T,) bool
    truncated: np.ndarray  # (T,) bool
    goal_achieved: np.ndarray  # (T,) bool, the task's per-step goal after action t
    qpos: np.ndarray  # (T+1, nq) float64
    qvel: np.ndarray  # (T+1, nv) float64
    env_state: dict[str, np.ndarray]  # key -> (T+1, ...) randomised model parameters (door_body_pos, ...)
    obs: np.ndarray  # (T+1, obs_dim) float64, the Gymnasium state observation
    seed: int = -1  # reset seed; -1 where the source does not have one
    success: bool = False
    attrs: dict[str, Any] = field(default_factory=dict)  # source-specific facts (state_origin, drift, ...)

    @property
    def length(self) -> int:
        return int(self.actions.shape[0])

    def state_at(self, t: int) -> dict[str, np.ndarray]:
        """The full simulator state at step t, in the form TaskSpec.set_state takes."""
        state = {"qpos": self.qpos[t], "qvel": self.qvel[t]}
        state.update({k: v[t] for k, v in self.env_state.items()})
        return state

    def validate(self, action_dim: int, nq: int, nv: int, where: str = "episode") -> None:
        """Shape and value checks that make a wrong-task, truncated or corrupt demo fail loudly, on writing and on
        reading, instead of rendering or training on garbage."""
        T = self.length
        if T == 0:
            raise PipelineError(f"{where}: has no steps (T = 0)")
        if self.actions.ndim != 2 or self.actions.shape[1] != action_dim:
            raise PipelineError(f"{where}: actions have shape {self.actions.shape}, the task needs (T, {action_dim})")
        expected = {
            "rewards": (T,),
            "terminated": (T,),
            "truncated": (T,),
            "goal_achieved": (T,),
            "qpos": (T + 1, nq),
            "qvel": (T + 1, nv),
        }
        for name, shape in expected.items():
            got = getattr(self, name).shape
            if got != shape:
                raise PipelineError(f"{where}: {name} has shape {got}, expected {shape}")
        if self.obs.shape[0] != T + 1:
            raise PipelineError(f"{where}: obs has {self.obs.shape[0]} rows, expected {T + 1}")
        for key, value in self.env_state.items():
            if value.shape[0] != T + 1:
                raise PipelineError(f"{where}: env_state/{key} has {value.shape[0]} rows, expected {T + 1}")
        arrays = {name: getattr(self, name) for name in _BOUNDS if name != "env_state"}
        arrays.update({f"env_state/{key}": value for key, value in self.env_state.items()})
        for name, value in arrays.items():
            check_values(value, f"{where}/{name}", _BOUNDS[name.split("/")[0]], states=name in ("qpos", "qvel"))


# |value| above these is no simulator state of an Adroit task (door's largest recorded qvel is about 110); actions
# as recorded by hand_dapg's human demos reach 1.37 (the env clips them to [-1, 1])
_BOUNDS = {"actions": 10.0, "rewards": 1e6, "qpos": 1e2, "qvel": 1e5, "obs": 1e5, "env_state": 1e2}


def check_values(value: np.ndarray, where: str, bound: float, states: bool = False) -> None:
    """Finite and within +-bound. `states` (qpos, qvel): rows 1.. all NaN is the demo format's "no per-step
    states" (open-loop replay from row 0); any other NaN is refused, never taken for that."""
    finite = np.isfinite(value)
    if states and len(value) > 1 and finite[0].all() and np.isnan(value[1:]).all():
        finite[1:] = True  # only the initial state was recorded
    if not finite.all():
        row = int(np.argwhere(~finite)[0][0])
        raise PipelineError(f"{where}: {int((~finite).sum())} NaN or infinite values (first in row {row})")
    largest = float(np.nanmax(np.abs(value))) if value.size else 0.0
    if largest > bound:
        raise PipelineError(f"{where}: values up to {largest:.3g}, outside +-{bound:g}")
