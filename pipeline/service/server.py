"""The batched encoder service: one process owns the encoder; clients send frames through shared memory.

Wire format: protocol.py (fixed binary records over a Unix socket; nothing a client sends is unpickled).
  client -> HELLO(max_frames)      service creates the client's segment, replies SEGMENT(dim, name)
  client -> ENCODE(id, n, h, w, c) frames are already in the segment's input region
  service -> OK(id, n) | ERROR(id, why)   features are in the output region
  client -> BYE                    or EOF (a dead client): the service unlinks the segment
The service owns every segment, so a client killed with SIGKILL leaks nothing: its EOF frees its segment.
Pending requests are coalesced into one forward pass of at most `max_batch` frames, waiting at most
`max_wait_ms` for stragglers (no wait once every client has a request waiting: nobody else can join). Each
client's features go back into that client's own segment only. The encoder is fed, not waited on: a batch is
submitted (`Encoder.submit`) and answered when its features are there, so on a GPU the next batch is assembled
while one runs (at most MAX_OUTSTANDING outstanding); on a CPU submit does the work and nothing changes.

No client can kill or stall the service: one event loop reads every socket without blocking, a client's bytes
are parsed only once a whole 32-byte record is there, a partial record or handshake older than
`client_timeout_s` drops that client, every handler is guarded (a failing client is dropped, the loop goes on),
and what a client may claim (frames per segment, bytes of /dev/shm) is bounded before anything is allocated.
"""

from __future__ import annotations

import os
import selectors
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing import shared_memory
from typing import Any, Protocol

import numpy as np

from pipeline.encoders.encoder import MAX_OUTSTANDING, PendingFeatures
from pipeline.procs import die_with_parent
from pipeline.service import protocol
from pipeline.service.batching import batch_due, take_batch, wait_left_s
from pipeline.service.protocol import BYE, ENCODE, ERROR, HELLO, OK, SEGMENT


class EncoderSource(Protocol):
    """A picklable config whose build() gives what the service runs: EncoderConfig (an Encoder), or a benchmark's
    stand-in with the same interface (dim, device, key, encode, submit)."""

    def build(self) -> Any: ...


@dataclass(frozen=True)
class ServiceConfig:
    encoder: EncoderSource  # EncoderConfig; a benchmark may give its own stand-in
    image_size: int  # frames must be (n, image_size, image_size, 3) uint8
    cameras: int = 1  # frames per request come in multiples of this (one per camera per env)
    max_batch: int = 64  # frames per forward pass
    max_wait_ms: float = 5.0  # how long a partial batch waits for more requests
    max_client_frames: int = 4096  # the most frames one client's segment may hold
    max_clients: int = 256  # connections beyond this are closed at once
    client_timeout_s: float = 10.0  # a handshake or a partial record older than this drops the client


def segment_prefix(service_pid: int) -> str:
    """Every shared-memory segment a service makes is /dev/shm/rrl_<service pid>_<n>: a leak names its owner."""
    return f"rrl_{service_pid}_"


@dataclass
class _Client:
    sock: socket.socket
    nonce: bytes
    since: float = field(default_factory=time.monotonic)  # when the unanswered handshake / partial record began
    authenticated: bool = False
    buffer: bytearray = field(default_factory=bytearray)
    segment: shared_memory.SharedMemory | None = None
    max_frames: int = 0
    frames_view: np.ndarray | None = None
    features_view: np.ndarray | None = None
    in_flight: bool = False  # one request at a time: its frames occupy the segment until answered

    def frames(self, n: int) -> np.ndarray:
        """The first n frames of its segment (a pending request's client is never dropped: see _drop)."""
        assert self.frames_view is not None
        return self.frames_view[:n]


@dataclass
class _Request:
    client: _Client
    request_id: int
    n: int
    arrived: float = field(default_factory=time.perf_counter)


@dataclass
class _Batch:
    requests: list[_Request]
    frames: int
    features: PendingFeatures  # the encoder's handle: done() / result()
    start: float



