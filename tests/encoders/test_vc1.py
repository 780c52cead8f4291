"""VC-1 from its published checkpoint layout (made here with random weights): loads from the torch hub cache, its
CLS embedding equals VC-1's own forward written from its code, and missing or foreign files are refused."""

import argparse

import numpy as np
import pytest
import timm
import torch

from pipeline.encoders import Encoder, EncoderConfig, vc1
from pipeline.encoders import weights as weights_mod
from pipeline.errors import PipelineError


def _published_checkpoint(path):
    """What eai-vc publishes (vc1_vitb.pth, an MAE training checkpoint): {"model": the MAE state dict, encoder and
    decoder, mask token included}, beside the training arguments (an argparse.Namespace) and the epoch."""
    torch.manual_seed(3)
    net = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=0)
    with torch.no_grad():
        net.pos_embed.normal_()  # MAE's positions are fixed sin-cos of size ~1, not timm's 0.02 init
    model = dict(net.state_dict(), mask_token=torch.zeros(1, 1, 512), decoder_embed_weight=torch.zeros(512, 768))
    model["decoder_blocks.0.norm1.weight"] = torch.ones(512)
    torch.save({"model": model, "args": argparse.Namespace(model="mae_vit_base_patch16"), "epoch": 182}, path)
    return net.eval()


def _vc1_reference(net, frames: np.ndarray) -> torch.Tensor:
    """VC-1's vit_transforms (Resize(256, bicubic), the identity on 256 px frames; CenterCrop(224); ToTensor;
    ImageNet Normalize) and its forward_features: patch tokens plus positions[1:], then the CLS token plus
    position[0] in front, the blocks, the final norm, token 0 (use_cls=True)."""
    x = torch.as_tensor(frames[:, 16:240, 16:240]).permute(0, 3, 1, 2).float() / 255.0
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    x = (x - mean[:, None, None]) / std[:, None, None]
    with torch.no_grad():
        tokens = net.patch_embed(x) + net.pos_embed[:, 1:, :]
        cls = net.cls_token + net.pos_embed[:, :1, :]
        tokens = net.blocks(torch.cat((cls.expand(len(x), -1, -1), tokens), dim=1))
        return net.norm(tokens)[:, 0]


@pytest.mark.slow
def test_vc1_loads_the_published_layout_from_the_hub_cache_and_matches_its_own_forward(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    path = weights_mod.hub_path("https://dl.fbaipublicfiles.com/eai-vc/vc1_vitb.pth")
    path.parent.mkdir(parents=True)
    net = _published_checkpoint(path)
    enc = Encoder(EncoderConfig(model="vc1_base", weights="pretrained"))
    assert enc.dim == 768 and enc.key()["weights_source"] == "vc1:vc1_vitb.pth"
    assert enc.key()["weights_sha256"] == weights_mod.file_sha256(path) and "bicubic" in enc.key()["preprocessing"]
    frames = np.random.default_rng(0).integers(0, 255, (2, 256, 256, 3), dtype=np.uint8)
    torch.testing.assert_close(enc.encode(frames), _vc1_reference(net, frames), rtol=1e-4, atol=1e-4)
    # an explicit file in the same layout, checked by sha256
    explicit = Encoder(EncoderConfig(model="vc1_base", weights=str(path), weights_sha256=enc.key()["weights_sha256"]))
    assert explicit.key()["weights_source"] == "file:vc1_vitb.pth"
    with pytest.raises(PipelineError, match="does not match the expected"):
        Encoder(EncoderConfig(model="vc1_base", weights=str(path), weights_sha256="0" * 64))


def test_vc1_positions_from_another_grid_are_resized_as_vc1_does():
    pos = torch.randn(1, 1 + 16 * 16, 8)
    out = vc1.from_official({"model": {"pos_embed": pos, "decoder_pos_embed": pos}})
    assert set(out) == {"pos_embed"} and out["pos_embed"].shape == (1, 1 + 14 * 14, 8)
    torch.testing.assert_close(out["pos_embed"][:, :1], pos[:, :1])  # the CLS position is kept as it is
    grid = pos[:, 1:].reshape(1, 16, 16, 8).permute(0, 3, 1, 2)
    expected = torch.nn.functional.interpolate(grid, size=(14, 14), mode="bicubic", align_corners=False)
    torch.testing.assert_close(out["pos_embed"][:, 1:], expected.permute(0, 2, 3, 1).reshape(1, -1, 8))


@pytest.mark.slow
def test_vc1_missing_weights_are_one_line_auto_is_loud_random_and_foreign_files_are_refused(tmp_path, monkeypatch,
                                                                                           capfd):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    monkeypatch.setattr(vc1, "checkpoint_url", lambda name: "http://127.0.0.1:9/vc1_vitl.pth")
    with pytest.raises(PipelineError, match=r"VC-1 weights for vc1_large are not available .*put vc1_vitl\.pth "
                                            r".* into .*empty/hub/checkpoints/"):
        Encoder(EncoderConfig(model="vc1_large", weights="pretrained"))
    capfd.readouterr()
    enc = Encoder(EncoderConfig(model="vc1_large", weights="auto"))
    assert enc.dim == 1024 and enc.key()["weights_source"] == "random:seed=0"
    assert "RANDOM initialisation" in capfd.readouterr().err
    dino = tmp_path / "dino.pth"
    torch.save(timm.create_model("vit_small_patch14_dinov2", pretrained=False, num_classes=0).state_dict(), dino)
    with pytest.raises(PipelineError, match="do not fit vc1_large"):
        Encoder(EncoderConfig(model="vc1_large", weights=str(dino)))
