"""The VAE image dataset: four equal parts, reproducible from the seed, whatever the worker count."""

import h5py
import numpy as np
import pytest

from pipeline.config import RenderVaeDataConfig
from pipeline.demos.experts import available_experts
from pipeline.errors import PipelineError
from pipeline.render.vae_data import PARTS, part_sizes, render_vae_data

TASK = "relocate"  # three cameras: exercises the camera-minor layout too
pytestmark = [pytest.mark.skipif(TASK not in available_experts(), reason="no scripted relocate expert"),
              pytest.mark.slow]  # the fixture renders a VAE dataset


def test_part_sizes_split_equally():
    assert part_sizes(8000, 1) == [2000] * 4
    assert part_sizes(8000, 3) == [667, 667, 666, 666]  # 2666 states of 3 images
    assert part_sizes(10, 1) == [3, 3, 2, 2]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("vae") / "a.h5"
    cfg = RenderVaeDataConfig(n_images=3 * 4 * 70, size=32, workers=2)
    render_vae_data(TASK, out, cfg, progress=False)
    return out, cfg


def test_four_parts_in_equal_proportion(dataset):
    out, cfg = dataset
    with h5py.File(out) as f:
        assert f["images"].shape == (cfg.n_images, 32, 32, 3) and f["images"].dtype == np.uint8
        assert list(f.attrs["parts"]) == list(PARTS)
        np.testing.assert_array_equal(np.bincount(f["part"][()]), [cfg.n_images // 4] * 4)
        np.testing.assert_array_equal(np.bincount(f["camera"][()]), [cfg.n_images // 3] * 3)
        # the 70 states of each part span more than one episode (horizon 200 -> one episode here)
        assert (f["step"][()][f["camera"][()] == 0] >= 0).all()
        expert = f["images"][np.flatnonzero(f["part"][()] == 0)[-1]]
        random = f["images"][np.flatnonzero(f["part"][()] == 3)[-1]]
        assert not np.array_equal(expert, random)


def test_every_image_carries_its_states_reward_signals(dataset):
    out, cfg = dataset
    with h5py.File(out) as f:
        assert list(f.attrs["reward_signals"]) == ["rrl", "object_target", "palm_object", "object_height"]
        signals, camera = f["reward_signals"][()], f["camera"][()]
    assert signals.shape == (cfg.n_images, 4) and signals.dtype == np.float32
    np.testing.assert_array_equal(signals[camera == 0], signals[camera == 2])  # one state, three images
    d = signals[:, 1]
    np.testing.assert_array_equal(signals[:, 0], 10.0 * (d < 0.1) + 20.0 * (d < 0.05))  # RRL's relocate reward
    assert (signals[:, 3] > 0).all() and np.ptp(signals[:, 2]) > 0.01  # the hand moves, the ball lies above the table


def test_reproducible_and_worker_count_independent(tmp_path, dataset):
    out, cfg = dataset
    again = tmp_path / "b.h5"
    render_vae_data(TASK, again, RenderVaeDataConfig(**{**cfg.__dict__, "workers": 1}), progress=False)
    assert again.read_bytes() == out.read_bytes()


def test_task_without_expert_is_refused_before_work(tmp_path):
    with pytest.raises(PipelineError, match="no scripted expert for task 'pen'"):
        render_vae_data("pen", tmp_path / "x.h5", RenderVaeDataConfig(n_images=8), progress=False)
    assert list(tmp_path.iterdir()) == []
