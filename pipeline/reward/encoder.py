"""The reward-induced encoder as an encoder: `reward` in the encoder registry, plugged in from this side (as the
VAE is): pyproject.toml names `REWARD_ENCODER` under the entry-point group `rrl_pipe.encoders`."""

from __future__ import annotations

from torch import nn

from pipeline.encoders.registry import EncoderSpec
from pipeline.encoders.weights import ResolvedWeights
from pipeline.reward.model import SERVED_DIM, resolve_reward_weights
from pipeline.vae.model import load_vae_encoder


def _build(weights: ResolvedWeights, layer: str) -> nn.Module:
    return load_vae_encoder(weights)  # the trunk is the VAE's served encoder, under the same parameter names


REWARD_ENCODER = EncoderSpec(
    "reward", "reward", {"feature": SERVED_DIM}, "vae64",
    load_weights=resolve_reward_weights, build_trunk=_build,
    weights_hint="the model file written by train_reward_encoder",
    cpu_bf16=False,  # a 64 px encoder: fp32 is faster on a CPU (see EncoderSpec)
)
