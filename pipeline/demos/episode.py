"""One demonstration in memory: the arrays of the demo HDF5 contract (README, 'Demonstrations')."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Episode:
    """T transitions; every state array has T+1 rows (state t is the one action t was taken in)."""

    actions: np.ndarray  # (T, A) float32, in [-1, 1]
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
        """Shape checks that make a wrong-task or truncated demo fail loudly instead of rendering garbage."""
        from pipeline.errors import PipelineError

        T = self.length
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
