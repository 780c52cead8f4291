"""CPU settings for the learner's small-network loops, each applied to one block and restored after it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run a block with n intra-op threads (None: unchanged). Minibatch loops on small MLPs gain nothing from
    threads and, on a CPU shared with other processes, lose a lot (measured: 120 Adam steps of batch 64 took 0.1 s
    on 1 thread, 14 s on 2 under load). torch's setting is process-wide, hence restored on exit."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def flush_denormals() -> Iterator[None]:
    """Run a block with denormal floats flushed to zero. Adam's second moments of near-zero gradients sink into the
    denormal range, where x86 arithmetic is many times slower: measured on the value baseline's fit (40,000
    samples, 2 epochs), 0.9 s on the first call and 5-9 s on each later one, 1.2-1.3 s every time with flushing.
    Values below ~1e-38 become 0, which no result here can see. torch's flag is process-wide, hence restored."""
    before = torch.set_flush_denormal(True)  # returns whether the CPU supports it; the previous state is not given
    try:
        yield
    finally:
        if before:
            torch.set_flush_denormal(False)
