"""Starting the encoder service, and the clients that talk to it (or to an in-process encoder)."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import tempfile
from multiprocessing import connection, shared_memory
from typing import Protocol

import numpy as np

from pipeline.encoders.encoder import Encoder
from pipeline.errors import PipelineError
from pipeline.service.server import ServiceConfig, serve


class FrameEncoder(Protocol):
    """What a sampler needs: (n, H, W, 3) uint8 frames in, (n, D) float32 features out."""

    dim: int

    def encode(self, frames: np.ndarray) -> np.ndarray: ...

    def close(self) -> None: ...


class InProcessEncoder:
    """The same Encoder, called directly: for tests and single-env use (no second process)."""

    def __init__(self, config: ServiceConfig):
        self.encoder = Encoder(config.encoder)
        self.dim = self.encoder.dim
        self.key = self.encoder.key()

    def encode(self, frames: np.ndarray) -> np.ndarray:
        return self.encoder.encode(frames).numpy()

    def close(self) -> None:
        pass


class ServiceHandle:
    """Owns the service process: start (waits until the encoder is built), address for clients, stop."""

    def __init__(self, config: ServiceConfig, start_timeout_s: float = 300.0):
        self.config = config
        self.address = os.path.join(tempfile.mkdtemp(prefix="rrl-encoder-"), "socket")
        self.authkey = os.urandom(16)
        ctx = multiprocessing.get_context("spawn")  # CUDA and GL contexts do not survive fork
        self._control, child = ctx.Pipe()
        self.process = ctx.Process(target=serve, args=(config, self.address, self.authkey, child), daemon=True,
                                   name="rrl-encoder-service")
        self.process.start()
        child.close()
        if not self._control.poll(start_timeout_s):
            self.close()
            raise PipelineError(f"the encoder service did not start within {start_timeout_s:.0f} s")
        try:
            message = self._control.recv()
        except EOFError:
            self.close()
            raise PipelineError("the encoder service died while starting") from None
        if message[0] != "ready":
            self.close()
            raise PipelineError(f"the encoder service could not start: {message[1]}")
        _, self.dim, self.key, self.device = message

    @property
    def endpoint(self) -> tuple[str, bytes]:
        """What a worker process needs to connect (picklable)."""
        return self.address, self.authkey

    def client(self, max_frames: int) -> "ServiceClient":
        return ServiceClient(self.endpoint, max_frames)

    def close(self) -> None:
        self._control.close()  # the service stops when this pipe closes
        self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        for path in (self.address, os.path.dirname(self.address)):
            try:
                os.unlink(path) if path == self.address else os.rmdir(path)
            except OSError:
                pass

    def __enter__(self) -> "ServiceHandle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _attach(name: str) -> shared_memory.SharedMemory:
    """Attach to a segment the service owns (and unlinks). Python >= 3.13 can attach untracked; before that,
    attaching registers the name with the resource tracker, which spawned processes share with the service that
    created it: a duplicate registration is a no-op there, and the service's unlink clears it."""
    try:
        return shared_memory.SharedMemory(name=name, track=False)  # type: ignore[call-arg]
    except TypeError:
        return shared_memory.SharedMemory(name=name)


class ServiceClient:
    """One client of the service: its own shared-memory segment, requests answered in order."""

    def __init__(self, endpoint: tuple[str, bytes], max_frames: int):
        address, authkey = endpoint
        try:
            self.conn = connection.Client(address, family="AF_UNIX", authkey=authkey)
        except OSError as exc:
            raise PipelineError(f"cannot reach the encoder service at {address}: {exc}") from None
        self.conn.send(("hello", int(max_frames)))
        kind, name, self.dim = self.conn.recv()
        assert kind == "segment", kind
        self.segment = _attach(name)
        self.max_frames = int(max_frames)
        self.frames_nbytes = self.segment.size - 4 * self.dim * self.max_frames
        self._features = np.ndarray((self.max_frames, self.dim), np.float32, self.segment.buf, offset=self.frames_nbytes)
        self._ids = itertools.count()

    def encode(self, frames: np.ndarray) -> np.ndarray:
        frames = np.ascontiguousarray(frames)
        if frames.nbytes > self.frames_nbytes:
            raise PipelineError(f"{frames.nbytes} bytes of frames do not fit this client's {self.frames_nbytes}-byte segment")
        self.segment.buf[: frames.nbytes] = frames.reshape(-1).view(np.uint8)
        request_id = next(self._ids)
        self.conn.send(("encode", request_id, tuple(int(s) for s in frames.shape), str(frames.dtype)))
        try:
            reply = self.conn.recv()
        except EOFError:
            raise PipelineError("the encoder service closed the connection") from None
        if reply[0] == "error":
            raise PipelineError(f"encoder service: {reply[2]}")
        _, reply_id, n = reply
        assert reply_id == request_id, (reply_id, request_id)
        return self._features[:n].copy()

    def close(self) -> None:
        try:
            self.conn.send(("bye",))
        except OSError:
            pass
        self._features = None  # release the buffer export before closing the mapping
        self.segment.close()
        self.conn.close()
