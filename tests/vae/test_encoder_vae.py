"""The trained VAE served as encoder `vae`: features are the mean of q(z|x); the feature store takes it like any encoder."""

import numpy as np
import pytest
import torch

from pipeline.cache.encode import encode_frames
from pipeline.encoders import Encoder, EncoderConfig
from pipeline.encoders.encoder import cpu_has_native_bf16
from pipeline.encoders.preprocess import vae64
from pipeline.errors import PipelineError
from pipeline.formats.features import FeatureStore
from pipeline.formats.frames import FramesFile
from pipeline.vae.model import load_vae
from pipeline.vae.train import train_vae
from tests.encoders.conftest import make_frames
from tests.vae.conftest import make_images, tiny_config

pytestmark = pytest.mark.slow  # every test here uses a VAE trained by the fixture (~10 s)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vae")
    metrics = train_vae(make_images(folder / "images.h5"), folder / "run", tiny_config(epochs=1), progress=False)
    return folder / "run" / "model.pt", metrics["model_sha256"]


def _direct_mu(path, frames):
    model = load_vae(path)
    with torch.no_grad():
        return model.encode(vae64(torch.from_numpy(frames).permute(0, 3, 1, 2)))[0]


def test_encoder_serves_the_mean_of_q(model_file):
    path, sha = model_file
    encoder = Encoder(EncoderConfig(model="vae", weights=str(path), weights_sha256=sha, device="cpu"))
    assert encoder.dim == 512 and encoder.key()["weights_sha256"] == sha
    assert encoder.key()["weights_source"] == "file:model.pt" and encoder.key()["layer"] == "mean"
    assert not any(p.requires_grad for p in encoder.module.parameters()) and not encoder.module.training
    rng = np.random.default_rng(0)
    for size in (64, 96):  # 64: as trained; other sizes are resized by vae64 first
        frames = rng.integers(0, 256, (5, size, size, 3), dtype=np.uint8)
        features = encoder.encode(frames)
        assert features.shape == (5, 512) and features.dtype == torch.float32
        torch.testing.assert_close(features, _direct_mu(path, frames), rtol=1e-5, atol=1e-5)


def test_encoder_refuses_a_wrong_hash_and_missing_weights(model_file, tmp_path):
    path, _ = model_file
    with pytest.raises(PipelineError, match="does not match the expected"):
        Encoder(EncoderConfig(model="vae", weights=str(path), weights_sha256="ab" * 32, device="cpu"))
    with pytest.raises(PipelineError, match="needs --weights PATH"):
        Encoder(EncoderConfig(model="vae", weights="auto", device="cpu"))


def test_encode_frames_makes_a_complete_vae_store(model_file, tmp_path):
    path, sha = model_file
    frames = make_frames(tmp_path / "door.h5", size=64, n=2, horizon=7)
    config = EncoderConfig(model="vae", weights=str(path), device="cpu")
    figures = encode_frames(frames, tmp_path / "vae.zarr", config, batch_size=4, progress=False)
    store = FeatureStore(tmp_path / "vae.zarr", expect_key=figures["key"])
    assert store.attrs["complete"] and store.attrs["weights_sha256"] == sha
    with FramesFile(frames) as f:
        camera = f.cameras[0]
        assert store.all().shape == (sum(f.lengths()), 512 * len(f.cameras))
        expected = _direct_mu(path, f.frames(1, camera)[:]).numpy()
    np.testing.assert_allclose(store.episode(1)[:, :512], expected, rtol=1e-5, atol=1e-5)


def test_precision_auto_runs_the_small_encoder_in_fp32_on_any_cpu(model_file):
    """bf16 is slower than fp32 for this 64 px network on a CPU; the ImageNet networks keep bf16 where it is native."""
    path, sha = model_file
    vae = Encoder(EncoderConfig(model="vae", weights=str(path), weights_sha256=sha, precision="auto", device="cpu"))
    assert vae.key()["precision"] == "fp32"
    resnet = Encoder(EncoderConfig(model="resnet18", weights="random", precision="auto", device="cpu"))
    assert resnet.key()["precision"] == ("bf16" if cpu_has_native_bf16() else "fp32")
