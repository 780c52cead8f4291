"""The VAE architecture (RRL appendix 7.4) and its model file."""

import pytest
import torch

from pipeline.errors import PipelineError
from pipeline.vae.model import VAE, VAEConfig, VAEMeanEncoder, load_vae, load_vae_encoder, model_bytes, resolve_vae_weights


def test_default_architecture_shapes():
    cfg = VAEConfig()
    assert cfg.latent == 512 and cfg.channels == (32, 64, 128, 256, 512) and cfg.bottleneck == 2
    model = VAE(cfg).eval()
    convs = [m for m in model.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding) for c in convs] == [
        (i, o, (4, 4), (2, 2), (1, 1)) for i, o in zip((3, 32, 64, 128, 256), (32, 64, 128, 256, 512))]
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.encoder.modules()) == 5
    assert sum(isinstance(m, torch.nn.LeakyReLU) for m in model.encoder.modules()) == 5
    x = torch.rand(2, 3, 64, 64)
    assert model.encoder(x).shape == (2, 512 * 2 * 2)
    recon, mu, logvar = model(x)
    assert recon.shape == x.shape and mu.shape == logvar.shape == (2, 512)
    assert 0 <= recon.min() and recon.max() <= 1  # sigmoid output
    deconvs = [m for m in model.decoder.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(d.in_channels, d.out_channels) for d in deconvs] == [(512, 256), (256, 128), (128, 64), (64, 32), (32, 3)]


def _save(path, cfg):
    torch.manual_seed(0)
    model = VAE(cfg).eval()
    path.write_bytes(model_bytes(model))
    return model


def test_model_file_round_trip_and_served_mean(tmp_path):
    cfg = VAEConfig(channels=(4, 8, 8, 8, 8))
    model = _save(tmp_path / "model.pt", cfg)
    assert (tmp_path / "model.pt").read_bytes() == model_bytes(model)  # content independent of the file name
    loaded = load_vae(tmp_path / "model.pt")
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)
    weights = resolve_vae_weights(tmp_path / "model.pt")
    assert weights.source == "file:model.pt" and len(weights.sha256) == 64
    encoder = load_vae_encoder(weights)
    assert isinstance(encoder, VAEMeanEncoder) and not encoder.training
    x = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(encoder(x), model.encode(x)[0], rtol=0, atol=0)


def test_wrong_hash_missing_file_and_foreign_files(tmp_path):
    _save(tmp_path / "model.pt", VAEConfig(channels=(4, 8, 8, 8, 8)))
    with pytest.raises(PipelineError, match=r"model\.pt: sha256 .* does not match the expected 0000"):
        resolve_vae_weights(tmp_path / "model.pt", "0" * 64)
    with pytest.raises(PipelineError, match="no such VAE model file"):
        resolve_vae_weights(tmp_path / "absent.pt")
    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "resnet.pt")
    with pytest.raises(PipelineError, match="not an rrl-pipe/vae model file"):
        resolve_vae_weights(tmp_path / "resnet.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a zip")
    with pytest.raises(PipelineError, match="not a loadable torch file"):
        resolve_vae_weights(tmp_path / "junk.pt")


def test_checkpoint_from_another_config(tmp_path):
    # parameters of one architecture under another's config: named, one line
    small = VAE(VAEConfig(channels=(4, 8, 8, 8, 8)))
    state = {k: v for k, v in small.state_dict().items()}
    torch.save(
        {"format": "rrl-pipe/vae", "config": {"latent": 512, "channels": [4, 8, 8, 8, 16]}, "state_dict": state},
        tmp_path / "m.pt",
    )
    with pytest.raises(PipelineError, match=r"m\.pt .*channels=\[4, 8, 8, 8, 16\].*has shape"):
        load_vae(tmp_path / "m.pt")
    with pytest.raises(PipelineError, match="has shape"):
        resolve_vae_weights(tmp_path / "m.pt")
    # a VAE whose latent is not the 512 the `vae` encoder serves
    _save(tmp_path / "latent64.pt", VAEConfig(latent=64, channels=(4, 8, 8, 8, 8)))
    with pytest.raises(PipelineError, match="latent 64; encoder `vae` serves 512-d"):
        resolve_vae_weights(tmp_path / "latent64.pt")
    with pytest.raises(PipelineError, match="not a VAE config"):
        torch.save({"format": "rrl-pipe/vae", "config": {"latent": 512}, "state_dict": state}, tmp_path / "c.pt")
        load_vae(tmp_path / "c.pt")
