"""The batched encoder service: the same Encoder as the feature cache, shared by every rollout worker.

May import (tests/test_layers.py holds it): errors, cluster, procs, encoders.
"""

from pipeline.service.client import FrameEncoder, InProcessEncoder, ServiceClient, ServiceHandle
from pipeline.service.server import ServiceConfig

__all__ = ["FrameEncoder", "InProcessEncoder", "ServiceClient", "ServiceConfig", "ServiceHandle"]
