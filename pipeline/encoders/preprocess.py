"""Preprocessing written once, on tensors, on the encoder's device; shared by the cache and the service.

imagenet (RRL): resize the short side to 256, centre-crop 224, scale to [0, 1], ImageNet mean/std. RRL resized
uint8 PIL images before converting to float; resizing the uint8 tensor (antialiased bilinear, rounded back to
uint8) keeps that order. At the default render size (256) the resize is the identity.
imagenet_bicubic: as imagenet, with a bicubic resize: DINOv2's and VC-1's evaluation transforms.
vae64: resize to 64x64 and scale to [0, 1]; no normalisation (the VAE was trained on such inputs).
"""

from __future__ import annotations

import torch
from torchvision.transforms.v2 import functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def imagenet(frames: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) uint8 -> (N, 3, 224, 224) float32, normalised."""
    if min(frames.shape[-2:]) != 256:
        frames = F.resize(frames, [256], antialias=True)
    frames = F.center_crop(frames, [224, 224])
    return F.normalize(F.to_dtype(frames, torch.float32, scale=True), IMAGENET_MEAN, IMAGENET_STD)


def imagenet_bicubic(frames: torch.Tensor) -> torch.Tensor:
    """DINOv2's evaluation transform (dinov2/data/transforms.py) and VC-1's vit_transforms (vc_models/transforms):
    resize the short side to 256 (bicubic), centre-crop 224, ImageNet mean/std. As `imagenet`, the resize is the
    identity at the default render size."""
    if min(frames.shape[-2:]) != 256:
        frames = F.resize(frames, [256], interpolation=F.InterpolationMode.BICUBIC, antialias=True)
    frames = F.center_crop(frames, [224, 224])
    return F.normalize(F.to_dtype(frames, torch.float32, scale=True), IMAGENET_MEAN, IMAGENET_STD)


def vae64(frames: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) uint8 -> (N, 3, 64, 64) float32 in [0, 1]."""
    if tuple(frames.shape[-2:]) != (64, 64):
        frames = F.resize(frames, [64, 64], antialias=True)
    return F.to_dtype(frames, torch.float32, scale=True)


PREPROCESSORS = {"imagenet": imagenet, "imagenet_bicubic": imagenet_bicubic, "vae64": vae64}
DESCRIPTIONS = {
    "imagenet": "uint8 resize short side 256 (antialias bilinear), centre crop 224, /255, ImageNet mean/std",
    "imagenet_bicubic": "uint8 resize short side 256 (antialias bicubic), centre crop 224, /255, ImageNet mean/std",
    "vae64": "uint8 resize 64x64 (antialias bilinear), /255",
}
