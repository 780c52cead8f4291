"""A stand-in for a GPU encoder, so that the sampler's design can be measured on a CPU as if encoding were nearly
free (`rrl-pipe bench sample --synthetic-encoder`). The service knows nothing of it: it runs whatever
encoder its config's `build()` gives.

It answers a batch of n frames `base_ms + per_frame_ms * n` after the modelled device is free (the default, 2 ms +
0.1 ms per frame, models ResNet-34 fp16 on a large GPU), queued as a CUDA stream queues work: `submit`
returns at once and the service assembles the next batch meanwhile, and nothing uses CPU while it waits, as a GPU
would leave the host's cores to rendering and physics. Its features are a fixed, cheap function of the pixels (a
coarse subsample), so episodes stay deterministic. It is never a real encoder: its key says `synthetic`, so no policy
trained on cached features can be served by it (the feature keys differ).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class SyntheticEncoderConfig:
    base_ms: float = 2.0  # latency of any batch (launch, copies)
    per_frame_ms: float = 0.1  # and per frame in it
    dim: int = 512  # feature size, as ResNet-18/34's pool

    @classmethod
    def parse(cls, text: str) -> SyntheticEncoderConfig:
        """`BASE_MS,PER_FRAME_MS` (the bench's --synthetic-encoder), e.g. `2,0.1`."""
        base, per_frame = (float(x) for x in text.split(","))
        return cls(base, per_frame)

    def build(self) -> SyntheticEncoder:
        """What a service runs for this config (the service asks every encoder config for its encoder this way)."""
        return SyntheticEncoder(self)


class SyntheticEncoder:
    """The service's encoder interface (dim, device, key, encode) without a network behind it."""

    def __init__(self, config: SyntheticEncoderConfig):
        self.config = config
        self.dim = config.dim
        self.device = torch.device("cpu")
        self.precision = "none"
        self._busy_until = 0.0  # when the modelled device finishes its last queued batch

    def key(self) -> dict[str, str]:
        c = self.config
        return {"model": "synthetic", "layer": "", "weights_source": f"synthetic:{c.base_ms}ms+{c.per_frame_ms}ms/frame",
                "weights_sha256": "", "preprocessing": "none", "precision": "none"}

    def encode(self, frames: np.ndarray) -> torch.Tensor:
        return self.submit(frames).result()

    def submit(self, frames: np.ndarray) -> _SyntheticPending:
        """Queue a batch on the modelled device: it starts when the previous one ends (one device, batches in
        order) and is ready `base_ms + per_frame_ms * n` later; nothing here waits."""
        n = len(frames)
        coarse = np.asarray(frames)[:, ::16, ::16, :].reshape(n, -1)[:, : self.dim].astype(np.float32) / 255.0
        features = np.zeros((n, self.dim), np.float32)
        features[:, : coarse.shape[1]] = coarse
        start = max(time.perf_counter(), self._busy_until)
        self._busy_until = start + 1e-3 * (self.config.base_ms + self.config.per_frame_ms * n)
        return _SyntheticPending(torch.from_numpy(features), self._busy_until)


class _SyntheticPending:
    """Encoder.PendingFeatures' interface for the modelled device: ready at a time, sleeping (no CPU) until then."""

    def __init__(self, features: torch.Tensor, ready_at: float):
        self._features, self._ready_at = features, ready_at

    def poll_after_s(self) -> float:
        return max(0.0, self._ready_at - time.perf_counter())

    def done(self) -> bool:
        return self.poll_after_s() == 0.0

    def result(self) -> torch.Tensor:
        time.sleep(self.poll_after_s())
        return self._features
