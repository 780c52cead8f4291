"""Encoder families beside torchvision's ImageNet ResNets: RoboHive's `rrlN` names and R3M's `r3mN` trunks, each
loaded from its real checkpoint layout (made here with random weights), recorded by source, refused when wrong."""

import numpy as np
import pytest
import torch
import torchvision

from pipeline.encoders import Encoder, EncoderConfig
from pipeline.encoders import weights as weights_mod
from pipeline.encoders.registry import get_encoder_spec
from pipeline.errors import PipelineError


def _r3m_checkpoint(path, depth: int, seed: int = 7):
    """What R3M's trainer saves (r3m/train_representation.py): {"r3m": DataParallel(R3M).state_dict()}, the trunk as
    module.convnet.* (fc replaced by Identity: no fc keys) beside the language head."""
    torch.manual_seed(seed)
    trunk = getattr(torchvision.models, f"resnet{depth}")().state_dict()
    state = {f"module.convnet.{k}": v for k, v in trunk.items() if not k.startswith("fc.")}
    state["module.lang_rew.pred.0.weight"] = torch.zeros(4, 4)  # the language head R3M's loader drops as well
    torch.save({"r3m": state, "global_step": 1}, path)
    return trunk


@pytest.mark.parametrize(("name", "dim"), [("r3m18", 512), ("r3m50", 2048), ("rrl34", 512), ("rrl50", 2048)])
def test_family_feature_sizes_and_backbones(name, dim):
    spec = get_encoder_spec(name)
    assert spec.feature_dim("pool") == dim and spec.backbone == f"resnet{name[3:]}"


def test_rrl_names_are_imagenet_v1_as_robohive_loads_them():
    assert get_encoder_spec("rrl50").published == "torchvision:IMAGENET1K_V1"  # not resnet50's DEFAULT (V2)
    assert weights_mod.imagenet_url("resnet50", "IMAGENET1K_V1").endswith("resnet50-0676ba61.pth")
    assert weights_mod.imagenet_url("resnet50").endswith("resnet50-11ad3fa6.pth")


@pytest.mark.slow
def test_r3m_checkpoint_loads_from_r3ms_own_cache_and_features_match_the_trunk(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    path = weights_mod.r3m_checkpoint_path(18)
    path.parent.mkdir(parents=True)
    trunk = _r3m_checkpoint(path, 18)
    enc = Encoder(EncoderConfig(model="r3m18", weights="pretrained"))
    assert enc.key()["weights_source"] == "r3m:r3m_18/model.pt"
    assert enc.key()["weights_sha256"] == weights_mod.file_sha256(path)
    # R3M's way, written from its code: its example's Resize(256) (the identity on our 256 px frames) and
    # CenterCrop(224) of the uint8 image, ToTensor (/255), x 255 into R3M's forward, which divides by 255,
    # normalises with ImageNet's mean/std and runs the convnet with fc = Identity
    frames = np.random.default_rng(0).integers(0, 255, (2, 256, 256, 3), dtype=np.uint8)
    net = torchvision.models.resnet18()
    net.load_state_dict(trunk)
    net.fc = torch.nn.Identity()
    x = torch.as_tensor(frames[:, 16:240, 16:240]).permute(0, 3, 1, 2).float() / 255.0 * 255.0 / 255.0
    x = torchvision.transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])(x)
    with torch.no_grad():
        reference = net.eval()(x)
    torch.testing.assert_close(enc.encode(frames), reference, rtol=1e-4, atol=1e-4)


def test_r3m_missing_file_auto_is_loud_random_and_a_foreign_file_is_refused(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(PipelineError, match=r"R3M weights for r3m34 are not available: put model.pt .*\.r3m/r3m_34/"):
        Encoder(EncoderConfig(model="r3m34", weights="pretrained"))
    enc = Encoder(EncoderConfig(model="r3m34", weights="auto"))
    assert enc.key()["weights_source"] == "random:seed=0" and "RANDOM initialisation" in capfd.readouterr().err
    foreign = tmp_path / "foreign.pt"
    torch.save({"r3m": {"module.other.weight": torch.zeros(2)}}, foreign)
    with pytest.raises(PipelineError, match="not an R3M checkpoint"):
        Encoder(EncoderConfig(model="r3m34", weights=str(foreign)))


@pytest.mark.slow
def test_an_explicit_r3m_file_is_checked_by_sha256_and_a_resnet_file_that_does_not_fit_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    _r3m_checkpoint(path, 50)
    good = weights_mod.file_sha256(path)
    enc = Encoder(EncoderConfig(model="r3m50", weights=str(path), weights_sha256=good))
    assert enc.key()["weights_source"] == "file:model.pt" and enc.dim == 2048
    with pytest.raises(PipelineError, match="does not match the expected"):
        Encoder(EncoderConfig(model="r3m50", weights=str(path), weights_sha256="0" * 64))
    with pytest.raises(PipelineError, match="do not fit r3m18"):  # a ResNet-50 trunk is not a ResNet-18
        Encoder(EncoderConfig(model="r3m18", weights=str(path)))
