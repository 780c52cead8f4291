"""Frozen image encoders: registry, weight resolution, preprocessing, and the Encoder both cache and service run."""

from pipeline.encoders.encoder import PRECISIONS, Encoder, EncoderConfig
from pipeline.encoders.registry import ENCODERS, get_encoder_spec

__all__ = ["ENCODERS", "PRECISIONS", "Encoder", "EncoderConfig", "get_encoder_spec"]
