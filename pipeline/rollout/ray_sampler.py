"""The sampler on Ray (backend ray): env workers as Ray actors (one CPU each), the encoder service as a Ray actor
(on a GPU node where the cluster has one), frames and features through Ray's object store. Each env actor runs
the local backend's EpisodeRunner unchanged, so an episode depends only on its seed, and the episodes come back
in episode order: the same seeds give the same episodes as the local backend.

Faults: an env actor that dies (its node lost, the process killed) is restarted by Ray and its run retried
(`max_restarts`, `max_task_retries`): its episodes rerun from their seeds, so the result is the same. The service
actor is not restarted: its death ends the sampling in one line, and training resumes from its last checkpoint.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from pipeline.cluster import RayConfig, actor_failure, connect, encoder_gpus, gpus_in_cluster, require
from pipeline.errors import PipelineError
from pipeline.render.egl import assign_egl_device
from pipeline.rollout.sampler import EpisodeRunner, ObsConfig, Trajectory, episode_jobs, in_episode_order
from pipeline.tasks import get_task

ENV_ACTOR_RESTARTS = 3  # per env actor: a worker that keeps dying (a bad node) fails the run after this many


class EnvWorkerActor:
    """One env worker (the actor's class, wrapped by ray.remote in RaySampler): EpisodeRunner with one Ray service
    client per env group."""

    def __init__(self, task: str, obs: ObsConfig, reward_mode: str, horizon: int | None, service_name: str | None,
                 dim: int, success_rule: str, envs: int, groups: int, index: int):
        import ray

        from pipeline.service.ray_service import RayServiceClient

        assign_egl_device(index)
        torch.set_num_threads(1)  # as the local worker: the policy MLP is tiny
        service = ray.get_actor(service_name) if service_name is not None else None  # a restarted actor finds it again
        encoders = [RayServiceClient(service, dim) for _ in range(groups)] if service is not None else []
        self.runner = EpisodeRunner(task, obs, reward_mode, horizon, encoders, success_rule, envs)

    def pid(self) -> int:
        return os.getpid()

    def run(self, policy, jobs: list[tuple], deterministic: bool) -> list[Trajectory]:
        return self.runner.run_many(policy, jobs, deterministic)


class RaySampler:
    """The Sampler's interface (sample, feature_key, service_stats, close) over Ray actors."""

    def __init__(self, task: str, obs: ObsConfig, workers: int, reward_mode: str = "rrl", horizon: int | None = None,
                 encoder_config=None, success_rule: str = "rrl", envs_per_worker: int = 1,
                 double_buffer: bool | str = False, ray_config: RayConfig | None = None):
        if workers < 1:
            raise PipelineError("backend ray runs env workers as actors: workers must be >= 1")
        if envs_per_worker < 1:
            raise PipelineError(f"envs_per_worker must be >= 1, not {envs_per_worker}")
        if double_buffer and double_buffer != "auto" and envs_per_worker < 2:
            raise PipelineError("double_buffer needs envs_per_worker >= 2 (two groups of envs)")
        cfg = ray_config or RayConfig()
        vision = obs.mode == "vision"
        self.task, self.obs, self.workers, self.envs_per_worker = task, obs, workers, envs_per_worker
        self.spec = get_task(task)
        self.services: list[Any] = []
        self.actors: list[Any] = []
        self.feature_key: dict[str, str] | None = None
        service_cpus = cfg.encoder_cpus if vision else 0.0
        self.ray = connect(cfg, cpus_needed=workers + service_cpus * max(1, cfg.services))
        n_services = min(workers, cfg.services or max(1, gpus_in_cluster())) if vision else 0
        service_gpus = encoder_gpus(cfg, getattr(encoder_config, "device", "cpu")) if vision else 0.0
        if double_buffer == "auto":  # where the service has a GPU: on the cluster, not on this driver
            double_buffer = envs_per_worker >= 2 and service_gpus > 0
        groups = 2 if double_buffer and vision else 1
        self.double_buffered = groups == 2
        require(workers + n_services * service_cpus, n_services * service_gpus,
                f"{workers} env actors" + (f" and {n_services} encoder service(s)" if vision else ""))
        if vision:
            self._start_services(encoder_config, n_services, groups, service_cpus, service_gpus)
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        actor_class = self.ray.remote(EnvWorkerActor)
        restarts = {"num_cpus": 1, "max_restarts": ENV_ACTOR_RESTARTS, "max_task_retries": ENV_ACTOR_RESTARTS}
        for w in range(workers):
            if not vision:
                self.actors.append(actor_class.options(**restarts).remote(
                    task, obs, reward_mode, horizon, None, 0, success_rule, envs_per_worker, groups, w))
                continue
            service = self.services[w % n_services]
            # beside its service where that node has room (its frames then never cross the network), else anywhere
            beside = NodeAffinitySchedulingStrategy(service.node_id, soft=True)
            self.actors.append(actor_class.options(**restarts, scheduling_strategy=beside).remote(
                task, obs, reward_mode, horizon, service.name, service.dim, success_rule, envs_per_worker, groups, w))
        for w, actor in enumerate(self.actors):
            self._get(w, actor.pid.remote())  # built (or one line on why not)

    def _start_services(self, encoder_config, n_services: int, groups: int, cpus: float, gpus: float) -> None:
        """Service s serves env actors s, s + n_services, ...: its batch holds one step of each of their envs."""
        from pipeline.service.ray_service import RayServiceHandle
        from pipeline.service.server import ServiceConfig

        n_cams = len(self.obs.cameras or self.spec.camera_names)
        for s in range(n_services):
            actors = len(range(s, self.workers, n_services))
            config = ServiceConfig(encoder_config, self.obs.image_size, cameras=n_cams,
                                   max_batch=actors * self.envs_per_worker * n_cams,
                                   max_wait_ms=0.0 if groups == 2 else 20.0)
            self.services.append(RayServiceHandle(config, actors * groups, cpus, gpus))
        keys = [service.key for service in self.services]
        if any(key != keys[0] for key in keys):  # e.g. precision auto on nodes with and without bf16
            self.close()
            raise PipelineError("the encoder services run different encoders (precision auto resolved differently "
                                "on their nodes): set encode.precision and encode.device explicitly")
        self.feature_key = keys[0]

    def _get(self, w: int, ref: Any) -> Any:
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayError as exc:
            if any(not service.alive() for service in self.services):
                self.close()
                raise PipelineError("the encoder service actor died; rerun to resume from the last checkpoint") from None
            self.close()
            raise PipelineError(f"env worker actor {w} failed: {actor_failure(exc)}") from None

    def sample(self, policy, seeds: list[int], deterministic: bool = False, distractors: list | None = None) -> list[Trajectory]:
        """One episode per seed, in seed order; worker w runs jobs w, w + workers, ... as the local backend."""
        jobs = episode_jobs(seeds, distractors)
        if not jobs:
            return []
        policy_ref = self.ray.put(policy)  # one copy in the object store, read by every actor
        refs = [actor.run.remote(policy_ref, jobs[w :: self.workers], deterministic)
                for w, actor in enumerate(self.actors)]
        return in_episode_order(ep for w, ref in enumerate(refs) for ep in self._get(w, ref))

    def service_stats(self) -> dict[str, float] | None:
        """The services' counters, summed (None for state observations)."""
        if not self.services:
            return None
        counters = [service.stats() for service in self.services]
        return {k: sum(c[k] for c in counters) for k in counters[0]}

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor, no_restart=True)
        self.actors = []
        for service in self.services:
            service.close()
        self.services = []

    def __enter__(self) -> RaySampler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
