"""Render jobs over worker processes (one renderer each, spawn start), in order, with bounded memory.

A worker that dies (a GL crash, the OOM killer) fails the stage in one line instead of leaving it waiting for a
lost task.
"""

from __future__ import annotations

import collections
import multiprocessing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, NoReturn

import numpy as np

from pipeline.errors import PipelineError
from pipeline.procs import die_with_parent, stop_workers
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

    def describe(self) -> dict[str, Any]:
        """Validate the settings and return the frames-file attributes without creating a GL context."""
        _, model, cameras, quality = build_scene(self.task, self.size, self.quality, self.cameras, self.scene)
        return scene_attrs(model, cameras, quality, self.size, self.scene)


@dataclass
class RenderJob:
    """A run of consecutive states of one episode, rendered under one (optional) distractor."""

    key: Any  # opaque to the pool: the caller's (episode, start) or similar
    states: list[dict[str, np.ndarray]]
    distractor: Any = None  # a pipeline.render.distractors.Distractor, applied for this job only


def render_job(renderer: FrameRenderer, job: RenderJob) -> np.ndarray:
    """(len(states), n_cameras, H, W, 3) uint8 frames of one job."""
    renderer.set_distractor(job.distractor)
    frames = np.empty((len(job.states), len(renderer.cameras), renderer.size, renderer.size, 3), np.uint8)
    for i, state in enumerate(job.states):
        renderer.render(state, out=frames[i])
    return frames


def _worker_main(config: RendererConfig, index: int, conn: Connection) -> None:
    """Render process `index`: build one renderer, then render the jobs it is sent, in order, until None."""
    die_with_parent()
    assign_egl_device(index)  # several GPUs: renderers go round-robin on them
    with config.build() as renderer:
        while (job := conn.recv()) is not None:
            try:
                conn.send(render_job(renderer, job))
            except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the stage with it
                conn.send(exc)


class _Renderers:
    """`workers` render processes, each on a pipe of its own.

    Hand-written rather than a ProcessPoolExecutor: the executor's workers share one result pipe, and a worker
    killed halfway through sending its frames (the OOM killer, kill -9) leaves the executor's reader waiting for
    the rest of that message forever. A pipe per worker cannot wedge: its only writer died, so the read ends in EOF.
    """

    def __init__(self, config: RendererConfig, workers: int) -> None:
        ctx = multiprocessing.get_context("spawn")  # fork would copy a live GL context: undefined behaviour
        self.procs: list[BaseProcess] = []
        self.conns: list[Connection] = []
        for index in range(workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker_main, args=(config, index, child), daemon=True, name=f"rrl-render-{index}")
            proc.start()
            child.close()  # the worker holds the only write end: its death is EOF here
            self.procs.append(proc)
            self.conns.append(parent)

    def send(self, index: int, job: RenderJob) -> None:
        try:
            self.conns[index].send(job)
        except OSError:
            self._died(index)

    def receive(self, index: int) -> np.ndarray:
        try:
            result = self.conns[index].recv()
        except (EOFError, OSError):
            self._died(index)
        if isinstance(result, Exception):
            raise result
        return result

    def _died(self, index: int) -> NoReturn:
        self.procs[index].join(timeout=5)
        raise PipelineError(f"a render worker died (exit code {self.procs[index].exitcode}); no output was written")

    def close(self, abort: bool) -> None:
        """Stop the workers: asked to when all work was received, killed when some was left (an error, a break)."""
        stop_workers(self.conns, self.procs, None, kill=abort)
        for conn in self.conns:
            conn.close()


def render_jobs(config: RendererConfig, jobs: Iterable[RenderJob], workers: int) -> Iterator[tuple[RenderJob, np.ndarray]]:
    """Yield (job, frames) in job order. workers == 1 renders in this process (no IPC, no second GL context)."""
    if workers <= 1:
        with config.build() as renderer:
            for job in jobs:
                yield job, render_job(renderer, job)
        return
    per_worker = 2  # jobs in flight per worker: enough to keep it busy, few enough to bound memory
    renderers = _Renderers(config, workers)
    pending: collections.deque[tuple[RenderJob, int]] = collections.deque()  # in job order, with their worker
    in_flight = [0] * workers
    try:
        for job in jobs:
            if len(pending) >= per_worker * workers:
                yield _next(renderers, pending, in_flight)
            index = in_flight.index(min(in_flight))  # the least loaded worker
            renderers.send(index, job)
            pending.append((job, index))
            in_flight[index] += 1
        while pending:
            yield _next(renderers, pending, in_flight)
    finally:
        renderers.close(abort=bool(pending))


def _next(renderers: _Renderers, pending: collections.deque[tuple[RenderJob, int]],
          in_flight: list[int]) -> tuple[RenderJob, np.ndarray]:
    """The oldest job's frames: each worker answers its own jobs in the order they were sent."""
    job, index = pending.popleft()
    in_flight[index] -= 1
    return job, renderers.receive(index)
