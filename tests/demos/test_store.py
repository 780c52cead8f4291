"""The demo HDF5 contract: round trip, byte-stable rewrites, and clear errors on bad files."""

import h5py
import numpy as np
import pytest

from pipeline.demos.rollout import RandomPolicy, rollout
from pipeline.errors import PipelineError
from pipeline.formats.demos import read_demos, write_demos
from pipeline.tasks import make_env


@pytest.fixture(scope="module")
def episodes():
    env = make_env("door", horizon=20)
    return [rollout(env, RandomPolicy(env.action_dim), seed=s) for s in (0, 1)]


def test_rollout_records_every_state(episodes):
    ep = episodes[0]
    assert ep.length == 20
    assert ep.qpos.shape == (21, 30) and ep.qvel.shape == (21, 30) and ep.obs.shape == (21, 39)
    assert ep.env_state["door_body_pos"].shape == (21, 3)
    assert ep.truncated[-1] and not ep.truncated[:-1].any() and not ep.terminated.any()
    # state t+1 is what stepping from state t with action t gives: replay one step exactly
    env = make_env("door")
    env.reset(seed=0)
    env.set_state(ep.state_at(5))
    env.step(ep.actions[5].astype(np.float64))
    np.testing.assert_allclose(env.get_state()["qpos"], ep.qpos[6], atol=1e-9)


def test_round_trip(tmp_path, episodes):
    path = tmp_path / "door.h5"
    write_demos(path, "door", "test", episodes, "sparse", {"note": "x"})
    attrs, back = read_demos(path, task="door")
    assert attrs["task"] == "door" and attrs["n_demos"] == 2 and attrs["note"] == "x"
    for a, b in zip(episodes, back):
        for name in ("actions", "rewards", "qpos", "qvel", "obs", "goal_achieved", "terminated", "truncated"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        np.testing.assert_array_equal(a.env_state["door_body_pos"], b.env_state["door_body_pos"])
        assert (a.seed, a.success) == (b.seed, b.success)
    with h5py.File(path) as f:
        assert f["data/demo_1"].attrs["seed"] == 1 and f["data/demo_0"].attrs["source"] == "test"


def test_rewrite_is_byte_identical(tmp_path, episodes):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    write_demos(a, "door", "test", episodes, "sparse")
    write_demos(b, "door", "test", episodes, "sparse")
    assert a.read_bytes() == b.read_bytes()


def test_truncated_file_is_a_clear_error(tmp_path, episodes):
    path = tmp_path / "door.h5"
    write_demos(path, "door", "test", episodes, "sparse")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(PipelineError, match=r"door\.h5: damaged demo file: truncated or changed since it was written"):
        read_demos(path)


def test_wrong_task_and_missing_file(tmp_path, episodes):
    path = tmp_path / "door.h5"
    write_demos(path, "door", "test", episodes, "sparse")
    with pytest.raises(PipelineError, match="holds demos of task 'door', expected 'relocate'"):
        read_demos(path, task="relocate")
    with pytest.raises(PipelineError, match="no such demo file"):
        read_demos(tmp_path / "nope.h5")


def test_action_size_mismatch_is_refused_and_nothing_written(tmp_path, episodes):
    bad = episodes[0]
    bad_ep = type(bad)(**{**bad.__dict__, "actions": np.zeros((bad.length, 30), np.float32)})
    path = tmp_path / "door.h5"
    with pytest.raises(PipelineError, match=r"actions have shape \(20, 30\), the task needs \(T, 28\)"):
        write_demos(path, "door", "test", [bad_ep], "sparse")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_the_old_file(tmp_path, episodes):
    path = tmp_path / "door.h5"
    write_demos(path, "door", "test", episodes, "sparse")
    before = path.read_bytes()
    with pytest.raises(PipelineError):
        write_demos(path, "door", "test", [], "sparse")
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["door.h5"]