class EncoderService:
    def __init__(self, config: ServiceConfig, address: str, authkey: bytes):
        self.config = config
        self.authkey = authkey
        self.encoder = config.encoder.build()
        self.dim = self.encoder.dim
        self.frame_bytes = config.image_size * config.image_size * 3
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(address)
        self.listener.listen(64)
        self.listener.setblocking(False)
        self._wake_recv, self._wake_send = os.pipe()
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ)
        self.selector.register(self._wake_recv, selectors.EVENT_READ)
        self.clients: dict[int, _Client] = {}  # by socket fd
        self.pending: list[_Request] = []
        self.submitted: deque[_Batch] = deque()  # submitted to the encoder, not yet answered (oldest first)
        self.running = True
        # overlapped: batches submitted while an earlier one was still running (a GPU kept fed; 0 on a CPU)
        self.stats = {"batches": 0, "frames": 0, "encode_s": 0.0, "dropped": 0, "overlapped": 0}
        self._segments_made = 0

    def wake(self) -> None:
        """Interrupt the event loop (from another thread), e.g. after `running` was set False."""
        os.write(self._wake_send, b"!")

    # --- connections -----------------------------------------------------------------------------------------

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            if len(self.clients) >= self.config.max_clients:
                sock.close()
                continue
            sock.setblocking(False)
            client = _Client(sock, protocol.new_nonce())
            self.clients[sock.fileno()] = client
            self.selector.register(sock, selectors.EVENT_READ, client)
            self._send(client, client.nonce)

    def _drop(self, client: _Client, why: str = "") -> None:
        """Forget a client (gone, or misbehaving): free its segment and its queued requests."""
        if why:
            self.stats["dropped"] += 1
            print(f"encoder service: dropped a client: {why}", file=sys.stderr, flush=True)
        self.pending = [r for r in self.pending if r.client is not client]
        if self.clients.pop(client.sock.fileno(), None) is not None:
            self.selector.unregister(client.sock)
        client.frames_view = client.features_view = None
        if client.segment is not None:
            client.segment.close()
            client.segment.unlink()
            client.segment = None
        client.sock.close()

    def _send(self, client: _Client, data: bytes) -> None:
        """Non-blocking send; a client that does not read its replies (socket buffer full) is dropped."""
        try:
            sent = client.sock.send(data)
        except (BlockingIOError, OSError):
            sent = -1
        if sent != len(data):
            self._drop(client, "it does not read its replies" if sent >= 0 else "")

    def _reply_error(self, client: _Client, request_id: int, why: str) -> None:
        self._send(client, protocol.pack_reply(ERROR, request_id, 0, why))

    # --- messages ----------------------------------------------------------------------------------------------

    def _readable(self, client: _Client) -> None:
        try:
            data = client.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(client)  # the client died (or closed without BYE)
            return
        if not client.buffer and client.authenticated:
            client.since = time.monotonic()  # a record starts with these bytes
        client.buffer += data
        completed = False
        if not client.authenticated:
            if len(client.buffer) < protocol.DIGEST_BYTES:
                return
            answer = bytes(client.buffer[: protocol.DIGEST_BYTES])
            del client.buffer[: protocol.DIGEST_BYTES]
            if not protocol.authentic(self.authkey, client.nonce, answer):
                self._drop(client, "wrong key")
                return
            client.authenticated = completed = True
        size = protocol.REQUEST.size
        while len(client.buffer) >= size and client.sock.fileno() in self.clients:
            record = bytes(client.buffer[:size])
            del client.buffer[:size]
            request = protocol.unpack_request(record)
            if request is None:
                self._drop(client, "not an rrl-pipe encoder client (bad record)")
                return
            self._handle(client, request)
            completed = True
        # the timer runs from a message's first byte to its last: a read that completes nothing (one byte every few
        # seconds) does not restart it; bytes left after a completed message began in this read
        if completed:
            client.since = time.monotonic()

    def _handle(self, client: _Client, request: protocol.Request) -> None:
        if request.kind == HELLO:
            problem = self._check_hello(client, request.n)
            if problem:
                self._reply_error(client, request.request_id, problem)
                return
            size = request.n * (self.frame_bytes + 4 * self.dim)
            self._segments_made += 1
            name = f"{segment_prefix(os.getpid())}{self._segments_made}"
            client.segment = shared_memory.SharedMemory(name=name, create=True, size=size)
            client.max_frames = request.n
            buf = client.segment.buf
            client.frames_view = np.ndarray((request.n, self.config.image_size, self.config.image_size, 3), np.uint8, buf)
            client.features_view = np.ndarray((request.n, self.dim), np.float32, buf, offset=request.n * self.frame_bytes)
            self._send(client, protocol.pack_reply(SEGMENT, request.request_id, self.dim, client.segment.name))
        elif request.kind == ENCODE:
            problem = self._check_request(client, request)
            if problem:
                self._reply_error(client, request.request_id, problem)
            else:
                client.in_flight = True
                self.pending.append(_Request(client, request.request_id, request.n))
        elif request.kind == BYE:
            self._drop(client)
        else:
            self._reply_error(client, request.request_id, f"unknown request kind {request.kind}")

    def _check_hello(self, client: _Client, max_frames: int) -> str:
        if client.segment is not None:
            return "hello once per connection"
        if not 0 < max_frames <= self.config.max_client_frames:
            return f"a client's segment holds 1 to {self.config.max_client_frames} frames, not {max_frames}"
        size = max_frames * (self.frame_bytes + 4 * self.dim)
        shm = os.statvfs("/dev/shm")
        if size > shm.f_bavail * shm.f_frsize // 2:  # never let one client claim half of what is left
            return f"{size} bytes of shared memory for {max_frames} frames: /dev/shm has too little free space"
        return ""

    def _check_request(self, client: _Client, request: protocol.Request) -> str:
        size = self.config.image_size
        if client.segment is None:
            return "say hello first"
        if client.in_flight:
            return "one request at a time: wait for the reply"
        n, shape = request.n, (request.n, request.h, request.w, request.c)
        if (request.h, request.w, request.c) != (size, size, 3):
            return f"frames of shape {shape}: this service encodes ({size}, {size}, 3) images"
        if not 0 < n <= client.max_frames:
            return f"{n} frames: this client's segment holds 1 to {client.max_frames}"
        if n % self.config.cameras:
            return f"{n} frames is not a multiple of the {self.config.cameras} cameras per env"
        return ""

    def _drop_stalled(self) -> None:
        """A client mid-handshake or mid-record for longer than client_timeout_s is dropped."""
        now = time.monotonic()
        for client in list(self.clients.values()):
            partial = not client.authenticated or bool(client.buffer)
            if partial and now - client.since > self.config.client_timeout_s:
                self._drop(client, f"stalled for {self.config.client_timeout_s:g} s mid-message")

    # --- batching ----------------------------------------------------------------------------------------------

    def _batch_due(self) -> bool:
        if len(self.submitted) >= MAX_OUTSTANDING:
            return False
        every_client_waiting = all(c.in_flight for c in self.clients.values() if c.segment is not None)
        return batch_due(self.pending, self.config.max_batch, self.config.max_wait_ms, every_client_waiting,
                         time.perf_counter())

    def _launch_batch(self) -> None:
        """Take the oldest pending requests (up to max_batch frames) and submit them to the encoder as one batch.
        A CPU encoder works here; a CUDA one (or the synthetic) only queues the batch, and the loop goes on reading
        sockets and assembling the next batch while it runs."""
        requests = take_batch(self.pending, self.config.max_batch)
        total = sum(r.n for r in requests)
        frames = np.concatenate([r.client.frames(r.n) for r in requests])
        start = time.perf_counter()
        try:
            features = self.encoder.submit(frames)
        except Exception as exc:  # noqa: BLE001 - the batch fails, the service goes on
            self._fail(requests, exc)
            return
        self.stats["overlapped"] += bool(self.submitted)
        self.submitted.append(_Batch(requests, total, features, start))

    def _finish_batches(self) -> None:
        """Answer every batch whose features are there, oldest first (batches finish in the order they ran)."""
        while self.submitted and self.submitted[0].features.done():
            batch = self.submitted.popleft()
            try:
                features = batch.features.result().numpy()
            except Exception as exc:  # noqa: BLE001 - as a failed submit
                self._fail(batch.requests, exc)
                continue
            self.stats["encode_s"] += time.perf_counter() - batch.start
            self.stats["batches"] += 1
            self.stats["frames"] += batch.frames
            offset = 0
            for r in batch.requests:
                if r.client.features_view is not None:  # the client may have gone meanwhile
                    r.client.features_view[: r.n] = features[offset : offset + r.n]
                    r.client.in_flight = False
                    self._send(r.client, protocol.pack_reply(OK, r.request_id, r.n))
                offset += r.n

    def _fail(self, requests: list[_Request], exc: Exception) -> None:
        for r in requests:
            r.client.in_flight = False
            self._reply_error(r.client, r.request_id, f"encoding failed: {type(exc).__name__}: {exc}")

    def _timeout(self) -> float:
        timeout = 1.0  # at least once a second: stalled clients are checked
        if self.pending and len(self.submitted) < MAX_OUTSTANDING:  # (when full, only a finish frees a slot)
            timeout = min(timeout, wait_left_s(self.pending, self.config.max_wait_ms, time.perf_counter()))
        if self.submitted:  # look again when the oldest running batch should be done
            timeout = min(timeout, self.submitted[0].features.poll_after_s())
        return timeout

    def serve_forever(self) -> None:
        try:
            while self.running:
                for key, _ in self.selector.select(self._timeout()):
                    if key.fileobj is self.listener:
                        self._accept()
                    elif key.fileobj == self._wake_recv:
                        os.read(self._wake_recv, 4096)
                    elif key.data.sock.fileno() in self.clients:
                        try:
                            self._readable(key.data)
                        except Exception as exc:  # noqa: BLE001 - one client's failure is that client's only
                            self._drop(key.data, f"{type(exc).__name__}: {exc}")
                self._drop_stalled()
                self._finish_batches()
                while self._batch_due():
                    self._launch_batch()
                    self._finish_batches()  # a CPU batch is done already: answer before assembling the next
        finally:
            self.close()

    def close(self) -> None:
        self.running = False
        for client in list(self.clients.values()):
            self._drop(client)
        self.selector.close()
        self.listener.close()
        for fd in (self._wake_recv, self._wake_send):
            try:
                os.close(fd)
            except OSError:
                pass


def serve(config: ServiceConfig, address: str, authkey: bytes, ready) -> None:
    """Entry point of the service process: build the encoder, say ready (or why not), serve until told to stop."""
    die_with_parent()
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
    """Answer the parent's ("stats",) with the service's counters; when the parent closes (or dies with) its end of
    the ready pipe, stop serving."""
    try:
        while ready.recv() == ("stats",):
            ready.send(("stats", dict(service.stats)))
    except (EOFError, OSError):
        pass
    service.running = False
    try:
        service.wake()
    except OSError:
        pass
