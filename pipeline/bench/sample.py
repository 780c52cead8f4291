"""`rrl-pipe bench sample`: env-steps/s of the vision sampler with the encoder service, in one run against
  - the ceilings, each measured alone with the same workers: rendering (N processes drawing the same scene),
    encoding (the encoder at the service's batch size), physics (the state sampler: step + policy, no pixels);
    the bound they allow is 1 / (1/render + 1/encode + 1/physics) on a CPU, where the parts share the cores,
    and min(render, encode, physics) on a GPU machine;
  - one env per worker (the design before `envs_per_worker`): the service sees one step of each worker at a time;
  - the reference way: every env worker encodes its own frame at batch 1 inside its step (no service);
and the NPG + value update on 40,000 samples of the sampler's observation size against the time the sampler
needs to collect them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from pipeline.bench.common import median_of, table
from pipeline.bench.render import _ceiling_rate
from pipeline.bench.synthetic import SyntheticEncoderConfig
from pipeline.encoders.encoder import Encoder, EncoderConfig
from pipeline.encoders.registry import get_encoder_spec
from pipeline.errors import PipelineError
from pipeline.rl.baseline import MLPBaseline
from pipeline.rl.gae import compute_advantages, compute_returns
from pipeline.rl.npg import npg_step
from pipeline.rl.policy import GaussianMLPPolicy
from pipeline.rollout.sampler import ObsConfig, Sampler
from pipeline.service import InProcessEncoder, ServiceConfig
from pipeline.tasks import get_task, make_env

if TYPE_CHECKING:
    from pipeline.rollout.ray_sampler import RaySampler


class PerWorkerEncoderSampler(Sampler):
    """The reference code's way: no service, every worker runs its own copy of the model on its own frames."""

    def _start_encoding(self, config: ServiceConfig) -> dict[str, str]:
        return InProcessEncoder(config).key

    def _worker_encoders(self, config: ServiceConfig, groups: int, max_frames: int) -> OwnEncoder:
        if groups != 1:
            raise PipelineError("the per-worker encoder has nothing to double-buffer against")
        return OwnEncoder(config, threads=max(1, (os.cpu_count() or 1) // self.workers))


@dataclass(frozen=True)
class OwnEncoder:
    """Built in each worker: its own in-process encoder, with the worker's share of the cores for its threads."""

    config: ServiceConfig
    threads: int

    def __call__(self) -> list[InProcessEncoder]:
        torch.set_num_threads(self.threads)
        return [InProcessEncoder(self.config)]


def _sampler_rate(task: str, obs: ObsConfig, workers: int, episodes: int, horizon: int, encoder, per_worker: bool = False,
                  envs_per_worker: int = 1, double_buffer: bool = False, counters: dict | None = None,
                  backend: str = "local", ray_config=None) -> float:
    """Steps/s of one sampling call after a warm-up; `counters` (if given) gets the service's frames per batch.
    backend ray: the same workers as Ray actors (bench ray)."""
    spec = get_task(task)
    if obs.mode == "state":
        obs_dim = make_env(task).observe().shape[0]
    elif isinstance(encoder, SyntheticEncoderConfig):
        obs_dim = len(obs.cameras or spec.camera_names) * encoder.dim + 24
    else:
        obs_dim = (
            len(obs.cameras or spec.camera_names) * get_encoder_spec(encoder.model).feature_dim(encoder.layer or "pool") + 24
        )
    sampler: Sampler | RaySampler
    if backend == "ray":
        from pipeline.rollout.ray_sampler import RaySampler

        sampler = RaySampler(task, obs, workers, horizon=horizon, encoder_config=encoder,
                             envs_per_worker=envs_per_worker, double_buffer=double_buffer, ray_config=ray_config)
    else:
        kind = PerWorkerEncoderSampler if per_worker else Sampler
        sampler = kind(task, obs, workers, horizon=horizon, encoder_config=encoder, envs_per_worker=envs_per_worker,
                       double_buffer=double_buffer)
    with sampler:
        policy = GaussianMLPPolicy(obs_dim, spec.action_dim)
        sampler.sample(policy, [999] * max(1, workers) * envs_per_worker)  # warm-up: workers, renderers, service
        before = sampler.service_stats()
        start = time.perf_counter()
        episodes_out = sampler.sample(policy, list(range(episodes)))
        rate = sum(len(ep.actions) for ep in episodes_out) / (time.perf_counter() - start)
        after = sampler.service_stats()
    if counters is not None and before is not None and after is not None:
        batches = after["batches"] - before["batches"]
        counters["frames_per_batch"] = (after["frames"] - before["frames"]) / max(1, batches)
    return rate


def _encode_rate(encoder: Encoder, batch: int, image_size: int, seconds: float = 3.0) -> float:
    frames = np.random.default_rng(0).integers(0, 255, (batch, image_size, image_size, 3), dtype=np.uint8)
    encoder.encode(frames)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        encoder.encode(frames)
        n += batch
    return n / (time.perf_counter() - start)


def _update_seconds(obs_dim: int, act_dim: int, samples: int, horizon: int = 200) -> float:
    """NPG (DAPG) step + GAE + value fit on `samples` synthetic samples: the learner's share of an iteration."""
    rng = np.random.default_rng(0)
    paths = [{"observations": rng.normal(size=(horizon, obs_dim)).astype(np.float32),
              "actions": rng.normal(size=(horizon, act_dim)).astype(np.float32),
              "rewards": rng.normal(size=horizon).astype(np.float32)} for _ in range(samples // horizon)]
    policy = GaussianMLPPolicy(obs_dim, act_dim)
    baseline = MLPBaseline(obs_dim)
    n_demo = min(5000, samples)  # 25 demos of 200 steps, as the default door demos
    demo = (rng.normal(size=(n_demo, obs_dim)).astype(np.float32), rng.normal(size=(n_demo, act_dim)).astype(np.float32))
    start = time.perf_counter()
    compute_returns(paths, 0.995)
    compute_advantages(paths, baseline, 0.995, 0.97)
    cat = lambda key: np.concatenate([p[key] for p in paths])  # noqa: E731
    npg_step(policy, cat("observations"), cat("actions"), cat("advantages"), demo=demo, demo_weight=0.01)
    baseline.fit(paths)
    return time.perf_counter() - start


def bench_sample(task: str, model: str, workers: int, episodes: int, horizon: int, image_size: int, quality: str,
                 repeats: int, echo: Callable[[str], None] = print, samples: int = 40_000, envs_per_worker: int = 4,
                 double_buffer: bool = False, synthetic: str = "") -> dict[str, float]:
    """`synthetic` ("BASE_MS,PER_FRAME_MS"): the service answers after that modelled GPU latency instead of running
    `model`, so the sampler is measured as if encoding were nearly free, against the render + physics ceiling."""
    encoder_cfg = SyntheticEncoderConfig.parse(synthetic) if synthetic else EncoderConfig(model=model, weights="random")
    obs = ObsConfig(mode="vision", image_size=image_size, quality=quality)
    spec = get_task(task)
    n_cams = len(spec.camera_names)
    steps = episodes * horizon
    envs = envs_per_worker
    design = f"{envs} envs per worker" + (", double-buffered" if double_buffer else "")

    def rate(counters: dict | None = None, **kw) -> float:
        return median_of(repeats, lambda: _sampler_rate(task, obs, workers, episodes, horizon, encoder_cfg,
                                                       counters=counters, **kw))

    ours_counters: dict[str, float] = {}
    one_counters: dict[str, float] = {}
    ours = rate(ours_counters, envs_per_worker=envs, double_buffer=double_buffer)
    echo(f"  sampler + service, {design}: {ours:.1f} steps/s, {ours_counters.get('frames_per_batch', 0):.1f} frames per batch")
    one_env = rate(one_counters)
    echo(f"  sampler + service, 1 env per worker: {one_env:.1f} steps/s, "
         f"{one_counters.get('frames_per_batch', 0):.1f} frames per batch")
    reference = None
    if not synthetic:  # the reference code's way needs a real model in every worker
        reference = rate(per_worker=True)
        echo(f"  reference (per-env batch-1 encoding): {reference:.1f} steps/s")
    qpos = np.concatenate([np.tile(make_env(task).get_state()["qpos"], (steps, 1))])
    render = median_of(repeats, lambda: _ceiling_rate(task, image_size, quality, qpos, workers)) / n_cams
    echo(f"  render only ({workers} processes): {render:.1f} steps/s")
    batch = max(1, workers) * envs * n_cams  # the service's largest batch: one step of every env
    if isinstance(encoder_cfg, SyntheticEncoderConfig):
        encoder_dim = encoder_cfg.dim
        encode = 1e3 * batch / (encoder_cfg.base_ms + encoder_cfg.per_frame_ms * batch) / n_cams  # the model itself
    else:
        encoder = Encoder(encoder_cfg)
        encoder_dim = encoder.dim
        encode = median_of(repeats, lambda: _encode_rate(encoder, batch, image_size)) / n_cams
    echo(f"  encode only (batch {batch}{', modelled' if synthetic else ''}): {encode:.1f} steps/s")
    physics = median_of(repeats, lambda: _sampler_rate(task, ObsConfig(mode="state"), workers, episodes, horizon, None))
    echo(f"  physics + policy only (state sampler): {physics:.1f} steps/s")
    on_gpu = torch.cuda.is_available() or bool(synthetic)  # a modelled GPU leaves the cores to render and physics
    cpu_parts = 1.0 / (1.0 / render + 1.0 / physics)  # render and physics share the worker's cores in any case
    bound = min(cpu_parts, encode) if on_gpu else 1.0 / (1.0 / render + 1.0 / encode + 1.0 / physics)
    obs_dim = n_cams * encoder_dim + 24
    update = median_of(1, lambda: _update_seconds(obs_dim, spec.action_dim, samples))
    collect = samples / ours
    encoder_name = f"synthetic {synthetic} ms" if synthetic else model
    echo(f"\nbench sample: {task}, {encoder_name}, {workers} workers x {envs} envs, {image_size}px {quality}, {steps} steps "
         f"per measurement, median of {repeats}; bound = "
         f"{'min(render + physics, encode)' if on_gpu else 'harmonic sum of the parts'} ({'GPU' if on_gpu else 'CPU'})")
    rows = [[f"sampler + encoder service, {design} (ours)", ours, 1.0, ours_counters.get("frames_per_batch", 0.0)],
            ["sampler + encoder service, 1 env per worker", one_env, ours / one_env, one_counters.get("frames_per_batch", 0.0)],
            ["bound from the parts", bound, ours / bound, ""],
            ["  render + physics (the CPU's share)", cpu_parts, ours / cpu_parts, ""],
            ["  render only", render, ours / render, ""],
            ["  encode only", encode, ours / encode, batch],
            ["  physics + policy only", physics, ours / physics, ""]]
    if reference is not None:
        rows.append(["reference: per-env batch-1 encoding", reference, ours / reference, 1])
    echo(table(["measure", "steps/s", "ours / it", "frames per batch"], rows))
    echo(f"NPG + value update on {samples:,} samples of {obs_dim}-d: {update:.1f} s; collecting them: {collect:.0f} s "
         f"(update / collect = {update / collect:.3f})")
    return {"ours": ours, "one_env_per_worker": one_env, "bound": bound, "reference": reference or float("nan"),
            "render": render, "encode": encode, "physics": physics, "cpu_parts": cpu_parts,
            "ours_over_bound": ours / bound, "ours_over_one_env": ours / one_env,
            "ours_over_reference": ours / reference if reference else float("nan"),
            "frames_per_batch": ours_counters.get("frames_per_batch", 0.0),
            "one_env_frames_per_batch": one_counters.get("frames_per_batch", 0.0),
            "update_s": update, "collect_s": collect}
