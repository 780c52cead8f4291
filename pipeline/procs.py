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
from collections.abc import Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

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


def stop_workers(conns: Sequence[Connection], procs: Sequence[BaseProcess], stop: object, kill: bool = False) -> None:
    """Send each worker `stop` on its pipe (or, `kill`, end it at once: it may be blocked sending what nobody will
    read), give it 10 s to exit, then kill it."""
    for conn, proc in zip(conns, procs):
        if kill:
            proc.kill()
            continue
        try:
            conn.send(stop)
        except OSError:  # it is gone already
            pass
    for proc in procs:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
            proc.join()
