"""What the service tests share: the shared-memory segments that exist, and a check that a block leaks none."""

import contextlib
import os


def shm_names() -> set[str]:
    return set(os.listdir("/dev/shm"))


@contextlib.contextmanager
def no_shm_left():
    before = shm_names()
    yield
    assert shm_names() - before == set(), "shared memory left behind"
