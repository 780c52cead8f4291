"""Render jobs over worker processes (one renderer each, spawn start), in order, with bounded memory.

ProcessPoolExecutor rather than multiprocessing.Pool: when a worker dies (a GL crash, the OOM killer) the
executor raises BrokenProcessPool instead of waiting forever for a lost task.
"""

from __future__ import annotations

import collections
import multiprocessing
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.errors import PipelineError
from pipeline.procs import die_with_parent
from pipeline.render.egl import assign_egl_device
from pipeline.render.renderer import FrameRenderer, build_scene, scene_attrs


@dataclass(frozen=True)
class RendererConfig:
    """Everything a worker needs to build its own renderer (picklable)."""

    task: str
    size: int
    quality: str
    cameras: tuple[str, ...] | None
    scene: str = "rrl"

    def build(self) -> FrameRenderer:
        return FrameRenderer(self.task, self.size, self.quality, self.cameras, self.scene)

    def describe(self) -> dict[str, object]:
        """Validate the settings and return the frames-file attributes without creating a GL context."""
        _, model, cameras, quality = build_scene(self.task, self.size, self.quality, self.cameras, self.scene)
        return scene_attrs(model, cameras, quality, self.size, self.scene)


@dataclass
class RenderJob:
    """A run of consecutive states of one episode, rendered under one (optional) distractor."""

    key: Any  # opaque to the pool: the caller's (episode, start) or similar
    states: list[dict[str, np.ndarray]]
    distractor: Any = None  # a pipeline.render.distractors.Distractor, applied for this job only


_worker: FrameRenderer | None = None


def _init_worker(config: RendererConfig, started) -> None:
    global _worker
    die_with_parent()
    with started.get_lock():  # this worker's index: which GPU renders for it where there are several
        index, started.value = started.value, started.value + 1
    assign_egl_device(index)
    _worker = config.build()


def render_job(renderer: FrameRenderer, job: RenderJob) -> np.ndarray:
    """(len(states), n_cameras, H, W, 3) uint8 frames of one job."""
    renderer.set_distractor(job.distractor)
    frames = np.empty((len(job.states), len(renderer.cameras), renderer.size, renderer.size, 3), np.uint8)
    for i, state in enumerate(job.states):
        renderer.render(state, out=frames[i])
    return frames


def _run_in_worker(job: RenderJob) -> np.ndarray:
    assert _worker is not None, "worker not initialised"
    return render_job(_worker, job)


def render_jobs(config: RendererConfig, jobs: Iterable[RenderJob], workers: int) -> Iterator[tuple[RenderJob, np.ndarray]]:
    """Yield (job, frames) in job order. workers == 1 renders in this process (no IPC, no second GL context)."""
    if workers <= 1:
        with config.build() as renderer:
            for job in jobs:
                yield job, render_job(renderer, job)
        return
    ctx = multiprocessing.get_context("spawn")  # fork would copy a live GL context: undefined behaviour
    window = 2 * workers  # jobs in flight: enough to keep every worker busy, few enough to bound memory
    pending: collections.deque[tuple[RenderJob, Future]] = collections.deque()
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(config, ctx.Value("i", 0))) as pool:
        try:
            for job in jobs:
                pending.append((job, pool.submit(_run_in_worker, job)))
                if len(pending) >= window:
                    done_job, future = pending.popleft()
                    yield done_job, future.result()
            while pending:
                done_job, future = pending.popleft()
                yield done_job, future.result()
        except BrokenProcessPool as exc:
            raise PipelineError(f"a render worker died ({exc}); no output was written") from None
        finally:
            for _, future in pending:
                future.cancel()
