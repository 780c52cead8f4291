"""Child processes that die with their parent: no render, env or service worker outlives a killed stage.

Linux's prctl(PR_SET_PDEATHSIG) has the kernel send SIGKILL to this process when its parent dies, kill -9
included, which no Python-level handler in the parent could do. Elsewhere it is a no-op.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Call first thing in a worker process (a Pool initializer or a Process target)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # the parent died before prctl took effect
        os._exit(1)
