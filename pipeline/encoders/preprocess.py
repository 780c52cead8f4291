"""Preprocessing written once, on tensors, on the encoder's device; shared by the cache and the service.

imagenet (RRL): resize the short side to 256, centre-crop 224, scale to [0, 1], ImageNet mean/std. RRL resized
uint8 PIL images before converting to float; resizing the uint8 tensor (antialiased bilinear, rounded back to
uint8) keeps that order. At the default render size (256) the resize is the identity.
imagenet_bicubic: as imagenet, with a bicubic resize: DINOv2's and VC-1's evaluation transforms.
timm_efficientnet_liteN: what EfficientNet-Lite's weights were trained with (timm's pretrained config): resize the
short side to size / crop_pct (bicubic), centre-crop size, mean and std 0.5. Lite0: 256 -> 224, so at the default
render size it is RRL's crop with another normalisation.
vae64: resize to 64x64 and scale to [0, 1]; no normalisation (the VAE was trained on such inputs).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torchvision.transforms.v2 import functional as F

from pipeline.encoders.efficientnet_lite import INPUT as LITE_INPUT

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def imagenet(frames: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) uint8 -> (N, 3, 224, 224) float32, normalised."""
    frames = resize_crop(frames, 256, 224, bicubic=False)
    return F.normalize(F.to_dtype(frames, torch.float32, scale=True), IMAGENET_MEAN, IMAGENET_STD)


def imagenet_bicubic(frames: torch.Tensor) -> torch.Tensor:
    """DINOv2's evaluation transform (dinov2/data/transforms.py) and VC-1's vit_transforms (vc_models/transforms):
    resize the short side to 256 (bicubic), centre-crop 224, ImageNet mean/std. As `imagenet`, the resize is the
    identity at the default render size."""
    frames = resize_crop(frames, 256, 224, bicubic=True)
    return F.normalize(F.to_dtype(frames, torch.float32, scale=True), IMAGENET_MEAN, IMAGENET_STD)


def resize_crop(frames: torch.Tensor, size: int, crop: int, bicubic: bool) -> torch.Tensor:
    """uint8 (N, 3, H, W): short side to `size` (antialiased; the identity when it is already), centre crop."""
    if min(frames.shape[-2:]) != size:
        mode = F.InterpolationMode.BICUBIC if bicubic else F.InterpolationMode.BILINEAR
        frames = F.resize(frames, [size], interpolation=mode, antialias=True)
    return F.center_crop(frames, [crop, crop])


def timm_eval(size: int, crop_pct: float, mean: tuple[float, ...], std: tuple[float, ...]
              ) -> tuple[Callable[[torch.Tensor], torch.Tensor], str]:
    """timm's evaluation transform (transforms_factory: scale size floor(size / crop_pct), bicubic, centre crop),
    and its description."""
    scale = math.floor(size / crop_pct)

    def preprocess(frames: torch.Tensor) -> torch.Tensor:
        return F.normalize(F.to_dtype(resize_crop(frames, scale, size, bicubic=True), torch.float32, scale=True),
                           mean, std)

    return preprocess, f"uint8 resize short side {scale} (antialias bicubic), centre crop {size}, /255, mean/std {mean[0]}"


def vae64(frames: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) uint8 -> (N, 3, 64, 64) float32 in [0, 1]."""
    if tuple(frames.shape[-2:]) != (64, 64):
        frames = F.resize(frames, [64, 64], antialias=True)
    return F.to_dtype(frames, torch.float32, scale=True)


PREPROCESSORS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "imagenet": imagenet, "imagenet_bicubic": imagenet_bicubic, "vae64": vae64}
DESCRIPTIONS = {
    "imagenet": "uint8 resize short side 256 (antialias bilinear), centre crop 224, /255, ImageNet mean/std",
    "imagenet_bicubic": "uint8 resize short side 256 (antialias bicubic), centre crop 224, /255, ImageNet mean/std",
    "vae64": "uint8 resize 64x64 (antialias bilinear), /255",
}
for _name, (_size, _crop_pct) in LITE_INPUT.items():
    PREPROCESSORS[f"timm_{_name}"], DESCRIPTIONS[f"timm_{_name}"] = timm_eval(_size, _crop_pct, (0.5,) * 3, (0.5,) * 3)
