"""One single-threaded first call of every MKL VML function torch uses, before any parallel one.

torch sends contiguous float unary ops (erf, erfinv, exp, log, sqrt, tanh, ...) to MKL's VML, one call per intra-op
thread on its chunk. oneMKL picks each VML function's kernel lazily, on that function's first call; when that first
call runs on several threads at once, one thread can run a low-accuracy kernel over its whole chunk (errors up to
thousands of ulp), and only in that call (pytorch/pytorch#188792, reported on a Xeon with AVX-512). It fits what one
CI machine did: an encode stage and the rollout service built the same seeded random-init ViT (timm's
truncated-normal init goes through erfinv) with different bytes, and the service refused the store; on AMD machines
the two never differ. Calling each function once on a tensor too small for torch to split (under the unary kernels'
2048-element grain) settles every dispatch on one thread; later calls are correct.

Encoders call it before their weights, trainers before their first step, the policy learner before its first update.
"""

from __future__ import annotations

import torch

# ATen's IMPLEMENT_VML_MKL list (aten/src/ATen/cpu/vml.h), each for float32 and float64: a separate MKL function
VML_OPS = ("acos", "asin", "atan", "cos", "erf", "erfc", "erfinv", "exp", "log", "log10", "log2", "sin", "sqrt", "tan",
           "tanh", "trunc")
_SIZE = 64  # far under torch's parallel grain: the call runs on the calling thread
_warmed = False


def warm_vml() -> None:
    """Make the first call of every VML function on one thread; once per process, nothing when torch has no MKL."""
    global _warmed
    if _warmed:
        return
    if torch.backends.mkl.is_available():
        for dtype in (torch.float32, torch.float64):
            x = torch.linspace(0.05, 0.95, _SIZE, dtype=dtype)  # inside every function's domain (erfinv, acos, log)
            for op in VML_OPS:
                getattr(torch, op)(x)
    _warmed = True
