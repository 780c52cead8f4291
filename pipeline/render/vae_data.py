"""render_vae_data: the VAE image dataset of RRL appendix 7.4, reproducible from a seed.

Four equal parts: the scripted expert, the expert with small action noise, with large action noise, and
uniformly random actions. Physics runs here; frames are rendered by the same worker pool as render_demos.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pipeline.atomic import atomic_output, check_output, require_room
from pipeline.demos.experts import make_expert
from pipeline.demos.rollout import Policy, RandomPolicy, rollout
from pipeline.formats.vae_images import PARTS, VaeImagesWriter
from pipeline.render.config import RenderVaeDataConfig
from pipeline.render.pool import RendererConfig, RenderJob, render_jobs
from pipeline.tasks import get_task, make_env
from pipeline.tasks.signals import reward_signals, signal_names


def part_sizes(n_images: int, n_cameras: int) -> list[int]:
    """States per part so that the four parts hold equal shares of n_images (remainders go to the first)."""
    states = n_images // n_cameras
    base, extra = divmod(states, len(PARTS))
    return [base + (1 if i < extra else 0) for i in range(len(PARTS))]


def _policies(task: str, env, cfg: RenderVaeDataConfig) -> list[Policy]:
    return [
        make_expert(task, env.model),
        make_expert(task, env.model, noise_std=cfg.small_noise),
        make_expert(task, env.model, noise_std=cfg.large_noise),
        RandomPolicy(env.action_dim),
    ]


def _collect(task: str, cfg: RenderVaeDataConfig, n_cameras: int,
             progress: bool) -> Iterator[tuple[int, int, list[dict], np.ndarray]]:
    """(part, episode seed, states, their reward signals) for whole episodes, the last of each part cut to fill its
    quota exactly."""
    env = make_env(task)
    policies = _policies(task, env, cfg)
    sizes = part_sizes(cfg.n_images, n_cameras)
    bar = tqdm(total=sum(sizes), unit="state", desc=f"vae data {task}: physics", disable=not progress)
    for part, (policy, quota) in enumerate(zip(policies, sizes)):
        taken, episode = 0, 0
        while taken < quota:
            seed = cfg.seed + 100_000 * part + episode  # disjoint seeds per part
            ep = rollout(env, policy, seed)
            states = [ep.state_at(t) for t in range(min(ep.length + 1, quota - taken))]
            taken += len(states)
            episode += 1
            bar.update(len(states))
            yield part, seed, states, _signals(task, env, states)
    bar.close()


def _signals(task: str, env, states: list[dict]) -> np.ndarray:
    """(T, K) the task's reward signals of each state (env's simulator is free here: the episode is done)."""
    rows = []
    for state in states:
        env.set_state(state)
        rows.append(reward_signals(task, env.model, env.data))
    return np.asarray(rows, np.float32)


def render_vae_data(task: str, out: str | Path, cfg: RenderVaeDataConfig, progress: bool = True) -> dict[str, float]:
    check_output(out, "file")
    spec = get_task(task)
    make_expert(task, make_env(task).model)  # no expert for this task: say so before any work
    renderer_cfg = RendererConfig(task, cfg.size, cfg.quality, None, cfg.scene)
    renderer_attrs = renderer_cfg.describe()
    n_cams = len(spec.scene_cameras(cfg.scene))
    n_states = sum(part_sizes(cfg.n_images, n_cams))
    n = n_states * n_cams
    require_room(out, n * cfg.size**2 * 3)  # the images alone, before rendering any
    start = time.perf_counter()
    with atomic_output(out) as tmp:
        # workers is left out: it changes speed, never content, and the file must not depend on it
        settings = {f"config.{k}": v for k, v in dataclasses.asdict(cfg).items() if k != "workers"}
        with VaeImagesWriter(tmp, task, n, cfg.size, signal_names(task), {**renderer_attrs, **settings}) as out_file:
            jobs = (RenderJob(key=(part, seed, signals), states=states)
                    for part, seed, states, signals in _collect(task, cfg, n_cams, progress))
            for job, frames in render_jobs(renderer_cfg, jobs, cfg.workers):
                part, seed, signals = job.key
                k = len(frames) * n_cams  # state-major, camera-minor
                out_file.append(frames.reshape(k, cfg.size, cfg.size, 3), part, seed,
                                np.repeat(np.arange(len(frames)), n_cams), np.tile(np.arange(n_cams), len(frames)),
                                np.repeat(signals, n_cams, axis=0))
    seconds = time.perf_counter() - start
    return {
        "images": n,
        "images_per_s": n / seconds,
        **{f"part_{p}": s * n_cams for p, s in zip(PARTS, part_sizes(cfg.n_images, n_cams))},
    }
