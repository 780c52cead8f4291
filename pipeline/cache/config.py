"""The encode stage's config: how frozen encoders are run and their features stored (params.yaml `encode`)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from pipeline.cluster import check_backend
from pipeline.encoders.encoder import PRECISIONS, EncoderConfig
from pipeline.encoders.registry import get_encoder_spec
from pipeline.errors import PipelineError, check_choice


@dataclass(frozen=True)
class EncodeConfig:
    """params.yaml `encode`: how the frozen encoders of the top-level matrix `encoders` are run and stored."""

    weights: str = "auto"  # imagenet (fail when not cached) | auto (imagenet, else random + warning) | random | <file>
    weights_sha256: str = ""  # with a weight file: its expected sha256
    layer: str = ""  # empty: the final global pool; resnets also layer1 | layer2 | layer3 (pooled)
    precision: str = "auto"  # auto (bf16 where the CPU/GPU has it natively, else fp32) | fp32 (bit-stable) | bf16 | fp16
    device: str = "auto"  # auto (cuda when present) | cpu | cuda
    batch_size: int = 64  # frames per forward pass
    dtype: str = "float32"  # stored feature dtype: float32 | float16
    backend: str = "local"  # local (this process) | ray (a pool of Ray actors: params `ray`); the same store

    def __post_init__(self) -> None:
        check_choice("encode.precision", self.precision, PRECISIONS)
        check_choice("encode.dtype", self.dtype, ("float32", "float16"))
        check_backend("encode", self.backend)
        if self.batch_size <= 0:
            raise PipelineError(f"encode.batch_size must be positive, got {self.batch_size}")

    def encoder_config(self, model: str, model_file: str | os.PathLike = "") -> EncoderConfig:
        """The encoder this section describes. An encoder trained here (vae, reward) takes its weights from its model
        file, which params cannot name; pretrained ones ignore `model_file`."""
        if get_encoder_spec(model).trained_here:
            if not model_file:
                raise PipelineError(f"encoder {model!r} was trained here: name its model file (model.pt)")
            return EncoderConfig(model=model, weights=str(model_file), precision=self.precision, device=self.device)
        return EncoderConfig(model=model, weights=self.weights, weights_sha256=self.weights_sha256,
                             layer=self.layer, precision=self.precision, device=self.device)
