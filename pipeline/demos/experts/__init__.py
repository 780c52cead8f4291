"""Built-in scripted experts: closed-loop controllers, so that no demonstration has to be downloaded.

Each expert is `Expert(model)` with `reset(seed)` and `act(obs, state) -> action in [-1, 1]^A`; `state` is the
task's full simulator state (TaskSpec.get_state). Experts read the scene from that state with their own MjData,
never from the env, so the same expert drives a physics env, a worker process, or a replay.
"""

from __future__ import annotations

import importlib

import mujoco
import numpy as np

from pipeline.demos.rollout import Policy
from pipeline.errors import PipelineError

# task -> "module:Class"; modules are imported on demand so that one slow import never taxes the others
_EXPERTS = {
    "door": "pipeline.demos.experts.door:DoorExpert",
    "hammer": "pipeline.demos.experts.hammer:HammerExpert",
    "relocate": "pipeline.demos.experts.relocate:RelocateExpert",
}


def available_experts() -> list[str]:
    """Tasks with a scripted expert whose module is present."""
    found = []
    for task, target in _EXPERTS.items():
        try:
            importlib.import_module(target.split(":")[0])
        except ModuleNotFoundError:
            continue
        found.append(task)
    return found


def make_expert(task: str, model: mujoco.MjModel, noise_std: float = 0.0) -> Policy:
    """The scripted expert of `task`, optionally with Gaussian action noise (the VAE dataset's 'noisy' parts)."""
    if task not in available_experts():
        hint = (" (pen's demos come from a file: make_demos.source hand_dapg_human with make_demos.path the DAPG "
                "project's pen-v0_demos.pickle, or minari with a D4RL pen dataset folder; see docs/pipeline.md)"
                if task == "pen" else "")
        raise PipelineError(f"no scripted expert for task {task!r}; experts exist for: "
                            f"{', '.join(available_experts())}{hint}")
    module, cls = _EXPERTS[task].split(":")
    expert = getattr(importlib.import_module(module), cls)(model)
    return NoisyPolicy(expert, noise_std) if noise_std > 0 else expert


class NoisyPolicy:
    """Adds N(0, std^2) to every action; the noise stream is seeded by the episode seed (reproducible)."""

    def __init__(self, policy: Policy, std: float):
        self.policy, self.std = policy, std
        self._rng = np.random.default_rng(0)

    def reset(self, seed: int) -> None:
        self.policy.reset(seed)
        self._rng = np.random.default_rng([seed, 0x5EED])

    def act(self, obs: np.ndarray, state: dict[str, np.ndarray]) -> np.ndarray:
        action = np.asarray(self.policy.act(obs, state), dtype=np.float64)
        return np.clip(action + self._rng.normal(0.0, self.std, size=action.shape), -1.0, 1.0)
