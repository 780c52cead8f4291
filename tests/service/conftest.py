"""What the service tests share: the shared-memory segments a service has in /dev/shm, and a running service
that is checked, once closed, to have left none (segments are named after their service, so other processes on
the machine do not disturb the check)."""

import contextlib
import os
import time

from pipeline.service import ServiceConfig, ServiceHandle


def segments(handle: ServiceHandle) -> set[str]:
    return {name for name in os.listdir("/dev/shm") if name.startswith(handle.segment_prefix)}


@contextlib.contextmanager
def running_service(config: ServiceConfig):
    with ServiceHandle(config) as handle:
        yield handle
    assert segments(handle) == set(), "shared memory left behind"


def settled_segments(handle: ServiceHandle, allowed: set[str], timeout_s: float = 10.0) -> set[str]:
    """The service's segments once none is outside `allowed` or `timeout_s` has passed: a client's BYE is handled
    asynchronously, so its segment goes a moment after `close()` returns. A test passes the segments it saw at its
    start as `allowed`; one of those may still go (an earlier test's client whose BYE was in flight), so the check
    is "nothing new is left", not "the same set"."""
    deadline = time.monotonic() + timeout_s
    while not segments(handle) <= allowed and time.monotonic() < deadline:
        time.sleep(0.05)
    return segments(handle)
