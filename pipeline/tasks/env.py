"""A thin wrapper over the Gymnasium-Robotics env: our reward modes, our goal rule, full-state get/set."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np

from pipeline.errors import PipelineError
from pipeline.tasks.spec import REWARD_MODES, SUCCESS_RULES, TaskSpec


def _make_gym_env(env_id: str, horizon: int):
    import gymnasium as gym

    # gymnasium-robotics prints a notice to stderr at import: its v1 *dense* rewards changed in 1.2.1.
    # We pin 1.4.2 and say so in docs/faithfulness.md; the print would break our one-line errors, so it is muted.
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        import gymnasium_robotics

        gym.register_envs(gymnasium_robotics)
        # Always the dense variant underneath: it is a superset, our own modes are computed from the goal.
        return gym.make(env_id, max_episode_steps=horizon, reward_type="dense")


class TaskEnv:
    """Physics of one task. `step` returns the reward of the chosen mode and `info["goal_achieved"]` under the
    chosen success rule; `terminated` is True when the task failed for good (pen dropped), as mj_envs v0 did."""

    def __init__(self, spec: TaskSpec, reward_mode: str = "rrl", horizon: int | None = None,
                 success_rule: str = "rrl"):
        if reward_mode not in REWARD_MODES:
            raise PipelineError(f"unknown reward mode {reward_mode!r}; valid: {', '.join(REWARD_MODES)}")
        if success_rule not in SUCCESS_RULES:
            raise PipelineError(f"unknown success rule {success_rule!r}; valid: {', '.join(SUCCESS_RULES)}")
        self.spec = spec
        self.reward_mode = reward_mode
        self.success_rule = success_rule
        self.horizon = horizon or spec.horizon
        self._env = _make_gym_env(spec.env_id, self.horizon)
        self._raw = self._env.unwrapped
        self.action_dim = int(self._env.action_space.shape[0])
        self.t = 0

    @property
    def model(self):
        return self._raw.model

    @property
    def data(self):
        return self._raw.data

    @property
    def dt(self) -> float:
        """Seconds per env step (timestep x frame_skip)."""
        return float(self._raw.dt)

    def observe(self) -> np.ndarray:
        """The Gymnasium observation (the `state` observation of the oracle) of the current state."""
        return self._raw._get_obs()

    def reset(self, seed: int | None = None, state: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """Reset from a seed (Gymnasium's randomisation) and optionally overwrite with an exact state."""
        self._env.reset(seed=seed)
        if state is not None:
            self.set_state(state)
        self.t = 0
        return self.observe()

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (self.action_dim,):
            raise PipelineError(f"{self.spec.name}: action of shape {action.shape}, task needs ({self.action_dim},)")
        obs, gym_dense, gym_terminated, _, _ = self._raw.step(action)
        self.t += 1
        goal = self.spec.goal_achieved(self.model, self.data, self.success_rule)
        reward = self.spec.reward(self.reward_mode, goal, gym_dense, self.model, self.data)
        terminated = bool(gym_terminated) or self.spec.failed(self.model, self.data)
        truncated = self.t >= self.horizon and not terminated
        return obs, reward, terminated, truncated, {"goal_achieved": goal}

    def get_state(self) -> dict[str, np.ndarray]:
        return self.spec.get_state(self.model, self.data)

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        self.spec.set_state(self.model, self.data, state)

    def close(self) -> None:
        self._env.close()
