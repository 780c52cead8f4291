"""DINOv2 from its official checkpoint layout (made here with random weights): loads from the torch hub cache, its
CLS feature equals DINOv2's own forward written from its code, and missing or foreign files are refused."""

import numpy as np
import pytest
import timm
import torch

from pipeline.encoders import Encoder, EncoderConfig, dinov2
from pipeline.encoders import weights as weights_mod
from pipeline.errors import PipelineError


def _official_checkpoint(path):
    """What facebookresearch/dinov2 publishes for ViT-S/14: 518 px positions (37x37 + CLS) and the mask token."""
    torch.manual_seed(5)
    net = timm.create_model("vit_small_patch14_dinov2", pretrained=False, num_classes=0)  # 518 px, as trained
    with torch.no_grad():  # a trained net's sizes, so that the positions' interpolation shows in the CLS token:
        net.pos_embed.normal_()  # positions of std 1 (timm starts at 0.02), and LayerScale at 1 (timm starts at
        for name, param in net.named_parameters():  # 1e-5, which leaves CLS blind to the patches)
            if name.endswith(".gamma"):
                param.fill_(1.0)
    state = dict(net.state_dict(), mask_token=torch.zeros(1, 384))
    torch.save(state, path)
    return net.eval()


def _dinov2_reference(net, frames: np.ndarray) -> torch.Tensor:
    """DINOv2's eval transform (Resize(256, bicubic) is the identity at 256 px; CenterCrop(224); ToTensor;
    ImageNet Normalize) and its forward: patch tokens, CLS, positions from interpolate_pos_encoding (bicubic, no
    antialias, scale (16 + 0.1) / 37), the blocks, the final norm, token 0."""
    x = torch.as_tensor(frames[:, 16:240, 16:240]).permute(0, 3, 1, 2).float() / 255.0
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    x = (x - mean[:, None, None]) / std[:, None, None]
    with torch.no_grad():
        tokens = net.patch_embed.proj(x).flatten(2).transpose(1, 2)  # DINOv2's PatchEmbed (norm: identity)
        tokens = torch.cat((net.cls_token.expand(len(x), -1, -1), tokens), dim=1)
        pos = net.pos_embed
        patch = torch.nn.functional.interpolate(pos[:, 1:].reshape(1, 37, 37, 384).permute(0, 3, 1, 2),
                                                scale_factor=(16.1 / 37, 16.1 / 37), mode="bicubic", antialias=False)
        pos = torch.cat((pos[:, :1], patch.permute(0, 2, 3, 1).reshape(1, -1, 384)), dim=1)
        tokens = tokens + pos
        for block in net.blocks:
            tokens = block(tokens)
        return net.norm(tokens)[:, 0]


@pytest.mark.slow
def test_dinov2_loads_the_official_layout_from_the_hub_cache_and_matches_its_own_forward(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    path = weights_mod.hub_path("https://dl.fbaipublicfiles.com/dinov2/dinov2_vits14/dinov2_vits14_pretrain.pth")
    path.parent.mkdir(parents=True)
    net = _official_checkpoint(path)
    enc = Encoder(EncoderConfig(model="dinov2_vits14", weights="pretrained"))
    assert enc.dim == 384 and enc.key()["weights_source"] == "dinov2:dinov2_vits14_pretrain.pth"
    assert enc.key()["weights_sha256"] == weights_mod.file_sha256(path) and "bicubic" in enc.key()["preprocessing"]
    frames = np.random.default_rng(0).integers(0, 255, (2, 256, 256, 3), dtype=np.uint8)
    torch.testing.assert_close(enc.encode(frames), _dinov2_reference(net, frames), rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_dinov2_missing_weights_are_one_line_auto_is_loud_random_and_foreign_files_are_refused(tmp_path, monkeypatch,
                                                                                              capfd):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    monkeypatch.setattr(dinov2, "checkpoint_url", lambda name: f"http://127.0.0.1:9/{name}_pretrain.pth")
    with pytest.raises(PipelineError, match=r"DINOv2 weights for dinov2_vits14 are not available .*put "
                                            r"dinov2_vits14_pretrain\.pth .* into .*empty/hub/checkpoints/"):
        Encoder(EncoderConfig(model="dinov2_vits14", weights="pretrained"))
    capfd.readouterr()
    enc = Encoder(EncoderConfig(model="dinov2_vits14", weights="auto"))
    assert enc.key()["weights_source"] == "random:seed=0" and "RANDOM initialisation" in capfd.readouterr().err
    resnet = tmp_path / "resnet.pth"
    torch.save(timm.create_model("resnet18", pretrained=False).state_dict(), resnet)
    with pytest.raises(PipelineError, match="do not fit dinov2_vits14"):
        Encoder(EncoderConfig(model="dinov2_vits14", weights=str(resnet)))
    with pytest.raises(PipelineError, match="does not match the expected"):
        Encoder(EncoderConfig(model="dinov2_vits14", weights=str(resnet), weights_sha256="0" * 64))
