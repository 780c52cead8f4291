"""Encoder features against an independent torchvision computation; weights resolution; clear errors."""


import numpy as np
import pytest
import torch
import torchvision
from torchvision.transforms import v2

from pipeline.encoders import Encoder, EncoderConfig
from pipeline.encoders import encoder as encoder_mod
from pipeline.encoders import weights as weights_mod
from pipeline.errors import PipelineError
from pipeline.formats.frames import FramesFile
from tests.encoders.conftest import make_frames


def reference_features(frames: np.ndarray, model: str, layer_cut=None) -> np.ndarray:
    """What RRL computes, written independently: torchvision model, fc removed, documented preprocessing, fp32."""
    torch.manual_seed(0)
    net = torchvision.models.get_model(model, weights=None).eval()
    net.fc = torch.nn.Identity()
    transform = v2.Compose([v2.Resize(256, antialias=True), v2.CenterCrop(224), v2.ToDtype(torch.float32, scale=True),
                            v2.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    with torch.no_grad():
        x = torch.stack([transform(torch.from_numpy(f).permute(2, 0, 1)) for f in frames])
        return net(x).numpy()


def rel_err(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("size", [256, pytest.param(160, marks=pytest.mark.slow)])
def test_resnet18_features_match_an_independent_computation(tmp_path, frames_256, size):
    path = frames_256 if size == 256 else make_frames(tmp_path / "small.h5", size=size)
    with FramesFile(path) as f:
        frames = f.frames(0, "top")[:]
    ours = Encoder(EncoderConfig(model="resnet18", weights="random")).encode(frames).numpy()
    assert ours.shape == (len(frames), 512)
    assert rel_err(ours, reference_features(frames, "resnet18")) < 1e-5


def test_bf16_stays_close_to_fp32(frames_256, monkeypatch):
    # The check refuses emulated bf16 for speed, not correctness: allow it here to test the numbers anywhere.
    monkeypatch.setattr(encoder_mod, "cpu_has_native_bf16", lambda: True)
    with FramesFile(frames_256) as f:
        frames = f.frames(0, "top")[:4]
    fp32 = Encoder(EncoderConfig(weights="random")).encode(frames).numpy()
    bf16 = Encoder(EncoderConfig(weights="random", precision="bf16")).encode(frames).numpy()
    assert 0 < rel_err(bf16, fp32) < 2e-2


def test_bf16_without_native_support_is_refused(monkeypatch):
    monkeypatch.setattr(encoder_mod, "cpu_has_native_bf16", lambda: False)
    with pytest.raises(PipelineError, match="needs a CPU with native bf16"):
        Encoder(EncoderConfig(weights="random", precision="bf16", device="cpu"))


@pytest.mark.parametrize(("model", "layer", "dim"), [("resnet18", "layer2", 128),
                                                      pytest.param("resnet50", "", 2048, marks=pytest.mark.slow),
                                                      *(pytest.param(*row, marks=pytest.mark.slow) for row in
                                                        (("mobilenet_v3_large", "", 960), ("shufflenet_v2_x1_0", "", 1024)))])
def test_every_model_and_layer_gives_its_documented_size(model, layer, dim):
    enc = Encoder(EncoderConfig(model=model, weights="random", layer=layer))
    assert enc.encode(np.zeros((2, 256, 256, 3), np.uint8)).shape == (2, dim)
    assert not any(p.requires_grad for p in enc.module.parameters()) and not enc.module.training


def test_frames_of_wrong_shape_or_dtype_are_refused():
    enc = Encoder(EncoderConfig(weights="random"))
    with pytest.raises(PipelineError, match=r"frames of shape \(2, 3, 64, 64\).*takes \(N, H, W, 3\) uint8"):
        enc.encode(np.zeros((2, 3, 64, 64), np.uint8))
    with pytest.raises(PipelineError, match="dtype float32"):
        enc.encode(np.zeros((2, 64, 64, 3), np.float32))


def test_unknown_model_and_layer():
    with pytest.raises(PipelineError, match="unknown model 'resnet99'; valid models: resnet18, resnet34"):
        Encoder(EncoderConfig(model="resnet99"))
    with pytest.raises(PipelineError, match="resnet18: unknown layer 'layer9'; layers: pool, layer1"):
        Encoder(EncoderConfig(weights="random", layer="layer9"))


def test_fp16_on_cpu_is_refused():
    with pytest.raises(PipelineError, match="fp16 runs on CUDA only"):
        Encoder(EncoderConfig(weights="random", precision="fp16", device="cpu"))


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A private torch hub cache holding a 'downloaded' resnet18 file whose name carries its real hash prefix."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    torch.manual_seed(123)
    state = torchvision.models.resnet18().state_dict()
    staged = tmp_path / "staged.pth"
    torch.save(state, staged)
    prefix = weights_mod.file_sha256(staged)[:8]
    monkeypatch.setattr(weights_mod, "imagenet_url",
                        lambda model, member="DEFAULT": f"https://example.invalid/{model}-{prefix}.pth")
    target = weights_mod.hub_checkpoint_path("resnet18")
    target.parent.mkdir(parents=True)
    staged.rename(target)
    return target, state


def test_imagenet_weights_load_from_the_hub_cache(hub):
    target, state = hub
    enc = Encoder(EncoderConfig(weights="imagenet"))
    assert enc.weights.source == "imagenet:IMAGENET1K_V1"
    assert enc.weights.sha256 == weights_mod.file_sha256(target)
    torch.testing.assert_close(enc.trunk.body[0].weight, state["conv1.weight"])


def test_a_cached_file_that_does_not_match_its_hash_prefix_is_refused(hub):
    target, _ = hub
    target.write_bytes(target.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(PipelineError, match="does not match the hash prefix"):
        Encoder(EncoderConfig(weights="imagenet"))


def test_imagenet_fails_fast_naming_the_file_and_auto_falls_back_in_one_line(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    monkeypatch.setattr(weights_mod, "imagenet_url",
                        lambda model, member="DEFAULT": f"http://127.0.0.1:9/{model}-f37072fd.pth")
    with pytest.raises(PipelineError, match=r"put resnet18-f37072fd\.pth .* into .*empty/hub/checkpoints/"):
        Encoder(EncoderConfig(weights="imagenet"))
    capfd.readouterr()
    enc = Encoder(EncoderConfig(weights="auto"))
    assert enc.key()["weights_source"] == "random:seed=0"
    captured = capfd.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and "weights auto:" in lines[0] and "RANDOM initialisation" in lines[0]
    assert "Downloading" not in captured.out  # torchvision's banner (stdout in torch 2.13) is held back


def test_explicit_weight_file_with_sha256_check(tmp_path):
    path = tmp_path / "mine.pth"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    good = weights_mod.file_sha256(path)
    enc = Encoder(EncoderConfig(weights=str(path), weights_sha256=good))
    assert enc.key()["weights_source"] == "file:mine.pth" and enc.key()["weights_sha256"] == good
    with pytest.raises(PipelineError, match="does not match the expected"):
        Encoder(EncoderConfig(weights=str(path), weights_sha256="0" * 64))
    with pytest.raises(PipelineError, match="no such weight file"):
        Encoder(EncoderConfig(weights=str(tmp_path / "nope.pth")))


@pytest.mark.parametrize("native,expected", [(True, "bf16"), pytest.param(False, "fp32", marks=pytest.mark.slow)])
def test_precision_auto_runs_bf16_only_where_the_cpu_has_it_and_says_which(monkeypatch, native, expected):
    monkeypatch.setattr(encoder_mod, "cpu_has_native_bf16", lambda: native)
    enc = Encoder(EncoderConfig(weights="random", precision="auto", device="cpu"))
    assert enc.precision == expected and enc.key()["precision"] == expected  # the store key never says auto
    explicit = Encoder(EncoderConfig(weights="random", precision=expected, device="cpu"))
    frames = np.random.default_rng(0).integers(0, 255, (2, 64, 64, 3), dtype=np.uint8)
    assert torch.equal(enc.encode(frames), explicit.encode(frames))
