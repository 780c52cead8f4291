"""Roll a closed-loop policy out in a task env and record every state (for exact re-rendering later)."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from pipeline.formats.episode import Episode
from pipeline.tasks.env import TaskEnv


class Policy(Protocol):
    """A closed-loop controller: the scripted experts, a hand_dapg expert, a trained policy."""

    def reset(self, seed: int) -> None: ...

    def act(self, obs: np.ndarray, state: dict[str, np.ndarray]) -> np.ndarray: ...


class RandomPolicy:
    """Uniform actions in [-1, 1], seeded per episode: the VAE dataset's random part, benches, tests."""

    def __init__(self, action_dim: int):
        self.action_dim = action_dim
        self._rng = np.random.default_rng(0)

    def reset(self, seed: int) -> None:
        self._rng = np.random.default_rng([seed, 0xA11])

    def act(self, obs: np.ndarray, state: dict[str, np.ndarray]) -> np.ndarray:
        return self._rng.uniform(-1.0, 1.0, self.action_dim)


class ActionReplay:
    """Recorded actions played back open loop, one per step (RRL's convertDemos.py)."""

    def __init__(self, actions: np.ndarray):
        self.actions = np.asarray(actions, dtype=np.float64)
        self.t = 0

    def reset(self, seed: int) -> None:
        self.t = 0

    def act(self, obs: np.ndarray, state: dict[str, np.ndarray]) -> np.ndarray:
        self.t += 1
        return self.actions[self.t - 1]


def rollout(env: TaskEnv, policy: Policy, seed: int, horizon: int | None = None,
            state: dict[str, np.ndarray] | None = None) -> Episode:
    """One episode from `env.reset(seed)` (then `state`, if given), actions clipped to [-1, 1] as the env does."""
    horizon = horizon or env.horizon
    obs = env.reset(seed=seed, state=state)
    policy.reset(seed)
    states = [env.get_state()]
    observations = [obs]
    actions, rewards, goals, terminated, truncated = [], [], [], [], []
    for _ in range(horizon):
        action = np.clip(np.asarray(policy.act(obs, states[-1]), dtype=np.float64), -1.0, 1.0)
        obs, reward, term, trunc, info = env.step(action)
        actions.append(action)
        rewards.append(reward)
        goals.append(info["goal_achieved"])
        terminated.append(term)
        truncated.append(trunc)
        states.append(env.get_state())
        observations.append(obs)
        if term:
            break
    truncated[-1] = truncated[-1] or not terminated[-1]  # an episode cut at the horizon is truncated
    goal_flags = np.asarray(goals, dtype=bool)
    return Episode(
        actions=np.asarray(actions, dtype=np.float32),
        rewards=np.asarray(rewards, dtype=np.float32),
        terminated=np.asarray(terminated, dtype=bool),
        truncated=np.asarray(truncated, dtype=bool),
        goal_achieved=goal_flags,
        qpos=np.stack([s["qpos"] for s in states]),
        qvel=np.stack([s["qvel"] for s in states]),
        env_state={k: np.stack([s[k] for s in states]) for k in states[0] if k not in ("qpos", "qvel")},
        obs=np.stack(observations),
        seed=seed,
        success=env.spec.is_success(goal_flags),
        attrs={"state_origin": "simulated"},
    )
