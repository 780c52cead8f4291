"""The sampler of a backend: `local` (env worker processes and the encoder service on this machine) or `ray`
(the same workers and service as Ray actors, on a local Ray instance or a cluster: ray_sampler.py)."""

from __future__ import annotations

from typing import Any

from pipeline.cluster import RayConfig, check_backend
from pipeline.rollout.sampler import ObsConfig, Sampler


def make_sampler(backend: str, task: str, obs: ObsConfig, workers: int, reward_mode: str, horizon: int | None,
                 encoder_config: Any, success_rule: str, envs_per_worker: int, double_buffer: bool | str,
                 ray_config: RayConfig | None = None) -> Any:
    """A Sampler or a RaySampler: the same episodes from the same seeds, either way."""
    check_backend("sampler", backend)
    if backend == "ray":
        from pipeline.rollout.ray_sampler import RaySampler

        return RaySampler(task, obs, workers, reward_mode, horizon, encoder_config, success_rule=success_rule,
                          envs_per_worker=envs_per_worker, double_buffer=double_buffer, ray_config=ray_config)
    return Sampler(task, obs, workers, reward_mode, horizon, encoder_config, success_rule=success_rule,
                   envs_per_worker=envs_per_worker, double_buffer=double_buffer)
