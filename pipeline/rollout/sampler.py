"""Rollouts for NPG/DAPG and evaluation: N env workers step physics and render; the encoder service encodes.

Observation (RRL): [features of every camera, 24 hand joint positions] (vision), or Gymnasium's state vector
(the oracle, no rendering at all). Each episode is seeded on its own (env reset and action noise), and paths
come back ordered by episode, so results do not depend on how many workers ran them.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing import connection
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from pipeline.errors import PipelineError
from pipeline.procs import die_with_parent, stop_workers
from pipeline.render.egl import assign_egl_device
from pipeline.tasks import get_task, make_env

if TYPE_CHECKING:
    from pipeline.render.renderer import FrameRenderer
    from pipeline.service import ServiceHandle

PARTS = ("physics_s", "render_s", "encode_s", "policy_s")


@dataclass(frozen=True)
class ObsConfig:
    """What the policy sees."""

    mode: str = "vision"  # vision ([features, joints]) | state (the oracle: Gymnasium's state vector)
    proprio: bool = True  # vision: append the 24 hand joint positions (False: vision only)
    proprio_noise: float = 0.0  # vision: Gaussian joint noise, std as a fraction of each joint's range (ours; RRL adds none)
    cameras: tuple[str, ...] = ()  # empty: the scene's rig
    image_size: int = 256
    quality: str = "fast"  # render preset
    scene: str = "rrl"  # rrl | gymnasium (pipeline.tasks.scene.SCENES)

    def __post_init__(self) -> None:
        if self.mode not in ("vision", "state"):
            raise PipelineError(f"obs mode {self.mode!r}: use vision or state")


@dataclass
class Trajectory:
    """One rollout, the parts the learner needs (mjrl's path dict); a demonstration is formats.episode.Episode,
    with every simulator state."""

    index: int
    seed: int
    observations: np.ndarray  # (T, obs_dim) float32: the observation each action was taken on
    actions: np.ndarray  # (T, A)
    rewards: np.ndarray  # (T,)
    goal_achieved: np.ndarray  # (T,)
    success: bool
    times: dict[str, float] = field(default_factory=dict)


@dataclass
class _Slot:
    """One env of a runner and the episode it is in the middle of."""

    env: Any
    index: int
    seed: int
    distractor: Any
    deterministic: bool
    rng: np.random.Generator  # action noise and joint noise of this episode only
    obs: np.ndarray
    observations: list = field(default_factory=list)
    actions: list = field(default_factory=list)
    rewards: list = field(default_factory=list)
    goals: list = field(default_factory=list)
    times: dict = field(default_factory=lambda: defaultdict(float))


class EpisodeRunner:
    """Runs whole episodes for one worker (or in-process): `envs` envs stepped in lockstep with one renderer. Each
    step renders every running env's frames and encodes them in one request, so the service sees batches of
    workers x envs x cameras frames. With two encoder clients the envs form two groups that alternate (double
    buffering): while the service encodes one group's frames, the worker steps and renders the other.

    An episode's numbers depend only on its seed (its own env reset and noise stream; the policy runs row by row,
    and the encoder is batch-invariant on CPU), not on which env, group or worker ran it."""

    def __init__(self, task: str, obs: ObsConfig, reward_mode: str, horizon: int | None,
                 encoders: list | None = None, success_rule: str = "rrl", envs: int = 1):
        self.spec = get_task(task)
        self.obs = obs
        self.envs = [make_env(task, reward_mode, horizon, success_rule) for _ in range(max(1, envs))]
        self.encoders = list(encoders or [])  # FrameEncoders, one per env group; none for state observations
        groups = max(1, min(len(self.encoders), len(self.envs)))
        self.groups = [self.envs[g::groups] for g in range(groups)]
        self.renderer: FrameRenderer | None = None
        if obs.mode == "vision":
            from pipeline.render.renderer import FrameRenderer

            self.renderer = FrameRenderer(self.spec, obs.image_size, obs.quality, obs.cameras or None, obs.scene)
        joints = self.envs[0].model.jnt_range[self._proprio_joint_ids()]
        self.joint_span = (joints[:, 1] - joints[:, 0]).astype(np.float32)

    def _proprio_joint_ids(self) -> np.ndarray:
        """Joint ids of the 24 proprio qpos entries (every Adroit hand joint is a 1-dof hinge)."""
        qpos_ids = np.arange(self.spec.nq)[self.spec.proprio_slice]
        model = self.envs[0].model
        return np.array([int(np.flatnonzero(model.jnt_qposadr == q)[0]) for q in qpos_ids])

    def _submit(self, g: int, slots: list[_Slot]) -> list[dict[str, np.ndarray]]:
        """Render every slot's frames and send them to group g's encoder client; returns the states rendered."""
        if self.renderer is None:  # state observations
            return []
        renderer = self.renderer
        states = [slot.env.get_state() for slot in slots]
        frames = []
        for slot, state in zip(slots, states):
            start = time.perf_counter()
            renderer.set_distractor(slot.distractor)
            frames.append(renderer.render(state))
            slot.times["render_s"] += time.perf_counter() - start
        start = time.perf_counter()
        self.encoders[g].submit(np.concatenate(frames))
        for slot in slots:
            slot.times["encode_s"] += (time.perf_counter() - start) / len(slots)
        return states

    def _collect(self, g: int, slots: list[_Slot], states: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
        """The policy's observation for every slot of a submitted request."""
        if self.obs.mode == "state":
            return [slot.obs.astype(np.float32) for slot in slots]
        start = time.perf_counter()
        features = self.encoders[g].collect().reshape(len(slots), -1)
        share = (time.perf_counter() - start) / len(slots)  # the wait for the batch, split evenly over its envs
        observations = []
        for slot, state, feature in zip(slots, states, features):
            slot.times["encode_s"] += share
            observations.append(self._with_joints(feature, state, slot.rng))
        return observations

    def _with_joints(self, features: np.ndarray, state: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
        if not self.obs.proprio:
            return features
        joints = self.spec.proprio(state["qpos"]).astype(np.float32)
        if self.obs.proprio_noise > 0:
            joints = joints + rng.normal(0.0, 1.0, joints.shape).astype(np.float32) * self.obs.proprio_noise * self.joint_span
        return np.concatenate([features, joints])

    def _start(self, env: Any, job: tuple, deterministic: bool) -> _Slot:
        index, seed, distractor = job
        return _Slot(env, index, seed, distractor, deterministic, np.random.default_rng([seed, 0xAC7]),
                     env.reset(seed=seed))

    def _finish(self, slot: _Slot) -> Trajectory:
        goal_flags = np.asarray(slot.goals, dtype=bool)
        return Trajectory(slot.index, slot.seed, np.stack(slot.observations), np.asarray(slot.actions, np.float32),
                       np.asarray(slot.rewards, np.float32), goal_flags, self.spec.is_success(goal_flags),
                       dict(slot.times))

    def _step(self, slot: _Slot, o: np.ndarray, policy) -> bool:
        """Act on observation o and step the slot's env; True when its episode is over."""
        start = time.perf_counter()
        if slot.deterministic:
            action = policy.mean_action(o[None])[0].astype(np.float64)
        else:
            action = policy.sample(o[None], slot.rng)[0]
        slot.times["policy_s"] += time.perf_counter() - start
        start = time.perf_counter()
        slot.obs, reward, terminated, truncated, info = slot.env.step(np.clip(action, -1.0, 1.0))
        slot.times["physics_s"] += time.perf_counter() - start
        slot.observations.append(o)
        slot.actions.append(action)
        slot.rewards.append(reward)
        slot.goals.append(info["goal_achieved"])
        return bool(terminated or truncated)

    def run_many(self, policy, jobs: list[tuple], deterministic: bool) -> list[Trajectory]:
        """Every job (index, seed, distractor) as one episode, up to `envs` at a time; a finished env starts the
        next job at once. Each group in turn: collect its features, step its envs, render and submit again."""
        queue = list(reversed(jobs))
        slots = [[self._start(env, queue.pop(), deterministic) if queue else None for env in group]
                 for group in self.groups]
        episodes: list[Trajectory] = []

        def launch(g: int) -> tuple[list[_Slot], list] | None:
            """Render and submit group g's running envs; None once the group has nothing left to run."""
            running = [slot for slot in slots[g] if slot is not None]
            return (running, self._submit(g, running)) if running else None

        in_flight = [launch(g) for g in range(len(self.groups))]
        while any(in_flight):
            for g, flight in enumerate(in_flight):
                if flight is None:
                    continue
                running, states = flight
                for slot, o in zip(running, self._collect(g, running, states)):
                    if self._step(slot, o, policy):
                        episodes.append(self._finish(slot))
                        i = slots[g].index(slot)
                        slots[g][i] = self._start(slot.env, queue.pop(), deterministic) if queue else None
                in_flight[g] = launch(g)
        return in_episode_order(episodes)

    def close(self) -> None:
        if self.renderer is not None:
            self.renderer.close()
        for encoder in self.encoders:
            encoder.close()
        for env in self.envs:
            env.close()


@dataclass(frozen=True)
class ServiceClients:
    """How a worker reaches its encoder: one client of the service (its own segment, one request in flight) per env
    group. Picklable, built in the worker; a benchmark hands workers another way (pipeline/bench/sample.py)."""

    endpoint: Any
    max_frames: int
    groups: int

    def __call__(self) -> list:
        from pipeline.service.client import ServiceClient

        return [ServiceClient(self.endpoint, self.max_frames) for _ in range(self.groups)]


def _worker(task: str, obs: ObsConfig, reward_mode: str, horizon: int | None, make_encoders: Callable[[], list] | None,
            conn, success_rule: str = "rrl", envs: int = 1, index: int = 0) -> None:
    """Env worker process `index`: build once, then run the episodes it is sent until told to stop."""
    die_with_parent()
    assign_egl_device(index)  # several GPUs: workers render round-robin on them
    torch.set_num_threads(1)  # the policy MLP is tiny; the cores belong to rendering and the service
    encoders = make_encoders() if make_encoders is not None else []
    runner = EpisodeRunner(task, obs, reward_mode, horizon, encoders, success_rule, envs)
    conn.send(("ready",))
    while True:
        message = conn.recv()
        if message[0] == "stop":
            break
        _, policy, jobs, deterministic = message
        conn.send(("done", runner.run_many(policy, jobs, deterministic)))
    runner.close()


def encodes_on_cuda(encoder_config) -> bool:
    from pipeline.encoders.encoder import EncoderConfig, resolve_device

    return isinstance(encoder_config, EncoderConfig) and resolve_device(encoder_config.device).type == "cuda"


class Sampler:
    """Episodes in parallel over persistent env workers that share one encoder service (workers=0: in-process),
    each worker stepping `envs_per_worker` envs in lockstep, as one group or as two alternating ones
    (`double_buffer`: one group renders while the service encodes the other's frames)."""

    def __init__(self, task: str, obs: ObsConfig, workers: int, reward_mode: str = "rrl", horizon: int | None = None,
                 encoder_config=None, success_rule: str = "rrl", envs_per_worker: int = 1,
                 double_buffer: bool | str = False):
        """`encoder_config`: an EncoderConfig (or a benchmark's stand-in, pipeline/service's EncoderSource).
        `double_buffer="auto"`: on where the service's encoder runs on CUDA and every worker has two envs or more,
        off elsewhere (on a CPU the encoder shares the cores with rendering, so there is little to overlap:
        docs/benchmarks.md)."""
        if envs_per_worker < 1:
            raise PipelineError(f"envs_per_worker must be >= 1, not {envs_per_worker}")
        if double_buffer == "auto":
            double_buffer = envs_per_worker >= 2 and encodes_on_cuda(encoder_config)
        if double_buffer and envs_per_worker < 2:
            raise PipelineError("double_buffer needs envs_per_worker >= 2 (two groups of envs)")
        # two groups need the service (in-process there is nothing to overlap with)
        groups = 2 if double_buffer and workers > 0 and obs.mode == "vision" else 1
        self.double_buffered = groups == 2
        self.task, self.obs, self.workers, self.envs_per_worker = task, obs, workers, envs_per_worker
        self.spec = get_task(task)
        n_cams = len(obs.cameras or self.spec.camera_names)
        self.service: ServiceHandle | None = None
        self.feature_key: dict[str, str] | None = None
        if obs.mode == "vision":
            from pipeline.service import InProcessEncoder, ServiceConfig

            # one forward pass holds up to one step of every env of every worker; double-buffered, a batch never
            # waits for stragglers (the other group keeps the worker busy, and an idle encoder is the loss)
            config = ServiceConfig(encoder_config, obs.image_size, cameras=n_cams,
                                   max_batch=max(1, workers) * envs_per_worker * n_cams,
                                   max_wait_ms=0.0 if groups == 2 else 20.0)
            if workers == 0:
                encoder = InProcessEncoder(config)
                self.feature_key = encoder.key
            else:
                self.feature_key = self._start_encoding(config)
        self._conns: list[connection.Connection] = []
        self._procs = []
        if workers == 0:
            self._local = EpisodeRunner(task, obs, reward_mode, horizon, [encoder] if obs.mode == "vision" else [],
                                        success_rule, envs_per_worker)
            return
        ctx = multiprocessing.get_context("spawn")
        max_frames = -(-envs_per_worker // groups) * n_cams  # the larger group's frames of one step
        make_encoders = self._worker_encoders(config, groups, max_frames) if obs.mode == "vision" else None
        for w in range(workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(task, obs, reward_mode, horizon, make_encoders, child, success_rule,
                                                     envs_per_worker, w),
                               daemon=True, name=f"rrl-env-{w}")
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)
        for w in range(workers):
            self._receive(w)

    def _start_encoding(self, config) -> dict[str, str]:
        """Start what the workers encode through (the service); the feature key. A benchmark overrides it."""
        from pipeline.service import ServiceHandle

        service = self.service = ServiceHandle(config)
        return service.key

    def _worker_encoders(self, config, groups: int, max_frames: int) -> Callable[[], list]:
        """What each worker builds its encoders with (clients of the service). A benchmark overrides it."""
        assert self.service is not None  # started by _start_encoding
        return ServiceClients(self.service.endpoint, max_frames, groups)

    def _receive(self, w: int):
        try:
            return self._conns[w].recv()
        except (EOFError, OSError):
            code = self._procs[w].exitcode
            self.close()
            raise PipelineError(f"env worker {w} died (exit code {code}); rerun to resume from the last checkpoint") from None

    def sample(self, policy, seeds: list[int], deterministic: bool = False, distractors: list | None = None) -> list[Trajectory]:
        """One episode per seed, in seed order. `distractors[i]` (render-model edits) applies to episode i."""
        jobs = episode_jobs(seeds, distractors)
        if not jobs:
            return []
        if self.workers == 0:
            return self._local.run_many(policy, jobs, deterministic)
        for w, conn in enumerate(self._conns):
            conn.send(("run", policy, jobs[w :: self.workers], deterministic))
        return in_episode_order(ep for w in range(self.workers) for ep in self._receive(w)[1])

    def service_stats(self) -> dict[str, float] | None:
        """The encoder service's counters (batches, frames, encode_s), or None without a service."""
        return self.service.stats() if self.service is not None else None

    def close(self) -> None:
        stop_workers(self._conns, self._procs, ("stop",))
        self._conns, self._procs = [], []
        if self.service is not None:
            self.service.close()
            self.service = None
        if self.workers == 0 and hasattr(self, "_local"):
            self._local.close()

    def __enter__(self) -> Sampler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def episode_jobs(seeds: list[int], distractors: list | None) -> list[tuple]:
    """The (index, seed, distractor) jobs of one sampling call; worker w of W runs jobs w, w + W, ... (either backend)."""
    return [(i, seed, distractors[i] if distractors else None) for i, seed in enumerate(seeds)]


def in_episode_order(episodes) -> list[Trajectory]:
    return sorted(episodes, key=lambda ep: ep.index)


def time_by_part(episodes: list[Trajectory]) -> dict[str, float]:
    """Seconds per part summed over episodes (worker time: with N workers, wall time is about 1/N of it)."""
    return {part: float(sum(ep.times.get(part, 0.0) for ep in episodes)) for part in PARTS}
