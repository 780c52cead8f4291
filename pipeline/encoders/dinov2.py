"""DINOv2 (Oquab et al. 2023, facebookresearch/dinov2): ViT-S/14 and ViT-B/14, their CLS token after the final norm.

The network is timm's VisionTransformer (timm builds DINOv2's architecture, LayerScale included, under the same
parameter names); the weights are the official checkpoints, `dinov2_vit{s,b}14_pretrain.pth`, which is what
`torch.hub.load("facebookresearch/dinov2", ...)` keeps in the torch hub cache. The checkpoint's position
embeddings are a 37x37 grid (518 px); DINOv2 interpolates them on every forward at another input size (its
`interpolate_pos_encoding`: bicubic, no antialias, scale factor (grid + 0.1) / 37). Our inputs are always 224 px
(16x16 patches of 14), so that same interpolation is done once, when the weights are loaded.
"""

from __future__ import annotations

import torch
from torch import nn

INPUT_SIZE, PATCH = 224, 14
GRID = INPUT_SIZE // PATCH  # 16
INTERPOLATE_OFFSET = 0.1  # DINOv2's "historical kludge" (dinov2/models/vision_transformer.py), kept for its numbers
TITLE = "DINOv2"  # in messages
TIMM_ARCH = {"dinov2_vits14": "vit_small_patch14_dinov2", "dinov2_vitb14": "vit_base_patch14_dinov2"}


def checkpoint_url(name: str) -> str:
    return f"https://dl.fbaipublicfiles.com/dinov2/{name}/{name}_pretrain.pth"


def build(name: str) -> nn.Module:
    """timm's DINOv2 ViT at 224 px, no classifier: its forward returns the normed CLS token."""
    import timm

    return timm.create_model(TIMM_ARCH[name], pretrained=False, num_classes=0, img_size=INPUT_SIZE)


def interpolate_pos_embed(pos_embed: torch.Tensor, grid: int = GRID) -> torch.Tensor:
    """(1, 1 + M*M, D) -> (1, 1 + grid*grid, D), as DINOv2's interpolate_pos_encoding computes it at grid x grid."""
    cls, patches = pos_embed[:, :1].float(), pos_embed[:, 1:].float()
    m, dim = int(round(patches.shape[1] ** 0.5)), patches.shape[-1]
    if m == grid:
        return pos_embed
    scale = (grid + INTERPOLATE_OFFSET) / m
    patches = nn.functional.interpolate(patches.reshape(1, m, m, dim).permute(0, 3, 1, 2), scale_factor=(scale, scale),
                                        mode="bicubic", antialias=False)
    return torch.cat((cls, patches.permute(0, 2, 3, 1).reshape(1, -1, dim)), dim=1).to(pos_embed.dtype)


def from_official(state_dict: dict[str, torch.Tensor], name: str = "") -> dict[str, torch.Tensor]:
    """An official checkpoint (or one already in this layout) -> the 224 px timm model's state dict: the masked-
    token embedding (a training-time parameter) dropped, the positions interpolated."""
    out = {k: v for k, v in state_dict.items() if k != "mask_token"}
    if "pos_embed" in out:
        out["pos_embed"] = interpolate_pos_embed(out["pos_embed"])
    return out

