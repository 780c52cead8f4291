"""Minari datasets as the minari package writes them, read with h5py: recorded state infos when present,
reconstruction from observations if not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from pipeline.demos.minari import load_minari
from pipeline.demos.rollout import rollout
from pipeline.errors import PipelineError
from pipeline.formats.demos import read_demos
from pipeline.tasks import get_task, make_env
from tests.demos.wiggle import Wiggle

minari = pytest.importorskip("minari", reason="the minari package writes these datasets: pip install 'minari[hdf5]'")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:minari")  # its advice to fill in author, permalink...
EpisodeBuffer = pytest.importorskip("minari.data_collector.episode_buffer").EpisodeBuffer


@pytest.fixture(autouse=True)
def datasets_root(tmp_path, monkeypatch) -> Path:
    """minari writes each dataset to $MINARI_DATASETS_PATH/<dataset id>/data/."""
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "datasets"))
    return tmp_path / "datasets"


def _rollouts(task: str, seeds=(0, 1), steps: int = 15):
    env = make_env(task, "dense")
    eps = [rollout(env, Wiggle(env.action_dim), seed=s, horizon=steps) for s in seeds]
    env.close()
    return eps


def _get_env_state_rows(task: str, ep) -> dict[str, np.ndarray]:
    """Per-step env.get_env_state() dicts, as the D4RL->Minari step callback stored them."""
    rows = {"qpos": ep.qpos, "qvel": ep.qvel}
    if task == "door":
        rows["door_body_pos"] = ep.env_state["door_body_pos"]
    elif task == "relocate":
        rows["obj_pos"] = ep.env_state["obj_body_pos"] + ep.qpos[:, 30:33]  # world position of the object
        rows["target_pos"] = ep.env_state["target_site_pos"]
    return rows


def _write_minari(task: str, episodes, states: bool = True, observations: str = "",
                  dataset_id: str = "") -> Path:
    """A dataset written by minari's own create_dataset_from_buffers, one buffer per episode as its DataCollector
    fills them (N + 1 observations and infos, the first from reset). `observations`: a key to store them under a
    Dict space instead of the env's Box. Returns the dataset's folder."""
    env_id = get_task(task).env_id
    dataset_id = dataset_id or f"test/{task}/wiggle-v0"
    obs_space = None
    buffers = []
    for i, ep in enumerate(episodes):
        infos: dict = {"success": list(np.r_[False, ep.goal_achieved])}
        if states:
            infos["state"] = {key: list(value) for key, value in _get_env_state_rows(task, ep).items()}
        obs: list | dict = list(ep.obs)
        if observations:
            obs = {observations: list(ep.obs)}
            obs_space = gym.spaces.Dict({observations: gym.spaces.Box(-np.inf, np.inf, ep.obs.shape[1:], np.float64)})
        buffers.append(EpisodeBuffer(id=i, seed=ep.seed, observations=obs, actions=list(ep.actions),
                                     rewards=list(ep.rewards), terminations=list(ep.terminated),
                                     truncations=list(ep.truncated), infos=infos))
    dataset = minari.create_dataset_from_buffers(dataset_id, buffers, env=env_id, eval_env=env_id,
                                                 observation_space=obs_space, data_format="hdf5",
                                                 algorithm_name="wiggle", description="rrl-pipe test episodes")
    return Path(dataset.storage.data_path).parent


def test_recorded_states_are_used():
    truth = _rollouts("door")
    root = _write_minari("door", truth)
    assert (root / "data" / "metadata.json").is_file() and (root / "data" / "main_data.hdf5").is_file()
    episodes = load_minari(root, "door", "dense")
    assert len(load_minari(root / "data", "door", "dense")) == 2  # --path may name the data folder too
    spec = get_task("door")
    assert len(episodes) == 2
    for ep, ref in zip(episodes, truth):
        ep.validate(spec.action_dim, spec.nq, spec.nq)
        assert ep.attrs["state_origin"] == "recorded" and ep.seed == ref.seed
        np.testing.assert_array_equal(ep.qpos, ref.qpos)
        np.testing.assert_array_equal(ep.env_state["door_body_pos"], ref.env_state["door_body_pos"])
        np.testing.assert_array_equal(ep.goal_achieved, ref.goal_achieved)
        np.testing.assert_allclose(ep.rewards, ref.rewards)
        np.testing.assert_array_equal(ep.truncated, ref.truncated)
        assert ep.attrs["state_max_obs_error"] < 1e-9  # recorded states reproduce the recorded observations


def test_make_demos_imports_a_dataset_minari_wrote(tmp_path, datasets_root):
    truth = _rollouts("door", seeds=(3, 4), steps=12)
    root = _write_minari("door", truth)
    out = tmp_path / "demos.h5"
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "make-demos", "--task", "door", "--source", "minari",
                           "--path", str(root), "--out", str(out)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "MINARI_DATASETS_PATH": str(datasets_root)})
    assert proc.returncode == 0, proc.stderr
    _, episodes = read_demos(out)
    assert [ep.seed for ep in episodes] == [3, 4]
    for ep, ref in zip(episodes, truth):
        np.testing.assert_array_equal(ep.qpos, ref.qpos)
        np.testing.assert_array_equal(ep.actions, ref.actions.astype(np.float32))


def test_without_states_reconstructs():
    truth = _rollouts("door", seeds=(2,), steps=30)
    (ep,) = load_minari(_write_minari("door", truth, states=False), "door", "sparse")
    assert ep.attrs["state_origin"] == "reconstructed" and ep.length == 30
    assert ep.attrs["recon_max_palm_error_m"] < 1e-3
    np.testing.assert_allclose(ep.qpos, truth[0].qpos, atol=1e-3)
    np.testing.assert_array_equal(ep.rewards, ep.goal_achieved.astype(np.float32))


def test_relocate_recorded_world_positions_map_to_model_params():
    truth = _rollouts("relocate", seeds=(0,), steps=8)
    (ep,) = load_minari(_write_minari("relocate", truth), "relocate", "sparse")
    np.testing.assert_allclose(ep.env_state["obj_body_pos"], truth[0].env_state["obj_body_pos"], atol=1e-12)
    np.testing.assert_allclose(ep.env_state["target_site_pos"], truth[0].env_state["target_site_pos"])


def test_dict_observations():
    truth = _rollouts("door", seeds=(0,), steps=5)
    (ep,) = load_minari(_write_minari("door", truth, observations="observation"), "door", "sparse")
    np.testing.assert_array_equal(ep.obs, truth[0].obs)
    root = _write_minari("door", truth, observations="pixels", dataset_id="test/door/pixels-v0")
    with pytest.raises(PipelineError, match="episode_0: observations is a dict with keys pixels"):
        load_minari(root, "door", "sparse")


def test_bad_inputs(tmp_path, datasets_root):
    truth = _rollouts("door", seeds=(0,), steps=5)
    with pytest.raises(PipelineError, match=r"nothing: not a Minari dataset \(expected data/main_data.hdf5 and "
                                            r"data/metadata.json in it"):
        load_minari(tmp_path / "nothing", "door", "sparse")
    root = _write_minari("door", truth, dataset_id="test/door/human-v0")
    with pytest.raises(PipelineError, match=r"data/metadata.json: dataset test/door/human-v0 was recorded in "
                                            r"AdroitHandDoor-v1, not AdroitHandHammer-v1 \(task hammer\)"):
        load_minari(root, "hammer", "sparse")
    (root / "data" / "metadata.json").unlink()
    with pytest.raises(PipelineError, match="metadata.json: no such file"):
        load_minari(root, "door", "sparse")
