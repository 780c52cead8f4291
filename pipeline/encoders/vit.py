"""The ViT families, DINOv2 and VC-1: timm's VisionTransformer under each family's official parameter names, its
CLS token after the final norm. Each family's module knows its checkpoint: `checkpoint_url(name)`, `build(name)`
(the network at 224 px) and `from_official(file contents)` (the state dict that network loads)."""

from __future__ import annotations

from types import ModuleType

import torch
from torch import nn

from pipeline.encoders import dinov2, vc1

FAMILIES: dict[str, ModuleType] = {"dinov2": dinov2, "vc1": vc1}  # EncoderSpec.family -> its module


class ViTTrunk(nn.Module):
    def __init__(self, family: str, name: str, state_dict: dict[str, torch.Tensor]):
        """`state_dict` in the network's layout (weights.py converts official files with `from_official`)."""
        super().__init__()
        self.vit = FAMILIES[family].build(name)
        self.vit.load_state_dict(state_dict)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.vit(x)
