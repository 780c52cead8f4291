"""The encoders rrl-pipe knows: their layers, feature sizes and preprocessing."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.errors import PipelineError


@dataclass(frozen=True)
class EncoderSpec:
    name: str
    family: str  # resnet | mobilenet | shufflenet | vae: how the backbone is cut
    layers: dict[str, int]  # layer -> feature size; the first is the default (the final global pool)
    preprocessing: str  # a key of pipeline.encoders.preprocess.PREPROCESSORS

    @property
    def default_layer(self) -> str:
        return next(iter(self.layers))

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
    # the baseline VAE trained by the train_vae stage: the mean of q(z|x)
    "vae": EncoderSpec("vae", "vae", {"mean": 512}, "vae64"),
}


def get_encoder_spec(name: str) -> EncoderSpec:
    try:
        return ENCODERS[name]
    except KeyError:
        raise PipelineError(f"unknown model {name!r}; valid models: {', '.join(ENCODERS)}") from None
