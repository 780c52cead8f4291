"""The encoder service as a Ray actor (backend ray): the same Encoder and the same batching rule (batching.py) as
the local service, with Ray's object store in place of shared-memory segments and Ray's RPC in place of the
socket protocol. A client's frames go in as one object (zero-copy numpy on the service's node) and its features
come back as one; the actor's threads each hold one client's request while one batcher thread runs the encoder.

Ray imports this module only inside actors and drivers that chose backend ray (pipeline/cluster.py).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from pipeline.encoders.encoder import MAX_OUTSTANDING, PendingFeatures
from pipeline.errors import PipelineError
from pipeline.service.batching import batch_due, take_batch, wait_left_s
from pipeline.service.server import ServiceConfig


@dataclass
class _Batch:
    requests: list[_Waiting]
    features: PendingFeatures  # the encoder's handle: result() waits for the device
    start: float


@dataclass
class _Waiting:
    frames: np.ndarray
    n: int
    arrived: float = field(default_factory=time.perf_counter)
    done: threading.Event = field(default_factory=threading.Event)
    features: np.ndarray | None = None
    error: str = ""


class EncoderServiceActor:
    """The actor's class (wrapped by ray.remote in RayServiceHandle). `clients`: how many clients will send
    requests, one at a time each: when all of them wait, a batch goes at once (the local service's rule). As the
    local service, it feeds the encoder without waiting on it: one thread submits batches (at most MAX_OUTSTANDING
    outstanding; on a GPU the next is assembled while one runs, on a CPU submit does the work), another answers
    each batch, oldest first, once its features are there."""

    def __init__(self, config: ServiceConfig, clients: int):
        self.config, self.clients = config, max(1, clients)
        self.encoder = config.encoder.build()
        self.pending: list[_Waiting] = []
        self.running: deque[_Batch] = deque()  # submitted to the encoder, not yet answered (oldest first)
        self.wake = threading.Condition()
        self.stats = {"batches": 0, "frames": 0, "encode_s": 0.0, "dropped": 0, "overlapped": 0}
        threading.Thread(target=self._submit_batches, daemon=True, name="submitter").start()
        threading.Thread(target=self._answer_batches, daemon=True, name="answerer").start()

    def describe(self) -> tuple[int, dict[str, str], str, str]:
        """Feature size, store key fields, device, and the Ray node it runs on (env actors are placed beside it)."""
        import ray

        return self.encoder.dim, self.encoder.key(), str(self.encoder.device), ray.get_runtime_context().get_node_id()

    def counters(self) -> dict[str, float]:
        return dict(self.stats)

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """(n, H, W, 3) uint8 -> (n, D) float32, encoded with other clients' frames in one forward pass."""
        size = self.config.image_size
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[1:] != (size, size, 3):
            raise PipelineError(f"frames {frames.dtype} {frames.shape}: this service encodes (n, {size}, {size}, 3) uint8")
        if len(frames) % self.config.cameras:
            raise PipelineError(f"{len(frames)} frames is not a multiple of the {self.config.cameras} cameras per env")
        request = _Waiting(frames, len(frames))
        with self.wake:
            self.pending.append(request)
            self.wake.notify_all()  # the submitter (the answerer waits on the same condition)
        request.done.wait()
        if request.error or request.features is None:
            raise PipelineError(f"encoder service: {request.error or 'answered without features'}")
        return request.features

    def _due(self) -> bool:
        waiting = len(self.pending) + sum(len(b.requests) for b in self.running)  # every client waits on an answer
        return len(self.running) < MAX_OUTSTANDING and batch_due(
            self.pending, self.config.max_batch, self.config.max_wait_ms, waiting >= self.clients, time.perf_counter())

    def _submit_batches(self) -> None:
        while True:
            with self.wake:
                while not self._due():
                    full = len(self.running) >= MAX_OUTSTANDING  # only an answered batch frees a slot
                    self.wake.wait(None if full or not self.pending else
                                   wait_left_s(self.pending, self.config.max_wait_ms, time.perf_counter()))
                requests = take_batch(self.pending, self.config.max_batch)
            start = time.perf_counter()
            try:
                features = self.encoder.submit(np.concatenate([r.frames for r in requests]))
            except Exception as exc:  # noqa: BLE001 - the batch fails, the service goes on
                _fail(requests, exc)
                continue
            with self.wake:
                self.stats["overlapped"] += bool(self.running)
                self.running.append(_Batch(requests, features, start))
                self.wake.notify_all()

    def _answer_batches(self) -> None:
        while True:
            with self.wake:
                while not self.running:
                    self.wake.wait()
                batch = self.running[0]
            try:
                features = batch.features.result().numpy()  # waits for the device, not holding the lock
            except Exception as exc:  # noqa: BLE001 - as a failed submit
                features = None
                _fail(batch.requests, exc)
            with self.wake:
                self.running.popleft()
                if features is not None:
                    self.stats["encode_s"] += time.perf_counter() - batch.start
                    self.stats["batches"] += 1
                    self.stats["frames"] += len(features)
                self.wake.notify_all()
            if features is not None:
                offset = 0
                for r in batch.requests:
                    r.features, offset = features[offset : offset + r.n], offset + r.n
                    r.done.set()


def _fail(requests: list[_Waiting], exc: Exception) -> None:
    for r in requests:
        r.error = f"encoding failed: {type(exc).__name__}: {exc}"
        r.done.set()


class RayServiceClient:
    """A FrameEncoder for one env group of one env actor: one request in flight, answered through the object store."""

    def __init__(self, service: Any, dim: int, reply_timeout_s: float = 600.0):
        self.service, self.dim = service, dim
        self.reply_timeout_s = reply_timeout_s  # a batch on a slow CPU takes seconds; a hung service, forever
        self._pending = None  # the ObjectRef of the submitted request's features

    def encode(self, frames: np.ndarray) -> np.ndarray:
        self.submit(frames)
        return self.collect()

    def submit(self, frames: np.ndarray) -> None:
        if self._pending is not None:
            raise PipelineError("submit before the previous request was collected")
        self._pending = self.service.encode.remote(np.ascontiguousarray(frames))

    def collect(self) -> np.ndarray:
        import ray

        if self._pending is None:
            raise PipelineError("collect without a submitted request")
        pending, self._pending = self._pending, None
        try:
            return ray.get(pending, timeout=self.reply_timeout_s)
        except ray.exceptions.GetTimeoutError:
            raise PipelineError(f"the encoder service actor did not answer within {self.reply_timeout_s:.0f} s") from None

    def close(self) -> None:
        self._pending = None


class RayServiceHandle:
    """Starts the service actor (on a GPU node when it reserves one) and waits until its encoder is built.
    It is never restarted: a service that dies fails the sampling in one clear line (RaySampler), and training
    resumes from its last checkpoint."""

    def __init__(self, config: ServiceConfig, clients: int, cpus: float, gpus: float):
        import ray

        from pipeline.cluster import actor_failure

        self.config = config
        # named, so that env actors look it up by name: a handle among a restartable actor's constructor arguments
        # trips Ray's warning that its restart may fail (ray-project/ray#53727), and a name needs no handle
        self.name = f"rrl-pipe-encoder-service-{uuid.uuid4().hex[:12]}"
        actor_class = ray.remote(EncoderServiceActor)
        # Any: Ray's stubs type the handle's methods as plain callables, without their .remote
        self.actor: Any = cast(Any, actor_class).options(num_cpus=cpus, num_gpus=gpus, max_restarts=0,
                                         max_concurrency=clients + 4, name=self.name).remote(config, clients)
        try:
            self.dim, self.key, self.device, self.node_id = ray.get(self.actor.describe.remote())
        except ray.exceptions.RayError as exc:
            raise PipelineError(f"the encoder service actor could not start: {actor_failure(exc)}") from None

    def alive(self, timeout_s: float = 30.0) -> bool:
        import ray

        try:
            ray.get(self.actor.counters.remote(), timeout=timeout_s)
        except ray.exceptions.RayError:
            return False
        return True

    def stats(self) -> dict[str, float]:
        import ray

        return ray.get(self.actor.counters.remote(), timeout=30)

    def client(self) -> RayServiceClient:
        return RayServiceClient(self.actor, self.dim)

    def close(self) -> None:
        import ray

        ray.kill(self.actor)
