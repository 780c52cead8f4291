"""The service's batching rule, shared by the local service (server.py) and the Ray service actor
(ray_service.py), so both coalesce requests into forward passes the same way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar


class Waiting(Protocol):
    n: int  # frames of the request
    arrived: float  # time.perf_counter() when it arrived


R = TypeVar("R", bound=Waiting)


def batch_due(pending: Sequence[Waiting], max_batch: int, max_wait_ms: float, every_client_waiting: bool,
              now: float) -> bool:
    """Encode now when the pending frames fill a batch, when nobody else can join (every client waits on an
    answer: one request each at a time), or when the oldest request has waited max_wait_ms."""
    if not pending:
        return False
    if sum(r.n for r in pending) >= max_batch or every_client_waiting:
        return True
    return 1e3 * (now - pending[0].arrived) >= max_wait_ms


def take_batch(pending: list[R], max_batch: int) -> list[R]:
    """Remove and return the oldest pending requests, up to max_batch frames (always at least one)."""
    taken: list[R] = []
    total = 0
    while pending and (not taken or total + pending[0].n <= max_batch):
        request = pending.pop(0)
        taken.append(request)
        total += request.n
    return taken


def wait_left_s(pending: Sequence[Waiting], max_wait_ms: float, now: float) -> float:
    """Seconds until the oldest pending request has waited max_wait_ms (0 when it has)."""
    return max(0.0, max_wait_ms / 1e3 - (now - pending[0].arrived)) if pending else max_wait_ms / 1e3
