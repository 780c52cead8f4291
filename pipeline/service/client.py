"""Starting the encoder service, and the clients that talk to it (or to an in-process encoder)."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import socket
import sys
import tempfile
from multiprocessing import shared_memory
from typing import Protocol

import numpy as np

from pipeline.errors import PipelineError
from pipeline.service import protocol
from pipeline.service.server import ServiceConfig, segment_prefix, serve


class FrameEncoder(Protocol):
    """What a sampler needs: (n, H, W, 3) uint8 frames in, (n, D) float32 features out."""

    dim: int

    def encode(self, frames: np.ndarray) -> np.ndarray: ...

    def submit(self, frames: np.ndarray) -> None: ...  # encode without waiting ...

    def collect(self) -> np.ndarray: ...  # ... and wait for those features

    def close(self) -> None: ...


class InProcessEncoder:
    """The same Encoder, called directly: for tests and single-env use (no second process)."""

    def __init__(self, config: ServiceConfig):
        self.encoder = config.encoder.build()
        self.dim = self.encoder.dim
        self.key = self.encoder.key()
        self._submitted = None  # the encoder's handle of the submitted batch

    def encode(self, frames: np.ndarray) -> np.ndarray:
        return self.encoder.encode(frames).numpy()

    def submit(self, frames: np.ndarray) -> None:  # a CPU encoder works here, a CUDA one queues the batch
        if self._submitted is not None:
            raise PipelineError("submit before the previous request was collected")
        self._submitted = self.encoder.submit(frames)

    def collect(self) -> np.ndarray:
        if self._submitted is None:
            raise PipelineError("collect without a submitted request")
        pending, self._submitted = self._submitted, None
        return pending.result().numpy()

    def close(self) -> None:
        pass


def _socket_address() -> str:
    """Linux: an abstract socket, which has no file and vanishes with its last holder, so a service killed with its
    parent (kill -9) leaves nothing in the temp folder; elsewhere a socket file in a fresh temp folder. Either way a
    client must answer the service's challenge with the run's random key before anything else."""
    if sys.platform.startswith("linux"):
        return f"\0rrl-encoder-{os.getpid()}-{os.urandom(8).hex()}"
    return os.path.join(tempfile.mkdtemp(prefix="rrl-encoder-"), "socket")


class ServiceHandle:
    """Owns the service process: start (waits until the encoder is built), address for clients, stop."""

    def __init__(self, config: ServiceConfig, start_timeout_s: float = 300.0):
        self.config = config
        self.address = _socket_address()
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
    def segment_prefix(self) -> str:
        """The names of this service's shared-memory segments start with this (in /dev/shm)."""
        pid = self.process.pid
        assert pid is not None  # started in __init__
        return segment_prefix(pid)

    @property
    def endpoint(self) -> tuple[str, bytes]:
        """What a worker process needs to connect (picklable)."""
        return self.address, self.authkey

    def stats(self) -> dict[str, float]:
        """The service's counters so far: batches, frames, encode_s (seconds in forward passes), dropped."""
        self._control.send(("stats",))
        if not self._control.poll(30):
            raise PipelineError("the encoder service did not report its counters within 30 s")
        return self._control.recv()[1]

    def client(self, max_frames: int) -> ServiceClient:
        return ServiceClient(self.endpoint, max_frames)

    def close(self) -> None:
        self._control.close()  # the service stops when this pipe closes
        self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        if not self.address.startswith("\0"):
            for path in (self.address, os.path.dirname(self.address)):
                try:
                    os.unlink(path) if path == self.address else os.rmdir(path)
                except OSError:
                    pass

    def __enter__(self) -> ServiceHandle:
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
    """One client of the service: its own shared-memory segment, one request at a time, answered in order."""

    def __init__(self, endpoint: tuple[str, bytes], max_frames: int, reply_timeout_s: float = 600.0):
        address, authkey = endpoint
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(reply_timeout_s)  # a batch on a slow CPU takes seconds; a hung service, forever
        self.segment: shared_memory.SharedMemory | None = None
        self._features: np.ndarray | None = None  # a view of the segment's feature half
        self._service_gone = False
        self._pending: protocol.Request | None = None  # submitted, not yet collected
        try:
            self.sock.connect(address)
            nonce = protocol.recv_exactly(self.sock, protocol.NONCE_BYTES)
            self.sock.sendall(protocol.digest(authkey, nonce))
            kind, _, self.dim, payload = self._call(protocol.Request(protocol.HELLO, 0, int(max_frames)))
        except (OSError, ConnectionError) as exc:
            self.sock.close()
            raise PipelineError(f"cannot reach the encoder service at {address}: {exc}") from None
        except PipelineError:
            self.sock.close()
            raise
        self.segment = _attach(payload)
        self.max_frames = int(max_frames)
        self.frames_nbytes = self.segment.size - 4 * self.dim * self.max_frames
        self._features = np.ndarray((self.max_frames, self.dim), np.float32, self.segment.buf, offset=self.frames_nbytes)
        self._ids = itertools.count(1)

    def _call(self, request: protocol.Request) -> tuple[int, int, int, str]:
        """Send one request and wait for its reply; the service's refusal becomes a PipelineError."""
        self._send(request)
        return self._reply(request)

    def _send(self, request: protocol.Request) -> None:
        try:
            self.sock.sendall(protocol.pack_request(request))
        except (ConnectionError, OSError) as exc:
            self._service_gone = True
            raise PipelineError(f"the encoder service is gone (it stopped or died): {exc}") from None

    def _reply(self, request: protocol.Request) -> tuple[int, int, int, str]:
        try:
            kind, reply_id, n, payload = protocol.recv_reply(self.sock)
        except TimeoutError:
            raise PipelineError(f"the encoder service did not answer within {self.sock.gettimeout():.0f} s") from None
        except (ConnectionError, OSError) as exc:
            self._service_gone = True
            raise PipelineError(f"the encoder service is gone (it stopped or died): {exc}") from None
        if kind == protocol.ERROR:
            raise PipelineError(f"encoder service: {payload}")
        if reply_id != request.request_id:
            raise PipelineError(f"encoder service answered request {reply_id}, not {request.request_id}")
        return kind, reply_id, n, payload

    def encode(self, frames: np.ndarray) -> np.ndarray:
        self.submit(frames)
        return self.collect()

    def submit(self, frames: np.ndarray) -> None:
        """Send frames without waiting (one request at a time per client): the caller works on while the service
        encodes, then calls `collect`."""
        if self._pending is not None:
            raise PipelineError("submit before the previous request was collected")
        frames = np.ascontiguousarray(frames)
        if frames.dtype != np.uint8:
            raise PipelineError(f"frames must be uint8, got {frames.dtype}")
        if frames.ndim != 4:
            raise PipelineError(f"frames must be (n, H, W, 3), got shape {frames.shape}")
        if frames.nbytes > self.frames_nbytes:
            raise PipelineError(f"{frames.nbytes} bytes of frames do not fit this client's {self.frames_nbytes}-byte segment")
        self._open_segment().buf[: frames.nbytes] = frames.reshape(-1).data
        request = protocol.Request(protocol.ENCODE, next(self._ids), *(int(s) for s in frames.shape))
        self._send(request)
        self._pending = request

    def collect(self) -> np.ndarray:
        """Features of the submitted frames (waits for the service's reply)."""
        if self._pending is None:
            raise PipelineError("collect without a submitted request")
        request, self._pending = self._pending, None
        _, _, n, _ = self._reply(request)
        if self._features is None:
            raise PipelineError("collect on a closed encoder service client")
        return self._features[:n].copy()

    def _open_segment(self) -> shared_memory.SharedMemory:
        if self.segment is None:
            raise PipelineError("submit on a closed encoder service client")
        return self.segment

    def close(self) -> None:
        try:
            self.sock.sendall(protocol.pack_request(protocol.Request(protocol.BYE, 0, 0)))
        except OSError:
            pass
        self._features = None  # release the buffer export before closing the mapping
        if self.segment is not None:
            self.segment.close()
            if self._service_gone:  # a killed service could not unlink the segment it made for us
                try:
                    self.segment.unlink()
                except FileNotFoundError:
                    pass
            self.segment = None
        self.sock.close()
