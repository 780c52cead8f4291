"""train_vae: the loss falls, validation holds whole episodes, resume continues the same curve, bad input is one line."""

import csv
import hashlib
import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from pipeline.config import TrainVaeConfig
from pipeline.errors import PipelineError
from pipeline.formats.hdf5 import create_hdf5, seal
from pipeline.timings import read_timings
from pipeline.training.images import ImageFile, make_blocks, split_episodes, train_batches
from pipeline.vae.model import load_vae
from pipeline.vae.train import train_vae
from tests.vae.conftest import make_images, tiny_config

pytestmark = pytest.mark.slow  # trains models for minutes: `make test`, not the fast tier


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return make_images(tmp_path_factory.mktemp("vae") / "images.h5")


@pytest.fixture(scope="module")
def trained(images, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "straight"
    return out, train_vae(images, out, tiny_config(epochs=2), progress=False)


def _curve(out):
    with open(out / "curves.csv") as f:
        return list(csv.DictReader(f))


def test_outputs_and_falling_validation_loss(trained):
    out, metrics = trained
    curve = _curve(out)
    assert [int(r["epoch"]) for r in curve] == [1, 2]
    assert float(curve[1]["val_recon"]) < float(curve[0]["val_recon"])
    assert float(curve[1]["train_recon"]) < float(curve[0]["train_recon"])
    assert metrics["epochs"] == 2 and metrics["images"] == 320 and metrics["train_images"] + metrics["val_images"] == 320
    assert json.loads((out / "metrics.json").read_text())["val_recon"] == metrics["val_recon"]
    sha = hashlib.sha256((out / "model.pt").read_bytes()).hexdigest()
    assert (out / "model.sha256").read_text().strip() == sha == metrics["model_sha256"]
    with Image.open(out / "reconstructions.png") as png:  # originals above reconstructions: 2 rows of 8
        assert png.size == (2 * (8 * 66 + 2), 2 * (2 * 64 + 6))
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["checkpoint.pt"]
    assert not list(out.glob(".*partial"))
    model = load_vae(out / "model.pt")
    assert model.cfg.channels == (4, 8, 8, 8, 8) and not model.training


def test_validation_is_whole_episodes_from_every_part(images):
    data = ImageFile(images)
    try:
        val = split_episodes(data.episode, data.part, 0.25, seed=0)
        assert not set(data.episode[val]) & set(data.episode[~val])
        assert set(data.part[val]) == set(data.part)  # 4 episodes per part, one of them held out
        assert val.sum() == 80
        np.testing.assert_array_equal(val, split_episodes(data.episode, data.part, 0.25, seed=0))
    finally:
        data.close()


def test_batches_are_shuffled_blocks_covering_each_training_image_once(images):
    data = ImageFile(images)
    try:
        rows = np.arange(0, 200)
        blocks = make_blocks(np.r_[rows[:70], rows[100:]], 32)
        assert blocks[:3] == [(0, 32), (32, 64), (64, 70)] and blocks[3] == (100, 132)
        cfg = tiny_config(batch_size=16)
        batches = list(train_batches(data, blocks, cfg, np.random.default_rng(0)))
        seen, seen_rows = np.concatenate([b for b, _ in batches]), np.concatenate([r for _, r in batches])
        expected = np.concatenate([data.read(lo, hi) for lo, hi in blocks])
        assert len(seen) == len(expected) == 170
        key = lambda a: sorted(map(bytes, a.reshape(len(a), -1)))  # noqa: E731
        assert key(seen) == key(expected) and not np.array_equal(seen, expected)
        # each image comes with its row number in the file (the reward encoder looks its targets up by it)
        assert sorted(seen_rows) == sorted(np.r_[rows[:70], rows[100:]])
        np.testing.assert_array_equal(seen[:5], np.stack([data.read(r, r + 1)[0] for r in seen_rows[:5]]))
    finally:
        data.close()


def test_resume_continues_the_same_curve(images, trained, tmp_path):
    straight, metrics = trained
    out, ckpt = tmp_path / "resumed", tmp_path / "ckpt"  # checkpoints apart from the outputs, as a DVC stage keeps them
    first = train_vae(images, out, tiny_config(epochs=1), progress=False, checkpoints=ckpt)
    assert first["epochs"] == 1 and [p.name for p in ckpt.iterdir()] == ["checkpoint.pt"]
    shutil.rmtree(out)  # DVC deletes a stage's outs before rerunning it
    resumed = train_vae(images, out, tiny_config(epochs=2), progress=False, checkpoints=ckpt)
    assert _curve(out) == _curve(straight)
    assert (out / "model.pt").read_bytes() == (straight / "model.pt").read_bytes()
    assert resumed == metrics
    assert (out / "metrics.json").read_bytes() == (straight / "metrics.json").read_bytes()  # no seconds inside
    assert (out / "curves.csv").read_bytes() == (straight / "curves.csv").read_bytes()
    assert [e["epoch"] for e in read_timings(out)["per_epoch"]] == [1, 2]  # the resumed epoch's seconds kept
    # a finished run reruns as a no-op on the training side and writes the same model
    again = train_vae(images, out, tiny_config(epochs=2), progress=False, checkpoints=ckpt)
    assert again["model_sha256"] == metrics["model_sha256"]


def test_a_checkpoint_of_another_run_is_not_resumed_but_trained_over(images, trained, tmp_path, capsys):
    straight, _ = trained
    out = tmp_path / "run"
    train_vae(images, out, tiny_config(epochs=1, lr=1e-3), progress=False)
    train_vae(images, out, tiny_config(epochs=2), progress=False)  # what `dvc exp run -S train_vae.lr=...` does
    err = capsys.readouterr().err
    assert "checkpoint.pt: written with another configuration (lr 0.001 -> 0.003); not resumed, starting over" in err
    assert (out / "model.pt").read_bytes() == (straight / "model.pt").read_bytes()
    train_vae(images, out, tiny_config(epochs=1), progress=False)  # fewer epochs than the checkpoint holds
    assert "holds 2 steps, more than the 1 asked for; not resumed" in capsys.readouterr().err
    other = make_images(tmp_path / "other.h5", seed=1, n_episodes=17)
    train_vae(other, out, tiny_config(epochs=1), progress=False)
    assert "written with another configuration (dataset " in capsys.readouterr().err
    (out / "checkpoints" / "checkpoint.pt").write_bytes(b"torn")
    train_vae(images, out, tiny_config(epochs=1), progress=False)
    assert "not a loadable checkpoint" in capsys.readouterr().err


def test_bad_datasets_are_one_line_errors(images, tmp_path):
    cfg = tiny_config(epochs=1)
    with pytest.raises(PipelineError, match="no such VAE image file"):
        train_vae(tmp_path / "absent.h5", tmp_path / "o", cfg, progress=False)
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(images.read_bytes()[: images.stat().st_size // 2])
    with pytest.raises(PipelineError, match="truncated"):
        train_vae(truncated, tmp_path / "o", cfg, progress=False)
    with create_hdf5(tmp_path / "frames.h5") as f:
        f.attrs["format"] = "rrl-pipe/frames"
    seal(tmp_path / "frames.h5")
    with pytest.raises(PipelineError, match="format 'rrl-pipe/frames', expected 'rrl-pipe/vae-images'"):
        train_vae(tmp_path / "frames.h5", tmp_path / "o", cfg, progress=False)
    with create_hdf5(tmp_path / "partial.h5") as f:
        f.attrs["format"] = "rrl-pipe/vae-images"
        f.create_dataset("images", (10, 64, 64, 3), np.uint8)
    seal(tmp_path / "partial.h5")
    with pytest.raises(PipelineError, match="incomplete: no dataset 'episode_seed'"):
        train_vae(tmp_path / "partial.h5", tmp_path / "o", cfg, progress=False)
    assert not (tmp_path / "o").exists()


def test_default_config_is_the_paper_architecture():
    cfg = TrainVaeConfig()  # RRL's network; its 10 epochs are configs/paper.yaml's (params.yaml: 4, for 2 cores)
    assert (cfg.epochs, cfg.latent, cfg.channels) == (4, 512, (32, 64, 128, 256, 512))
    with pytest.raises(PipelineError, match="val_fraction"):
        TrainVaeConfig(val_fraction=1.0)
    with pytest.raises(PipelineError, match="batch_size"):
        TrainVaeConfig(batch_size=1)


def test_training_is_deterministic_in_torch_state(images, tmp_path):
    torch.manual_seed(123)  # the caller's global RNG state does not leak into the result
    a = train_vae(images, tmp_path / "a", tiny_config(epochs=1), progress=False)
    torch.manual_seed(456)
    b = train_vae(images, tmp_path / "b", tiny_config(epochs=1), progress=False)
    assert a["model_sha256"] == b["model_sha256"]
