"""The encoder service's wire format: fixed binary messages over a Unix socket, nothing pickled.

A client with the key used to be able to run code in the service (multiprocessing.connection unpickles what it
receives). Here every client message is one fixed 32-byte record, so the service never allocates, parses or
unpickles anything a client claims; frames and features travel through the client's shared-memory segment.

  connect:  service -> NONCE (32 random bytes);  client -> HMAC-SHA256(key, nonce) (32 bytes)
  client -> REQUEST(kind, request_id, n, h, w, c)       kinds: HELLO (n = max frames), ENCODE, BYE
  service -> REPLY(kind, request_id, n, payload_len) + payload (UTF-8)
             kinds: SEGMENT (n = feature dim, payload = segment name), OK (n frames encoded), ERROR (payload = why)

Hand-written on purpose: the standard library's `hmac` and `struct` are the whole of it, and the service's
requirement (a non-blocking reader that can drop a client mid-message) rules out a blocking RPC library.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import struct
from dataclasses import dataclass

from pipeline.errors import PipelineError

MAGIC = b"RRLE"
VERSION = 1
NONCE_BYTES = 32
DIGEST_BYTES = 32

REQUEST = struct.Struct("<4sBBHQIIII")  # magic, version, kind, 0, request_id, n, h, w, c: 32 bytes
REPLY = struct.Struct("<4sBBHQII")  # magic, version, kind, 0, request_id, n, payload_len: 24 bytes
MAX_REPLY_PAYLOAD = 4096

HELLO, ENCODE, BYE = 1, 2, 3
SEGMENT, OK, ERROR = 1, 2, 3


@dataclass(frozen=True)
class Request:
    kind: int
    request_id: int
    n: int
    h: int = 0
    w: int = 0
    c: int = 0


def new_nonce() -> bytes:
    return os.urandom(NONCE_BYTES)


def digest(authkey: bytes, nonce: bytes) -> bytes:
    return hmac.new(authkey, nonce, hashlib.sha256).digest()


def authentic(authkey: bytes, nonce: bytes, answer: bytes) -> bool:
    return hmac.compare_digest(digest(authkey, nonce), answer)


def pack_request(request: Request) -> bytes:
    return REQUEST.pack(MAGIC, VERSION, request.kind, 0, request.request_id, request.n, request.h, request.w, request.c)


def unpack_request(record: bytes) -> Request | None:
    """A 32-byte record as a Request, or None if it is not one of ours (wrong magic or version)."""
    magic, version, kind, _, request_id, n, h, w, c = REQUEST.unpack(record)
    if magic != MAGIC or version != VERSION:
        return None
    return Request(kind, request_id, n, h, w, c)


def pack_reply(kind: int, request_id: int, n: int, payload: str = "") -> bytes:
    data = payload.encode("utf-8", "replace")[:MAX_REPLY_PAYLOAD]
    return REPLY.pack(MAGIC, VERSION, kind, 0, request_id, n, len(data)) + data


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    """Blocking read of `size` bytes (client side: it trusts the service); EOF raises ConnectionError."""
    chunks, remaining = [], size
    while remaining:
        chunk = sock.recv(remaining)
        if not chunk:
            raise ConnectionError("connection closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def recv_reply(sock: socket.socket) -> tuple[int, int, int, str]:
    """(kind, request_id, n, payload) of the next reply."""
    magic, version, kind, _, request_id, n, length = REPLY.unpack(recv_exactly(sock, REPLY.size))
    if magic != MAGIC or version != VERSION or length > MAX_REPLY_PAYLOAD:
        raise PipelineError("the encoder service answered in another protocol (an older or newer rrl-pipe?)")
    return kind, request_id, n, recv_exactly(sock, length).decode("utf-8", "replace")
