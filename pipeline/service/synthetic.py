"""A stand-in for a GPU encoder, so that the sampler's design can be measured on a CPU as if encoding were nearly
free (`rrl-pipe bench sample --synthetic-encoder`).

It answers a batch of n frames after sleeping `base_ms + per_frame_ms * n` (the default, 2 ms + 0.1 ms per frame,
models ResNet-34 fp16 on a large GPU; issue 15) and uses no CPU while it waits, as a GPU would leave the host's
cores to rendering and physics. Its features are a fixed, cheap function of the pixels (a coarse subsample), so
episodes stay deterministic. It is never a real encoder: its key says `synthetic`, so no policy trained on cached
features can be served by it (the feature keys differ).
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
    def parse(cls, text: str) -> "SyntheticEncoderConfig":
        """`BASE_MS,PER_FRAME_MS` (the bench's --synthetic-encoder), e.g. `2,0.1`."""
        base, per_frame = (float(x) for x in text.split(","))
        return cls(base, per_frame)


class SyntheticEncoder:
    """The service's encoder interface (dim, device, key, encode) without a network behind it."""

    def __init__(self, config: SyntheticEncoderConfig):
        self.config = config
        self.dim = config.dim
        self.device = torch.device("cpu")
        self.precision = "none"

    def key(self) -> dict[str, str]:
        c = self.config
        return {"model": "synthetic", "layer": "", "weights_source": f"synthetic:{c.base_ms}ms+{c.per_frame_ms}ms/frame",
                "weights_sha256": "", "preprocessing": "none", "precision": "none"}

    def encode(self, frames: np.ndarray) -> torch.Tensor:
        n = len(frames)
        time.sleep(1e-3 * (self.config.base_ms + self.config.per_frame_ms * n))
        coarse = np.asarray(frames)[:, ::16, ::16, :].reshape(n, -1)[:, : self.dim].astype(np.float32) / 255.0
        features = np.zeros((n, self.dim), np.float32)
        features[:, : coarse.shape[1]] = coarse
        return torch.from_numpy(features)


def make_backend(config):
    """The encoder a service (or an in-process client) runs for this config: the real Encoder, or the stand-in."""
    if isinstance(config, SyntheticEncoderConfig):
        return SyntheticEncoder(config)
    from pipeline.encoders.encoder import Encoder

    return Encoder(config)
