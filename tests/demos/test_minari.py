"""Minari datasets read with h5py: recorded state infos when present, reconstruction from observations if not."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from pipeline.demos.minari import load_minari
from pipeline.demos.rollout import rollout
from pipeline.errors import PipelineError
from pipeline.tasks import get_task, make_env
from tests.demos.wiggle import Wiggle


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


def _write_minari(root: Path, task: str, episodes, states: str | None = "state", dict_obs: bool = False) -> Path:
    """A tiny dataset in Minari's layout: <root>/data/main_data.hdf5 with episode_<i> groups."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    env_spec = json.dumps({"id": get_task(task).env_id, "entry_point": "gymnasium_robotics.envs.adroit_hand:x"})
    (root / "metadata.json").write_text(json.dumps({"dataset_id": f"D4RL/{task}/human-v2", "env_spec": env_spec}))
    with h5py.File(root / "data" / "main_data.hdf5", "w") as f:
        f.attrs["total_episodes"] = len(episodes)
        for i, ep in enumerate(episodes):
            g = f.create_group(f"episode_{i}")
            g.attrs["id"] = i
            g.attrs["seed"] = ep.seed
            if dict_obs:
                g.create_group("observations").create_dataset("observation", data=ep.obs)
            else:
                g.create_dataset("observations", data=ep.obs)
            g.create_dataset("actions", data=ep.actions)
            g.create_dataset("rewards", data=ep.rewards)
            g.create_dataset("terminations", data=ep.terminated)
            g.create_dataset("truncations", data=ep.truncated)
            infos = g.create_group("infos")
            infos.create_dataset("success", data=np.r_[False, ep.goal_achieved])
            if states is not None:
                sg = g.create_group(states)
                for key, value in _get_env_state_rows(task, ep).items():
                    sg.create_dataset(key, data=value)
    return root


@pytest.mark.parametrize("where", ["state", "infos/state"])
def test_recorded_states_are_used(tmp_path, where):
    truth = _rollouts("door")
    episodes = load_minari(_write_minari(tmp_path, "door", truth, states=where), "door", "dense")
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


def test_without_states_reconstructs(tmp_path):
    truth = _rollouts("door", seeds=(2,), steps=30)
    (ep,) = load_minari(_write_minari(tmp_path, "door", truth, states=None), "door", "sparse")
    assert ep.attrs["state_origin"] == "reconstructed" and ep.length == 30
    assert ep.attrs["recon_max_palm_error_m"] < 1e-3
    np.testing.assert_allclose(ep.qpos, truth[0].qpos, atol=1e-3)
    np.testing.assert_array_equal(ep.rewards, ep.goal_achieved.astype(np.float32))


def test_relocate_recorded_world_positions_map_to_model_params(tmp_path):
    truth = _rollouts("relocate", seeds=(0,), steps=8)
    (ep,) = load_minari(_write_minari(tmp_path, "relocate", truth), "relocate", "sparse")
    np.testing.assert_allclose(ep.env_state["obj_body_pos"], truth[0].env_state["obj_body_pos"], atol=1e-12)
    np.testing.assert_allclose(ep.env_state["target_site_pos"], truth[0].env_state["target_site_pos"])


def test_dict_observations(tmp_path):
    truth = _rollouts("door", seeds=(0,), steps=5)
    (ep,) = load_minari(_write_minari(tmp_path / "a", "door", truth, dict_obs=True), "door", "sparse")
    np.testing.assert_array_equal(ep.obs, truth[0].obs)
    root = _write_minari(tmp_path / "b", "door", truth)
    with h5py.File(root / "data" / "main_data.hdf5", "a") as f:
        del f["episode_0/observations"]
        f.create_group("episode_0/observations").create_dataset("pixels", data=np.zeros((6, 2)))
    with pytest.raises(PipelineError, match="episode_0: observations is a dict with keys pixels"):
        load_minari(root, "door", "sparse")


def test_bad_inputs(tmp_path):
    truth = _rollouts("door", seeds=(0,), steps=5)
    with pytest.raises(PipelineError, match="main_data.hdf5: no such file"):
        load_minari(tmp_path / "nothing", "door", "sparse")
    root = _write_minari(tmp_path / "ok", "door", truth)
    with pytest.raises(PipelineError, match=r"metadata.json: dataset D4RL/door/human-v2 was recorded in "
                                            r"AdroitHandDoor-v1, not AdroitHandHammer-v1 \(task hammer\)"):
        load_minari(root, "hammer", "sparse")
    (root / "metadata.json").unlink()
    with pytest.raises(PipelineError, match="metadata.json: no such file"):
        load_minari(root, "door", "sparse")
    with pytest.raises(PipelineError, match="unknown task"):
        load_minari(root, "drawer", "sparse")
    data = (root / "data" / "main_data.hdf5").read_bytes()
    cut = tmp_path / "cut"
    (cut / "data").mkdir(parents=True)
    (cut / "data" / "main_data.hdf5").write_bytes(data[: len(data) // 3])
    with pytest.raises(PipelineError, match="main_data.hdf5: "):
        load_minari(cut, "door", "sparse")
