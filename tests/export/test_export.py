"""Exports read back by the other tools' own readers: robomimic's SequenceDataset, minari's MinariDataset (and this
project's Minari import), LeRobot's LeRobotDataset. Source: real demos, frames rendered from them and a feature
store encoded from those frames."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from pipeline.cache.encode import encode_frames
from pipeline.demos.minari import load_minari
from pipeline.encoders import EncoderConfig
from pipeline.errors import PipelineError
from pipeline.export import export, open_source
from pipeline.formats.demos import read_demos
from pipeline.formats.features import FeatureStore
from pipeline.formats.frames import FramesFile
from stages.export import command
from tests.encoders.conftest import make_frames


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """demos -> frames (two demos of 8 steps, 64 px) -> a resnet18 store (random weights)."""
    tmp = tmp_path_factory.mktemp("export")
    frames = make_frames(tmp / "door.h5", size=64, n=2, horizon=8)
    store = tmp / "resnet18.zarr"
    encode_frames(frames, store, EncoderConfig(model="resnet18", weights="random"), progress=False)
    return frames.with_suffix(".demos.h5"), frames, store


@pytest.fixture(scope="module")
def truth(files):
    demos, frames, store = files
    episodes = read_demos(demos)[1]
    features = FeatureStore(store)
    with FramesFile(frames) as ff:
        return [{"episode": ep, "features": features.episode(i), "proprio": ff.demo(i)["proprio"][()],
                 "image": ff.frames(i, ff.cameras[0])[()], "camera": ff.cameras[0]} for i, ep in enumerate(episodes)]


def test_robomimic_sequence_dataset_reads_back_actions_features_and_frames(files, truth, tmp_path):
    obs_utils = pytest.importorskip("robomimic.utils.obs_utils", reason="pip install --no-deps robomimic==0.3.0 termcolor")
    from robomimic.utils.dataset import SequenceDataset

    demos, frames, store = files
    out = tmp_path / "door.hdf5"
    figures = export("robomimic", open_source(demos, frames, [store], with_images=True), out, progress=False)
    camera = truth[0]["camera"]
    assert figures["features"] == {f"resnet18_{camera}": 512} and figures["steps"] == 16
    low_dim = ["state", "qpos", "qvel", "proprio", f"resnet18_{camera}"]
    obs_utils.initialize_obs_utils_with_obs_specs({"obs": {"low_dim": low_dim, "rgb": [f"{camera}_image"]}})
    data = SequenceDataset(hdf5_path=str(out), obs_keys=(*low_dim, f"{camera}_image"),
                           dataset_keys=("actions", "rewards", "dones", "states"), seq_length=1, frame_stack=1,
                           hdf5_cache_mode="low_dim", load_next_obs=True)
    assert len(data) == 16
    sample, ep, t = data[8 + 3], truth[1]["episode"], 3  # demo_1, step 3
    np.testing.assert_array_equal(sample["actions"][0], ep.actions[t])
    np.testing.assert_array_equal(sample["obs"][f"resnet18_{camera}"][0], truth[1]["features"][t])
    np.testing.assert_array_equal(sample["next_obs"][f"resnet18_{camera}"][0], truth[1]["features"][t + 1])
    np.testing.assert_array_equal(sample["obs"]["proprio"][0], truth[1]["proprio"][t])
    np.testing.assert_array_equal(sample["obs"]["state"][0], ep.obs[t])
    np.testing.assert_array_equal(sample["obs"][f"{camera}_image"][0], truth[1]["image"][t])
    trajectory = data.get_trajectory_at_index(0)
    np.testing.assert_array_equal(trajectory["rewards"], truth[0]["episode"].rewards)
    np.testing.assert_array_equal(trajectory["states"][:, :30], truth[0]["episode"].qpos[:-1].astype(np.float32))
    with h5py.File(out) as f:  # in the file, every array as the source holds it
        np.testing.assert_array_equal(f["data/demo_1/obs/state"][()], ep.obs[:-1])
        np.testing.assert_array_equal(f["data/demo_1/next_obs/qvel"][()], ep.qvel[1:])


def test_minari_reads_back_the_episodes_and_the_import_gets_the_same_demos(files, truth, tmp_path):
    pytest.importorskip("minari", reason="pip install 'minari[hdf5]'")
    from minari.dataset.minari_dataset import MinariDataset

    demos, frames, store = files
    out = tmp_path / "door-minari"
    export("minari", open_source(demos, frames, [store]), out, dataset_id="test/door/export-v0", progress=False)
    dataset = MinariDataset(out / "data")
    assert dataset.total_episodes == 2 and dataset.total_steps == 16
    camera = truth[0]["camera"]
    for i, episode in enumerate(dataset.iterate_episodes()):
        ep = truth[i]["episode"]
        np.testing.assert_array_equal(episode.actions, ep.actions)
        np.testing.assert_array_equal(episode.rewards, ep.rewards)
        np.testing.assert_array_equal(episode.observations["observation"], ep.obs)
        np.testing.assert_array_equal(episode.observations[f"resnet18_{camera}"], truth[i]["features"])
        np.testing.assert_array_equal(episode.infos["state"]["qpos"], ep.qpos)
    back = load_minari(out, "door", "sparse")  # the project's own import: recorded states, used as they are
    for ep, original in zip(back, (t["episode"] for t in truth)):
        np.testing.assert_allclose(ep.qpos, original.qpos, atol=1e-3)
        np.testing.assert_array_equal(ep.actions, original.actions)
        np.testing.assert_array_equal(ep.env_state["door_body_pos"], original.env_state["door_body_pos"])


def test_the_command_exports_the_state_demos_alone(files, tmp_path):
    demos, _, _ = files
    out = tmp_path / "state.hdf5"
    result = CliRunner().invoke(command, ["--to", "robomimic", "--demos", str(demos), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with h5py.File(out) as f:
        assert sorted(f["data/demo_0/obs"]) == ["qpos", "qvel", "state"]
        assert f["data"].attrs["total"] == 16 and "door" in f["data"].attrs["env_args"].lower()


@pytest.mark.parametrize("case", ["store of other frames", "frames of other demos", "missing frames file",
                                  "output of another kind"])
def test_bad_input_is_one_line_and_writes_nothing(files, tmp_path, case):
    demos, frames, store = files
    out = tmp_path / "out.hdf5"
    args = ["--to", "robomimic", "--demos", str(demos), "--frames", str(frames), "--features", str(store)]
    if case == "store of other frames":
        other = make_frames(tmp_path / "other.h5", size=64, n=2, horizon=8)
        args[args.index("--frames") + 1], args[args.index("--demos") + 1] = str(other), str(other.with_suffix(".demos.h5"))
        expected = f"{store}: encoded from another file than {other}"
    elif case == "frames of other demos":
        other = make_frames(tmp_path / "other.h5", size=64, n=2, horizon=9)
        args[args.index("--demos") + 1] = str(other.with_suffix(".demos.h5"))
        expected = f"{frames}: rendered from another file than {other.with_suffix('.demos.h5')}"
    elif case == "missing frames file":
        args[args.index("--frames") + 1] = str(tmp_path / "missing.h5")
        expected = f"{tmp_path / 'missing.h5'}: no such frames file"
    else:
        out.write_text("a user's notes\n")
        expected = f"{out}: exists and is not a robomimic HDF5 file"
    result = CliRunner().invoke(command, [*args, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {expected}") and len(result.output.strip().splitlines()) == 1, result.output
    assert not out.exists() or out.read_text() == "a user's notes\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out")) == []


def test_a_second_export_replaces_its_own_kind(files, tmp_path):
    demos, _, store = files
    with pytest.raises(PipelineError, match="exported with the frames file they came from"):
        open_source(demos, None, [store])
    out = tmp_path / "door.hdf5"
    export("robomimic", open_source(demos), out, progress=False)
    export("robomimic", open_source(demos), out, progress=False)
    with pytest.raises(PipelineError, match="is a file; this writes a folder"):
        export("minari", open_source(demos), out, progress=False)


@pytest.mark.filterwarnings("ignore:Converting input from bool:RuntimeWarning")  # lerobot's statistics of next.done
def test_lerobot_dataset_reads_back_the_features_of_a_frame(files, truth, tmp_path):
    pytest.importorskip("lerobot", reason="pip install --no-deps -r requirements/interop.txt")
    import torch
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    demos, frames, store = files
    out = tmp_path / "door-lerobot"
    export("lerobot", open_source(demos, frames, [store], with_images=True), out, dataset_id="test/door", progress=False)
    dataset = LeRobotDataset("test/door", root=out)
    assert (dataset.num_episodes, dataset.num_frames, dataset.fps) == (2, 16, 100)
    camera, ep, t = truth[1]["camera"], truth[1]["episode"], 3
    item = dataset[8 + t]  # episode 1, frame 3
    assert (item["episode_index"].item(), item["frame_index"].item(), item["task"]) == (1, t, "open the door")
    assert torch.equal(item[f"observation.embedding.resnet18_{camera}"], torch.from_numpy(truth[1]["features"][t]))
    assert torch.equal(item["action"], torch.from_numpy(ep.actions[t]))
    assert torch.equal(item["observation.state"], torch.from_numpy(ep.obs[t]).float())  # LeRobot keeps float32
    assert torch.equal(item["observation.qvel"], torch.from_numpy(ep.qvel[t]).float())
    assert torch.equal(item["observation.proprio"], torch.from_numpy(truth[1]["proprio"][t]))
    assert item["next.reward"].item() == np.float32(ep.rewards[t]) and item["next.success"].item() == ep.goal_achieved[t]
    image = (item[f"observation.images.{camera}"] * 255).round().to(torch.uint8).permute(1, 2, 0)  # CHW in [0, 1]
    assert torch.equal(image, torch.from_numpy(truth[1]["image"][t]))
