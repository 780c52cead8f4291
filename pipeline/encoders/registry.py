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
    family: str  # resnet | mobilenet | shufflenet (torchvision, built in) | a plug-in's own name: how the backbone is cut
    layers: dict[str, int]  # layer -> feature size; the first is the default (the final global pool)
    preprocessing: str  # a key of pipeline.encoders.preprocess.PREPROCESSORS
    # A plug-in (a trained encoder) brings both: weights from its own file format, (path, sha256) -> ResolvedWeights,
    # and the trunk from them, (weights, layer) -> module. Built-ins leave them None (torchvision's weights API).
    load_weights: Callable[[str, str], ResolvedWeights] | None = None
    build_trunk: Callable[[ResolvedWeights, str], nn.Module] | None = None
    weights_hint: str = ""  # a plug-in's one line on where its weight file comes from

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
PRETRAINED: tuple[str, ...] = tuple(ENCODERS)  # the frozen ImageNet encoders the encode stage caches


def plugin_names() -> list[str]:
    """Names of the plug-in encoders installed (entry points), without importing them."""
    return sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))


def get_encoder_spec(name: str) -> EncoderSpec:
    if name in ENCODERS:
        return ENCODERS[name]
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        known = ", ".join([*ENCODERS, *plugin_names()])
        raise PipelineError(f"unknown model {name!r}; valid models: {known} (plug-ins come from the installed package's "
                            f"entry points: `make setup` after a pull that adds one)")
    spec = found[0].load()
    if not isinstance(spec, EncoderSpec) or spec.name != name:
        raise PipelineError(f"entry point {ENTRY_POINT_GROUP}:{name} ({found[0].value}) is not the EncoderSpec of {name!r}")
    ENCODERS[name] = spec
    return spec
