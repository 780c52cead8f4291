"""The batched encoder service: one process owns the encoder; clients send frames through shared memory.

Protocol (multiprocessing.connection messages over a Unix socket; frames and features never go through it):
  client -> ("hello", max_frames)         service creates the client's segment, replies ("segment", name, dim)
  client -> ("encode", request_id, shape, dtype_str)   frames are already in the segment's input region
  service -> ("ok", request_id, n) | ("error", request_id, message)   features are in the output region
  client -> ("bye",)                      or EOF (a dead client): the service unlinks the segment
The service owns every segment, so a client killed with SIGKILL leaks nothing: its EOF frees its segment.
Pending requests are coalesced into one forward pass of at most `max_batch` frames, waiting at most
`max_wait_ms` for stragglers. Each client's features go back into that client's own segment only.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from multiprocessing import connection, shared_memory

import numpy as np

from pipeline.encoders.encoder import Encoder, EncoderConfig


@dataclass(frozen=True)
class ServiceConfig:
    encoder: EncoderConfig
    image_size: int  # frames must be (n, image_size, image_size, 3) uint8
    cameras: int = 1  # frames per request come in multiples of this (one per camera per env)
    max_batch: int = 64  # frames per forward pass
    max_wait_ms: float = 5.0  # how long a partial batch waits for more requests


@dataclass
class _Client:
    conn: connection.Connection
    segment: shared_memory.SharedMemory | None = None
    max_frames: int = 0
    frames_view: np.ndarray | None = None
    features_view: np.ndarray | None = None


@dataclass
class _Request:
    client: _Client
    request_id: int
    n: int
    arrived: float = field(default_factory=time.perf_counter)


class EncoderService:
    def __init__(self, config: ServiceConfig, address: str, authkey: bytes):
        self.config = config
        self.encoder = Encoder(config.encoder)
        self.dim = self.encoder.dim
        self.frame_bytes = config.image_size * config.image_size * 3
        self.listener = connection.Listener(address, family="AF_UNIX", authkey=authkey)
        self._wake_recv, self._wake_send = connection.Pipe(duplex=False)
        self._new: list[connection.Connection] = []
        self._lock = threading.Lock()
        self.clients: dict[connection.Connection, _Client] = {}
        self.pending: list[_Request] = []
        self.running = True
        self.stats = {"batches": 0, "frames": 0, "encode_s": 0.0}

    # --- connections -----------------------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while self.running:
            try:
                conn = self.listener.accept()
            except (OSError, EOFError, connection.AuthenticationError):
                if not self.running:
                    return
                continue
            with self._lock:
                self._new.append(conn)
            self._wake_send.send_bytes(b"!")

    def _drop(self, client: _Client) -> None:
        """Forget a client (gone, or misbehaving): free its segment and its queued requests."""
        self.pending = [r for r in self.pending if r.client is not client]
        self.clients.pop(client.conn, None)
        client.frames_view = client.features_view = None
        if client.segment is not None:
            client.segment.close()
            client.segment.unlink()
            client.segment = None
        client.conn.close()

    def _reply(self, client: _Client, message: tuple) -> None:
        try:
            client.conn.send(message)
        except (OSError, EOFError):
            self._drop(client)

    # --- messages ----------------------------------------------------------------------------------------------

    def _handle(self, client: _Client) -> None:
        try:
            message = client.conn.recv()
        except (EOFError, OSError):
            self._drop(client)  # the client died (or closed without "bye")
            return
        if not isinstance(message, tuple) or not message:
            self._reply(client, ("error", -1, f"malformed message {message!r:.80}"))
            return
        kind = message[0]
        if kind == "hello" and client.segment is None and len(message) == 2 and isinstance(message[1], int) and message[1] > 0:
            client.max_frames = message[1]
            size = client.max_frames * (self.frame_bytes + 4 * self.dim)
            client.segment = shared_memory.SharedMemory(create=True, size=size)
            buf = client.segment.buf
            client.frames_view = np.ndarray((client.max_frames, self.config.image_size, self.config.image_size, 3), np.uint8, buf)
            client.features_view = np.ndarray((client.max_frames, self.dim), np.float32, buf, offset=client.max_frames * self.frame_bytes)
            self._reply(client, ("segment", client.segment.name, self.dim))
        elif kind == "encode" and client.segment is not None and len(message) == 4:
            _, request_id, shape, dtype = message
            problem = self._check_request(client, shape, dtype)
            if problem:
                self._reply(client, ("error", request_id, problem))
            else:
                self.pending.append(_Request(client, request_id, int(shape[0])))
        elif kind == "bye":
            self._drop(client)
        else:
            self._reply(client, ("error", message[1] if len(message) > 1 and isinstance(message[1], int) else -1,
                                 f"unexpected message {kind!r:.40} (say hello first, once)"))

    def _check_request(self, client: _Client, shape: object, dtype: object) -> str:
        size = self.config.image_size
        if dtype != "uint8":
            return f"frames must be uint8, got {dtype}"
        if not (isinstance(shape, tuple) and len(shape) == 4 and all(isinstance(s, int) for s in shape)):
            return f"frames shape must be (n, H, W, 3), got {shape!r:.60}"
        n, h, w, c = shape
        if (h, w, c) != (size, size, 3):
            return f"frames of shape {shape}: this service encodes ({size}, {size}, 3) images"
        if not 0 < n <= client.max_frames:
            return f"{n} frames: this client's segment holds 1 to {client.max_frames}"
        if n % self.config.cameras:
            return f"{n} frames is not a multiple of the {self.config.cameras} cameras per env"
        return ""

    # --- batching ----------------------------------------------------------------------------------------------

    def _batch_due(self) -> bool:
        if not self.pending:
            return False
        waited_ms = 1e3 * (time.perf_counter() - self.pending[0].arrived)
        return sum(r.n for r in self.pending) >= self.config.max_batch or waited_ms >= self.config.max_wait_ms

    def _run_batch(self) -> None:
        batch, total = [], 0
        while self.pending and (not batch or total + self.pending[0].n <= self.config.max_batch):
            request = self.pending.pop(0)
            batch.append(request)
            total += request.n
        frames = np.concatenate([r.client.frames_view[: r.n] for r in batch])
        start = time.perf_counter()
        features = self.encoder.encode(frames).numpy()
        self.stats["encode_s"] += time.perf_counter() - start
        self.stats["batches"] += 1
        self.stats["frames"] += total
        offset = 0
        for r in batch:
            if r.client.features_view is not None:  # the client may have gone meanwhile
                r.client.features_view[: r.n] = features[offset : offset + r.n]
                self._reply(r.client, ("ok", r.request_id, r.n))
            offset += r.n

    def serve_forever(self) -> None:
        threading.Thread(target=self._accept_loop, daemon=True).start()
        try:
            while self.running:
                timeout = None
                if self.pending:
                    waited = time.perf_counter() - self.pending[0].arrived
                    timeout = max(0.0, self.config.max_wait_ms / 1e3 - waited)
                ready = connection.wait([self._wake_recv, *self.clients], timeout)
                for conn in ready:
                    if conn is self._wake_recv:
                        conn.recv_bytes()
                        with self._lock:
                            for new in self._new:
                                self.clients[new] = _Client(new)
                            self._new.clear()
                    elif conn in self.clients:
                        self._handle(self.clients[conn])
                while self._batch_due():
                    self._run_batch()
        finally:
            self.close()

    def close(self) -> None:
        self.running = False
        for client in list(self.clients.values()):
            self._drop(client)
        self.listener.close()


def serve(config: ServiceConfig, address: str, authkey: bytes, ready) -> None:
    """Entry point of the service process: build the encoder, say ready (or why not), serve until told to stop."""
    try:
        service = EncoderService(config, address, authkey)
    except Exception as exc:  # noqa: BLE001 - reported to the parent as one line
        ready.send(("failed", f"{exc.__class__.__name__}: {exc}"))
        return
    ready.send(("ready", service.dim, service.encoder.key(), str(service.encoder.device)))
    stop = threading.Thread(target=_stop_on_eof, args=(ready, service), daemon=True)
    stop.start()
    service.serve_forever()


def _stop_on_eof(ready, service: EncoderService) -> None:
    """The parent closes (or dies with) its end of the ready pipe: stop serving."""
    try:
        ready.recv()
    except (EOFError, OSError):
        pass
    service.running = False
    service._wake_send.send_bytes(b"!")
