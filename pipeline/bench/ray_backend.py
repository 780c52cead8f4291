"""`rrl-pipe bench ray`: what the Ray backend costs on this machine, and on paper what a cluster would reach.

Measured in one run, the same workers and envs per worker on both backends, medians of `repeats`:
  - state observations: no frames, so only Ray's actor calls differ from the local worker pipes;
  - a synthetic encoder (a modelled GPU that uses no CPU): frames go through Ray's object store and the service
    actor instead of shared memory and the socket service, so the ratio is Ray's transport overhead;
  - the real encoder: the whole path on this CPU;
each reported as Ray / local steps/s. Then the parts of the capacity model, measured here: render frames/s per
core, physics + policy steps/s per core, and the learner's update on 40,000 samples.

The model (nothing of it ran on a cluster): N nodes of C cores and one GPU each, one env actor per core but one
(Ray's own processes and the service share it), and S service actors (1, or one per node beside its env actors).
Steps/s is the least of
  CPU      N (C - 1) r_core e_ray      r_core = 1 / (cameras / render + 1 / physics), e_ray the synthetic ratio
  GPU      S B / (base + per_frame B) / cameras      the modelled GPU at a service's batch B (a step of its envs)
  network  bandwidth / frame bytes / ((N - 1) / N) / cameras      with one service: other nodes' frames cross to it
and an iteration of 40,000 samples takes 40,000 / steps + the update (the driver's, in series).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from pipeline.bench.common import median_of, table
from pipeline.bench.render import _ceiling_rate
from pipeline.bench.sample import _sampler_rate, _update_seconds
from pipeline.bench.synthetic import SyntheticEncoderConfig
from pipeline.encoders.encoder import EncoderConfig
from pipeline.rollout.sampler import ObsConfig
from pipeline.tasks import get_task, make_env

SAMPLES = 40_000  # RRL's samples per iteration (200 episodes of 200 steps)


def _backends_ratio(measure: Callable[..., float], repeats: int) -> tuple[float, float]:
    """(local, ray) medians, the two backends interleaved so that drift on a shared machine hits both alike."""
    local, ray = [], []
    for _ in range(max(1, repeats)):
        local.append(measure(backend="local"))
        ray.append(measure(backend="ray"))
    return float(np.median(local)), float(np.median(ray))


def capacity(nodes: int, cores: int, r_core: float, e_ray: float, gpu: SyntheticEncoderConfig, envs_per_actor: int,
             cameras: int, frame_bytes: int, network_gbit: float, services: int = 1) -> dict[str, float]:
    """Steps/s of N nodes by the model of the module docstring: each bound, and the least of them. `services`: 1
    (one service actor for the cluster) or `nodes` (ray.services 0 on one GPU per node: a service per node, its
    env actors beside it, so no frame crosses the network)."""
    actors = nodes * max(1, cores - 1)
    batch = actors // services * envs_per_actor * cameras  # one step of each env of a service's actors
    crossing = 0.0 if services == nodes else (nodes - 1) / nodes  # share of frames sent to another node
    bounds = {
        "cpu": actors * r_core * e_ray,
        "gpu": services * 1e3 * batch / (gpu.base_ms + gpu.per_frame_ms * batch) / cameras,
        "network": network_gbit * 1e9 / 8 / frame_bytes / crossing / cameras if crossing else float("inf"),
    }
    return {**bounds, "steps_s": min(bounds.values()), "actors": actors}


def bench_ray(task: str, model: str, workers: int, envs_per_worker: int, episodes: int, horizon: int, image_size: int,
              quality: str, repeats: int, gpu: str, cores: int, network_gbit: float, node_counts: tuple[int, ...],
              echo: Callable[[str], None] = print, encoder_cpus: float = 0.0, samples: int = SAMPLES) -> dict:
    """`encoder_cpus` 0: the service actor reserves every core of this machine, as the local service's torch uses
    them all (a Ray actor's torch uses the CPUs it reserves: Ray sets OMP_NUM_THREADS)."""
    from pipeline.cluster import RayConfig, connect

    ray_config = RayConfig(encoder_cpus=encoder_cpus or float(os.cpu_count() or 1))
    connect(ray_config, cpus_needed=workers + ray_config.encoder_cpus)  # one local instance for every measurement
    spec = get_task(task)
    cams = len(spec.camera_names)
    vision = ObsConfig(mode="vision", image_size=image_size, quality=quality)
    synthetic = SyntheticEncoderConfig.parse(gpu)
    cells = [("state (no frames)", ObsConfig(mode="state"), None),
             (f"vision, synthetic encoder {gpu} ms", vision, synthetic),
             (f"vision, {model} on this CPU", vision, EncoderConfig(model=model, weights="random"))]
    rows: list[list[Any]] = []
    ratios: dict[str, float] = {}
    for name, obs, encoder in cells:
        measure = functools.partial(_sampler_rate, task, obs, workers, episodes, horizon, encoder,
                                    envs_per_worker=envs_per_worker, ray_config=ray_config)
        local, ray = _backends_ratio(measure, repeats)
        ratios[name] = ray / local
        rows.append([name, local, ray, ray / local])
        echo(f"  {name}: local {local:.1f}, ray {ray:.1f} steps/s")
    qpos = np.tile(make_env(task).get_state()["qpos"], (episodes * horizon, 1))
    render = median_of(repeats, lambda: _ceiling_rate(task, image_size, quality, qpos, workers)) / workers
    physics = rows[0][1] / workers  # the local state sampler, per worker process
    r_core = 1.0 / (cams / render + 1.0 / physics)
    update = _update_seconds(cams * 512 + 24, spec.action_dim, samples)
    e_ray = ratios[cells[1][0]]
    echo(f"\nbench ray: {task}, {workers} workers x {envs_per_worker} envs on both backends, {image_size}px {quality}, "
         f"{episodes * horizon} steps per measurement, median of {repeats} (interleaved)")
    echo(table(["sampler", "local steps/s", "ray steps/s", "ray / local"], rows))
    echo(f"parts (this machine): render {render:.1f} frames/s per core, physics + policy {physics:.0f} steps/s per core, "
         f"so {r_core:.1f} steps/s per env core; update on {samples:,} samples {update:.1f} s")
    frame_bytes = image_size * image_size * 3
    model_rows = []
    for n in node_counts:
        one = capacity(n, cores, r_core, e_ray, synthetic, envs_per_worker, cams, frame_bytes, network_gbit)
        each = capacity(n, cores, r_core, e_ray, synthetic, envs_per_worker, cams, frame_bytes, network_gbit, n)
        model_rows.append([n, int(one["actors"]), one["cpu"], one["gpu"], one["network"], one["steps_s"],
                           samples / one["steps_s"] + update, each["steps_s"], samples / each["steps_s"] + update])
    echo(f"\non paper: N nodes of {cores} cores + 1 GPU ({gpu} ms per batch + per frame), {network_gbit:g} Gbit/s "
         f"links; ray / local {e_ray:.2f} (synthetic row) applied to every env core; one service actor "
         "(ray.services 1), or one per node (ray.services 0)")
    echo(table(["nodes", "env actors", "cpu bound", "1 service: gpu", "network", "steps/s", "s/iter",
                "service per node: steps/s", "s/iter"], model_rows))
    return {"ratios": ratios, "render_per_core": render, "physics_per_core": physics, "update_s": update,
            "model": {int(r[0]): r[5] for r in model_rows}, "model_per_node": {int(r[0]): r[7] for r in model_rows}}
