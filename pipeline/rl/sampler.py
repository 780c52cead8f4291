"""Rollouts for NPG/DAPG and evaluation: N env workers step physics and render; the encoder service encodes.

Observation (RRL): [features of every camera, 24 hand joint positions] (vision), or Gymnasium's state vector
(the oracle, no rendering at all). Each episode is seeded on its own (env reset and action noise), and paths
come back ordered by episode, so results do not depend on how many workers ran them.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import defaultdict
from dataclasses import dataclass, field
from multiprocessing import connection
from typing import Any

import numpy as np
import torch

from pipeline.errors import PipelineError
from pipeline.procs import die_with_parent
from pipeline.tasks import get_task, make_env

PARTS = ("physics_s", "render_s", "encode_s", "policy_s")


@dataclass(frozen=True)
class ObsConfig:
    """What the policy sees."""

    mode: str = "vision"  # vision ([features, joints]) | state (the oracle: Gymnasium's state vector)
    proprio: bool = True  # vision: append the 24 hand joint positions (False: vision only)
    proprio_noise: float = 0.0  # vision: Gaussian joint noise, std as a fraction of each joint's range (RRL: 0.02)
    cameras: tuple[str, ...] = ()  # empty: the task's RRL rig
    image_size: int = 256
    quality: str = "fast"  # render preset

    def __post_init__(self) -> None:
        if self.mode not in ("vision", "state"):
            raise PipelineError(f"obs mode {self.mode!r}: use vision or state")


@dataclass
class Episode:
    """The parts of one rollout the learner needs (mjrl's path dict)."""

    index: int
    seed: int
    observations: np.ndarray  # (T, obs_dim) float32: the observation each action was taken on
    actions: np.ndarray  # (T, A)
    rewards: np.ndarray  # (T,)
    goal_achieved: np.ndarray  # (T,)
    success: bool
    times: dict[str, float] = field(default_factory=dict)


class EpisodeRunner:
    """Runs whole episodes for one worker (or in-process): env, renderer and encoder client of its own."""

    def __init__(self, task: str, obs: ObsConfig, reward_mode: str, horizon: int | None, encoder: Any = None,
                 success_rule: str = "rrl"):
        self.spec = get_task(task)
        self.obs = obs
        self.env = make_env(task, reward_mode, horizon, success_rule)
        self.encoder = encoder  # a FrameEncoder; None for state observations
        self.renderer = None
        if obs.mode == "vision":
            from pipeline.render.renderer import FrameRenderer

            self.renderer = FrameRenderer(self.spec, obs.image_size, obs.quality, obs.cameras or None)
        joints = self.env.model.jnt_range[self._proprio_joint_ids()]
        self.joint_span = (joints[:, 1] - joints[:, 0]).astype(np.float32)

    def _proprio_joint_ids(self) -> np.ndarray:
        """Joint ids of the 24 proprio qpos entries (every Adroit hand joint is a 1-dof hinge)."""
        qpos_ids = np.arange(self.spec.nq)[self.spec.proprio_slice]
        return np.array([int(np.flatnonzero(self.env.model.jnt_qposadr == q)[0]) for q in qpos_ids])

    def observe(self, obs: np.ndarray, state: dict[str, np.ndarray], rng: np.random.Generator, times: dict) -> np.ndarray:
        if self.obs.mode == "state":
            return obs.astype(np.float32)
        start = time.perf_counter()
        frames = self.renderer.render(state)
        times["render_s"] += time.perf_counter() - start
        start = time.perf_counter()
        features = self.encoder.encode(frames).reshape(-1)
        times["encode_s"] += time.perf_counter() - start
        if not self.obs.proprio:
            return features
        joints = self.spec.proprio(state["qpos"]).astype(np.float32)
        if self.obs.proprio_noise > 0:
            joints = joints + rng.normal(0.0, 1.0, joints.shape).astype(np.float32) * self.obs.proprio_noise * self.joint_span
        return np.concatenate([features, joints])

    def run(self, policy, index: int, seed: int, deterministic: bool, distractor=None) -> Episode:
        rng = np.random.default_rng([seed, 0xAC7])  # action noise and joint noise of this episode only
        times: dict[str, float] = defaultdict(float)
        if self.renderer is not None:
            self.renderer.set_distractor(distractor)
        obs = self.env.reset(seed=seed)
        observations, actions, rewards, goals = [], [], [], []
        log_std = policy.log_std.detach().numpy().astype(np.float64)
        for _ in range(self.env.horizon):
            o = self.observe(obs, self.env.get_state(), rng, times)
            start = time.perf_counter()
            action = policy.mean_action(o[None])[0].astype(np.float64)
            if not deterministic:
                action = action + np.exp(log_std) * rng.standard_normal(action.shape)
            times["policy_s"] += time.perf_counter() - start
            start = time.perf_counter()
            obs, reward, terminated, truncated, info = self.env.step(np.clip(action, -1.0, 1.0))
            times["physics_s"] += time.perf_counter() - start
            observations.append(o)
            actions.append(action)
            rewards.append(reward)
            goals.append(info["goal_achieved"])
            if terminated or truncated:
                break
        goal_flags = np.asarray(goals, dtype=bool)
        return Episode(index, seed, np.stack(observations), np.asarray(actions, np.float32), np.asarray(rewards, np.float32),
                       goal_flags, self.spec.is_success(goal_flags), dict(times))

    def close(self) -> None:
        if self.renderer is not None:
            self.renderer.close()
        if self.encoder is not None:
            self.encoder.close()
        self.env.close()


def _worker(task: str, obs: ObsConfig, reward_mode: str, horizon: int | None, endpoint, max_frames: int, conn,
            own_encoder=None, threads: int = 1, success_rule: str = "rrl") -> None:
    """Env worker process: build once, then run the episodes it is sent until told to stop."""
    die_with_parent()
    torch.set_num_threads(threads)  # 1: the policy MLP is tiny; the cores belong to rendering and the service
    encoder = None
    if endpoint is not None:
        from pipeline.service.client import ServiceClient

        encoder = ServiceClient(endpoint, max_frames)
    elif own_encoder is not None:  # the reference code's way (bench only): every env runs its own model
        from pipeline.service.client import InProcessEncoder

        encoder = InProcessEncoder(own_encoder)
    runner = EpisodeRunner(task, obs, reward_mode, horizon, encoder, success_rule)
    conn.send(("ready",))
    while True:
        message = conn.recv()
        if message[0] == "stop":
            break
        _, policy, jobs, deterministic = message
        conn.send(("done", [runner.run(policy, i, seed, deterministic, distractor) for i, seed, distractor in jobs]))
    runner.close()


class Sampler:
    """Episodes in parallel over persistent env workers that share one encoder service (workers=0: in-process)."""

    def __init__(self, task: str, obs: ObsConfig, workers: int, reward_mode: str = "rrl", horizon: int | None = None,
                 encoder_config=None, per_worker_encoder: bool = False, success_rule: str = "rrl"):
        """`per_worker_encoder` (benchmarks only): each worker encodes its own frames at batch 1, no service."""
        self.task, self.obs, self.workers = task, obs, workers
        self.spec = get_task(task)
        n_cams = len(obs.cameras or self.spec.camera_names)
        self.service = None
        self.feature_key: dict[str, str] | None = None
        if obs.mode == "vision":
            from pipeline.service import InProcessEncoder, ServiceConfig, ServiceHandle

            config = ServiceConfig(encoder_config, obs.image_size, cameras=n_cams, max_batch=max(1, workers) * n_cams,
                                   max_wait_ms=20.0)
            if workers == 0 or per_worker_encoder:
                encoder = InProcessEncoder(config)
                self.feature_key = encoder.key
            else:
                self.service = ServiceHandle(config)
                self.feature_key = self.service.key
        self._conns: list[connection.Connection] = []
        self._procs = []
        if workers == 0:
            self._local = EpisodeRunner(task, obs, reward_mode, horizon, encoder if obs.mode == "vision" else None,
                                        success_rule)
            return
        ctx = multiprocessing.get_context("spawn")
        endpoint = self.service.endpoint if self.service else None
        own = config if per_worker_encoder and obs.mode == "vision" else None
        threads = max(1, (os.cpu_count() or 1) // workers) if own is not None else 1
        for w in range(workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(task, obs, reward_mode, horizon, endpoint, n_cams, child, own, threads,
                                                          success_rule),
                               daemon=True, name=f"rrl-env-{w}")
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)
        for w in range(workers):
            self._receive(w)

    def _receive(self, w: int):
        try:
            return self._conns[w].recv()
        except (EOFError, OSError):
            code = self._procs[w].exitcode
            self.close()
            raise PipelineError(f"env worker {w} died (exit code {code}); rerun to resume from the last checkpoint") from None

    def sample(self, policy, seeds: list[int], deterministic: bool = False, distractors: list | None = None) -> list[Episode]:
        """One episode per seed, in seed order. `distractors[i]` (render-model edits) applies to episode i."""
        jobs = [(i, seed, distractors[i] if distractors else None) for i, seed in enumerate(seeds)]
        if not jobs:
            return []
        if self.workers == 0:
            return [self._local.run(policy, i, seed, deterministic, d) for i, seed, d in jobs]
        for w, conn in enumerate(self._conns):
            conn.send(("run", policy, jobs[w :: self.workers], deterministic))
        episodes = [ep for w in range(self.workers) for ep in self._receive(w)[1]]
        return sorted(episodes, key=lambda ep: ep.index)

    def close(self) -> None:
        for conn in self._conns:
            try:
                conn.send(("stop",))
            except OSError:
                pass
        for proc in self._procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
        self._conns, self._procs = [], []
        if self.service is not None:
            self.service.close()
            self.service = None
        if self.workers == 0 and hasattr(self, "_local"):
            self._local.close()

    def __enter__(self) -> "Sampler":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def time_by_part(episodes: list[Episode]) -> dict[str, float]:
    """Seconds per part summed over episodes (worker time: with N workers, wall time is about 1/N of it)."""
    return {part: float(sum(ep.times.get(part, 0.0) for ep in episodes)) for part in PARTS}
