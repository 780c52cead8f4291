"""Frozen image encoders: registry (plug-ins through entry points), weight resolution, preprocessing, and the
Encoder both cache and service run.

May import (tests/test_layers.py holds it): errors, checksum.
"""

from pipeline.encoders.encoder import PRECISIONS, Encoder, EncoderConfig
from pipeline.encoders.registry import ENCODERS, get_encoder_spec

__all__ = ["ENCODERS", "PRECISIONS", "Encoder", "EncoderConfig", "get_encoder_spec"]
