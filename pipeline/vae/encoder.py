"""The VAE baseline as an encoder: `vae` in the encoder registry, plugged in from this side.

pyproject.toml names `VAE_ENCODER` under the entry-point group `rrl_pipe.encoders`, so `pipeline/encoders`
finds it without importing this package: the served module is the mean of q(z|x) of a train_vae model file.
"""

from __future__ import annotations

from torch import nn

from pipeline.encoders.registry import EncoderSpec
from pipeline.encoders.weights import ResolvedWeights
from pipeline.vae.model import SERVED_DIM, load_vae_encoder, resolve_vae_weights


def _build(weights: ResolvedWeights, layer: str) -> nn.Module:
    return load_vae_encoder(weights)  # one layer: the mean


VAE_ENCODER = EncoderSpec(
    "vae", "vae", {"mean": SERVED_DIM}, "vae64",
    load_weights=resolve_vae_weights, build_trunk=_build,
    weights_hint="the model file written by train_vae",
    cpu_bf16=False,  # a 64 px encoder: fp32 is faster on a CPU (see EncoderSpec)
)
