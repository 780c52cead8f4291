"""`rrl-pipe bench render`: the render stage against a bare mujoco.Renderer loop (the ceiling).

Both sides are timed from process launch to the last frame, over the same states, scene, size, quality and
process count, so the ratio is the stage's own overhead: reading demos, IPC, proprioception, HDF5 writes.
"""

from __future__ import annotations

import functools
import multiprocessing
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from pipeline.bench.common import median_of, table
from pipeline.demos.rollout import RandomPolicy, rollout
from pipeline.formats.demos import write_demos
from pipeline.procs import die_with_parent
from pipeline.render.config import RenderDemosConfig
from pipeline.render.quality import get_quality
from pipeline.render.stage import render_demos
from pipeline.tasks import get_task, make_env


def _bare_loop(task: str, size: int, quality: str, qpos: np.ndarray) -> None:
    """The ceiling: the task's render model, a mujoco.Renderer, set qpos, forward, draw; nothing else."""
    die_with_parent()
    spec = get_task(task)
    model = spec.build_render_model()  # scene rrl, as the stage's default
    preset = get_quality(quality)
    preset.apply(model)
    data = mujoco.MjData(model)
    renderer = mujoco.Renderer(model, size, size)
    preset.apply_scene(renderer.scene)
    frame = np.empty((size, size, 3), np.uint8)
    for q in qpos:
        data.qpos[:] = q
        mujoco.mj_forward(model, data)
        for camera in spec.camera_names:
            renderer.update_scene(data, camera=camera)
            renderer.render(out=frame)
    renderer.close()


def _ceiling_rate(task: str, size: int, quality: str, qpos: np.ndarray, workers: int) -> float:
    ctx = multiprocessing.get_context("spawn")
    start = time.perf_counter()
    procs = [ctx.Process(target=_bare_loop, args=(task, size, quality, part)) for part in np.array_split(qpos, workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    if any(p.exitcode != 0 for p in procs):
        raise RuntimeError("a ceiling render process failed")
    return len(qpos) / (time.perf_counter() - start)


def _stage_rate(demos: Path, out: Path, size: int, quality: str, workers: int, n_frames: int) -> float:
    start = time.perf_counter()
    render_demos(demos, out, RenderDemosConfig(size=size, quality=quality, workers=workers), progress=False)
    return n_frames / (time.perf_counter() - start)


def bench_render(
    task: str,
    size: int,
    frames: int,
    repeats: int,
    qualities: tuple[str, ...],
    worker_counts: tuple[int, ...],
    echo: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    env = make_env(task)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for quality in qualities:
            n = frames or (600 if quality == "fast" else 120)
            horizon = min(env.horizon, n)
            # random actions: the bench needs states that move, not competent ones
            episodes = [rollout(env, RandomPolicy(env.action_dim), seed, horizon - 1) for seed in range(-(-n // horizon))]
            demos = Path(tmp) / f"{quality}.h5"
            write_demos(demos, task, "bench", episodes, "sparse")
            qpos = np.concatenate([ep.qpos for ep in episodes])
            n_frames = len(qpos)
            for workers in worker_counts:
                ceiling = median_of(repeats, functools.partial(_ceiling_rate, task, size, quality, qpos, workers))
                stage = median_of(repeats, functools.partial(_stage_rate, demos, Path(tmp) / "frames.h5", size, quality, workers,
                                                             n_frames))
                results.append(
                    {
                        "quality": quality,
                        "workers": workers,
                        "frames": n_frames,
                        "stage": stage,
                        "ceiling": ceiling,
                        "ratio": stage / ceiling,
                    }
                )
                echo(f"  {quality:>5} x{workers}: stage {stage:7.1f} frames/s, ceiling {ceiling:7.1f} frames/s, "
                     f"ratio {stage / ceiling:.2f}")
    cams = len(get_task(task).cameras)
    echo(f"\nbench render: task {task}, {size}x{size}, {cams} camera(s) per state, median of {repeats}; frames/s counts states")
    echo(table(["quality", "processes", "frames", "stage f/s", "ceiling f/s", "stage/ceiling"],
               [[r["quality"], r["workers"], r["frames"], r["stage"], r["ceiling"], r["ratio"]] for r in results]))
    return results
