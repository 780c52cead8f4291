"""VC-1 (Majumdar et al. 2023, facebookresearch/eai-vc): MAE-trained ViT-B/16 and ViT-L/16, their CLS token after
the final norm (VC-1's `use_cls=True` embedding: 768 and 1024 values).

VC-1's model (vc_models/models/vit/vit.py) is a subclass of timm's VisionTransformer that deletes the head and
returns `norm(x)[:, 0]`; it adds the positions to the patch tokens before prepending the CLS token with its own
position, which is the same sum as timm's forward. timm's `vit_{base,large}_patch16_224` with no classifier is
therefore VC-1's network under the same parameter names (patch 16, MLP ratio 4, qkv bias, LayerNorm eps 1e-6).
The weights are the published `vc1_vitb.pth` / `vc1_vitl.pth`: `{"model": MAE state dict, ...}`, whose decoder
and mask token VC-1's `load_mae_encoder` drops before a strict load, resizing the positions when the grid differs
(timm 0.6's resize_pos_embed: bicubic, no antialias). VC-1 itself keeps the file inside its package
(`model_ckpts/`); we keep it in the torch hub cache, or take an explicit file.
"""

from __future__ import annotations

import torch
from torch import nn

INPUT_SIZE, PATCH = 224, 16
GRID = INPUT_SIZE // PATCH  # 14
TITLE = "VC-1"  # in messages
TIMM_ARCH = {"vc1_base": "vit_base_patch16_224", "vc1_large": "vit_large_patch16_224"}
CHECKPOINT = {"vc1_base": "vc1_vitb.pth", "vc1_large": "vc1_vitl.pth"}  # vc_models/models/vit/model_utils.py


def checkpoint_url(name: str) -> str:
    return f"https://dl.fbaipublicfiles.com/eai-vc/{CHECKPOINT[name]}"


def build(name: str) -> nn.Module:
    """timm's ViT at 224 px, no classifier: its forward returns the normed CLS token (VC-1's embedding)."""
    import timm

    return timm.create_model(TIMM_ARCH[name], pretrained=False, num_classes=0, global_pool="token")


def from_official(checkpoint: dict, name: str = "") -> dict[str, torch.Tensor]:
    """A published VC-1 file (`{"model": ...}`, or its bare state dict) -> the encoder's state dict, as VC-1's
    load_mae_encoder makes it: MAE's decoder and mask token dropped, positions resized to 14x14 if they differ."""
    from timm.layers import resample_abs_pos_embed

    state_dict = checkpoint.get("model", checkpoint)
    out = {k: v for k, v in state_dict.items() if "decoder" not in k and "mask_token" not in k}
    pos = out.get("pos_embed")
    if pos is not None and pos.shape[1] != 1 + GRID * GRID:
        out["pos_embed"] = resample_abs_pos_embed(pos, new_size=[GRID, GRID], num_prefix_tokens=1,
                                                  interpolation="bicubic", antialias=False)
    return out
