"""hand_dapg sources: human demo pickles (states reconstructed from observations) and the mjrl expert policy.

Synthetic files are made here from short rollouts of the real envs; the test on the real reference files
skips when ../shared/data/hand_dapg is absent.
"""

from __future__ import annotations

import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline.demos.hand_dapg import expert_rollouts, load_expert_policy, load_human_demos
from pipeline.demos.rollout import rollout
from pipeline.errors import PipelineError
from pipeline.tasks import get_task, make_env
from tests.conftest import HAND_DAPG_DIR
from tests.demos.wiggle import Wiggle


def _init_state_dict(task: str, state: dict) -> dict:
    """What the env's get_env_state() returns at a reset, in hand_dapg's init_state_dict form."""
    d = {"qpos": state["qpos"].copy(), "qvel": state["qvel"].copy()}
    if task == "door":
        d["door_body_pos"] = state["door_body_pos"]
    elif task == "hammer":
        d["board_pos"] = state["board_pos"]
    elif task == "pen":
        d["desired_orien"] = state["desired_orien"]
    else:
        d["obj_pos"] = state["obj_body_pos"]  # object joints are zero at reset: world pos = body pos
        d["target_pos"] = state["target_site_pos"]
    return d


def _synthetic_demo(task: str, steps: int, seed: int = 0):
    """A rollout and the hand_dapg-style dict recorded from it: T observations, T actions, T rewards."""
    env = make_env(task, "dense")
    ep = rollout(env, Wiggle(env.action_dim), seed=seed, horizon=steps)
    env.close()
    demo = {
        "observations": ep.obs[:-1].copy(),  # hand_dapg records the observation BEFORE each action
        "actions": ep.actions.astype(np.float64),
        "rewards": ep.rewards.astype(np.float64),
        "init_state_dict": _init_state_dict(task, ep.state_at(0)),
    }
    return ep, demo


def _write(tmp_path, name, obj) -> Path:
    path = tmp_path / name
    path.write_bytes(pickle.dumps(obj))
    return path


def test_door_reconstruction_is_exact(tmp_path):
    truth, demo = _synthetic_demo("door", steps=40)
    path = _write(tmp_path, "door-v0_demos.pickle", [demo])
    (ep,) = load_human_demos(path, "door", "dense", states="recorded")
    T = 40 - 1  # 40 recorded steps keep 39 transitions
    spec = get_task("door")
    ep.validate(spec.action_dim, spec.nq, spec.nq)
    assert ep.length == T and ep.qpos.shape == (T + 1, 30) and ep.obs.shape == (T + 1, 39)
    assert ep.attrs["state_origin"] == "reconstructed"
    assert ep.attrs["recon_max_palm_error_m"] < 1e-3
    # the hidden ARTz slide and every other joint come back as they were simulated
    np.testing.assert_allclose(ep.qpos, truth.qpos[:-1], atol=1e-3)
    np.testing.assert_allclose(ep.env_state["door_body_pos"], truth.env_state["door_body_pos"][:-1])
    np.testing.assert_allclose(ep.rewards, demo["rewards"][:-1], rtol=1e-6)  # dense: the recorded rewards
    np.testing.assert_array_equal(ep.actions, truth.actions[:-1])


def test_door_without_init_state_solves_door_position(tmp_path):
    truth, demo = _synthetic_demo("door", steps=12, seed=3)
    del demo["init_state_dict"]
    (ep,) = load_human_demos(_write(tmp_path, "d.pickle", [demo]), "door", "sparse", states="recorded")
    np.testing.assert_allclose(ep.env_state["door_body_pos"][0], truth.env_state["door_body_pos"][0], atol=1e-6)
    assert ep.attrs["recon_env_state_solved"] == "door_body_pos"
    np.testing.assert_array_equal(ep.rewards, ep.goal_achieved.astype(np.float32))  # sparse: 1 when the goal holds


def test_replay_is_rrls_convert_demos_from_the_initial_state(tmp_path):
    """states 'replay': every recorded action stepped from init_state_dict, so a demo recorded in this env comes back
    exactly, with all T actions (no transition dropped) and the reward of the mode asked for."""
    truth, demo = _synthetic_demo("door", steps=30, seed=2)
    (ep,) = load_human_demos(_write(tmp_path, "d.pickle", [demo]), "door", "rrl")  # replay is the default
    assert ep.length == 30 and ep.attrs["state_origin"].startswith("replay")
    np.testing.assert_allclose(ep.qpos, truth.qpos, atol=1e-6)  # the pickle keeps float32 actions
    np.testing.assert_array_equal(ep.env_state["door_body_pos"], truth.env_state["door_body_pos"])
    hinge = ep.qpos[1:, get_task("door").nq - 2]
    np.testing.assert_allclose(ep.rewards, -0.1 * (hinge - 1.57) ** 2 + 2 * (hinge > 0.2), rtol=1e-6)
    del demo["init_state_dict"]
    with pytest.raises(PipelineError, match=r"d2.pickle: demo 0: init_state_dict lacks qpos, qvel, which states 'replay'"):
        load_human_demos(_write(tmp_path, "d2.pickle", [demo]), "door", "rrl")
    with pytest.raises(PipelineError, match="unknown human demo states 'raw'"):
        load_human_demos(_write(tmp_path, "d3.pickle", [demo]), "door", "rrl", states="raw")


@pytest.mark.parametrize("task", ["hammer", "pen", "relocate"])
def test_other_tasks_give_valid_episodes(tmp_path, task):
    truth, demo = _synthetic_demo(task, steps=12)
    (ep,) = load_human_demos(_write(tmp_path, f"{task}.pickle", [demo]), task, "gym-sparse", states="recorded")
    spec = get_task(task)
    ep.validate(spec.action_dim, spec.nq, spec.nq)
    assert ep.length == 11 and ep.attrs["state_origin"] == "reconstructed"
    assert set(ep.env_state) == {p.key for p in spec.state_params}
    assert set(np.unique(ep.rewards)) <= {np.float32(10.0), np.float32(-0.1)}
    # the hand is copied from the observation: exact
    np.testing.assert_allclose(ep.qpos[:, spec.proprio_slice], truth.qpos[:-1, spec.proprio_slice], atol=1e-9)
    # everything that is a function of positions is reproduced (approximate parts are unobservable ones)
    assert ep.attrs["recon_max_obs_error"] < 5e-3
    if task == "hammer":
        assert ep.attrs["recon_max_palm_error_m"] < 1e-3
    if task in ("hammer", "relocate"):  # object translation is observed: solved to within a millimetre
        np.testing.assert_allclose(ep.qpos[:, -6:-3], truth.qpos[:-1, -6:-3], atol=1e-3)


def test_action_size_mismatch(tmp_path):
    _, demo = _synthetic_demo("door", steps=4)
    demo["actions"] = demo["actions"][:, :27]
    path = _write(tmp_path, "bad.pickle", [demo])
    with pytest.raises(PipelineError, match=r"bad\.pickle: demo 0: actions have shape \(4, 27\)"):
        load_human_demos(path, "door", "sparse")


@pytest.mark.parametrize(("field", "value"), [("actions", np.inf), ("actions", -np.inf), ("observations", np.nan),
                                              ("rewards", np.inf)])
def test_non_finite_values_are_refused_naming_demo_and_field(tmp_path, field, value):
    """+inf in an action was once clipped to 1.0 without a word."""
    _, demo = _synthetic_demo("door", steps=4)
    demo["rewards"] = np.zeros(4)
    demo[field] = np.array(demo[field], dtype=np.float64)
    demo[field].flat[min(5, demo[field].size - 1)] = value
    path = _write(tmp_path, "bad.pickle", [demo, demo])
    for states in ("replay", "recorded"):
        with pytest.raises(PipelineError, match=rf"bad\.pickle: demo 0: {field} holds {value} \(row \d\); every "
                                                r"value must be finite"):
            load_human_demos(path, "door", "rrl", states=states)


def test_wrong_task_and_unknown_task(tmp_path):
    _, demo = _synthetic_demo("door", steps=4)
    path = _write(tmp_path, "door.pickle", [demo])
    with pytest.raises(PipelineError, match="door.pickle: demo 0: actions"):
        load_human_demos(path, "hammer", "sparse")  # 28 actions, hammer takes 26
    with pytest.raises(PipelineError, match="unknown task 'drawer'"):
        load_human_demos(path, "drawer", "sparse")


def test_foreign_class_and_truncated_file(tmp_path):
    class Evil:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {tmp_path / 'ran'}",))

    path = _write(tmp_path, "evil.pickle", [{"observations": Evil()}])
    with pytest.raises(PipelineError, match="evil.pickle: refused"):
        load_human_demos(path, "door", "sparse")
    assert not (tmp_path / "ran").exists()
    cut = tmp_path / "cut.pickle"
    cut.write_bytes(_write(tmp_path, "full.pickle", [{"a": np.zeros(50)}]).read_bytes()[:40])
    with pytest.raises(PipelineError, match="cut.pickle"):
        load_human_demos(cut, "door", "sparse")
    with pytest.raises(PipelineError, match="no such file"):
        load_human_demos(tmp_path / "absent.pickle", "door", "sparse")


# --- expert policy ------------------------------------------------------------------------------------------


class _VF:
    """Placeholder pickled by reference and renamed to torch._C._VariableFunctions in the bytes afterwards."""


class _Tanh:
    """How a torch-0.4-era mjrl pickle stores `torch.tanh`: getattr(torch._C._VariableFunctions, 'tanh')."""

    def __reduce__(self):
        return (getattr, (_VF, "tanh"))


def _fake_mjrl_policy(obs_dim=39, act_dim=28, hidden=16, seed=0) -> tuple[bytes, dict]:
    """An object laid out like mjrl's MLP/FCNetwork, pickled with fake mjrl modules that are removed after."""
    g = torch.Generator().manual_seed(seed)
    layers = torch.nn.ModuleList([torch.nn.Linear(obs_dim, hidden), torch.nn.Linear(hidden, act_dim)])
    for p in layers.parameters():
        p.data = torch.randn(p.shape, generator=g) * 0.5
    t = {
        "in_shift": torch.randn(obs_dim, generator=g),
        "in_scale": torch.rand(obs_dim, generator=g) + 0.5,
        "out_shift": torch.randn(act_dim, generator=g) * 0.1,
        "out_scale": torch.rand(act_dim, generator=g) + 0.5,
    }
    names = ("mjrl", "mjrl.policies", "mjrl.policies.gaussian_mlp", "mjrl.utils", "mjrl.utils.fc_network")
    for name in names:
        sys.modules[name] = types.ModuleType(name)
    MLP = type("MLP", (), {"__module__": "mjrl.policies.gaussian_mlp"})
    FCNetwork = type("FCNetwork", (), {"__module__": "mjrl.utils.fc_network"})
    sys.modules["mjrl.policies.gaussian_mlp"].MLP = MLP
    sys.modules["mjrl.utils.fc_network"].FCNetwork = FCNetwork
    try:
        model = FCNetwork()
        model.__dict__.update(
            {"_modules": {"fc_layers": layers}, "nonlinearity": _Tanh(), "obs_dim": obs_dim, "act_dim": act_dim, **t}
        )
        policy = MLP()
        policy.__dict__.update({"model": model, "log_std_val": np.full(act_dim, -1.0), "m": act_dim, "n": obs_dim})
        data = pickle.dumps(policy, protocol=3)
        placeholder = f"c{__name__}\n_VF\n".encode()
        assert data.count(placeholder) == 1
        data = data.replace(placeholder, b"ctorch._C\n_VariableFunctions\n")
    finally:
        for name in names:
            del sys.modules[name]
    return data, {"layers": layers, **t}


def _reference_forward(ref, obs):
    x = (torch.as_tensor(obs, dtype=torch.float32) - ref["in_shift"]) / (ref["in_scale"] + 1e-8)
    x = torch.tanh(ref["layers"][0](x))
    x = ref["layers"][1](x)
    return (x * ref["out_scale"] + ref["out_shift"]).detach().numpy()


def test_expert_policy_matches_mjrl_forward(tmp_path):
    data, ref = _fake_mjrl_policy()
    path = tmp_path / "door-v0_policy.pickle"
    path.write_bytes(data)
    policy = load_expert_policy(path, "door")
    assert policy.obs_dim == 39 and policy.act_dim == 28 and policy.nonlinearity == "tanh"
    obs = np.random.default_rng(0).normal(size=39)
    np.testing.assert_allclose(policy.act(obs, {}), _reference_forward(ref, obs), rtol=1e-5, atol=1e-5)
    (ep,) = expert_rollouts(policy, "door", "sparse", seeds=[0], horizon=5)
    assert ep.length == 5 and ep.seed == 0 and ep.attrs["state_origin"] == "simulated"


def test_expert_policy_wrong_task(tmp_path):
    data, _ = _fake_mjrl_policy()
    path = tmp_path / "p.pickle"
    path.write_bytes(data)
    with pytest.raises(PipelineError, match="p.pickle: policy outputs 28 actions, task pen needs 24"):
        load_expert_policy(path, "pen")


# --- the real reference files (skipped when absent) ---------------------------------------------------------


@pytest.mark.skipif(not (HAND_DAPG_DIR / "door-v0_policy.pickle").exists(), reason="no ../shared/data/hand_dapg")
@pytest.mark.slow
def test_real_door_expert_opens_the_door():
    policy = load_expert_policy(HAND_DAPG_DIR / "door-v0_policy.pickle", "door")
    episodes = expert_rollouts(policy, "door", "sparse", seeds=range(20))
    assert np.mean([e.success for e in episodes]) >= 0.9  # measured: 20 of 20


@pytest.mark.skipif(not (HAND_DAPG_DIR / "door-v0_demos.pickle").exists(), reason="no ../shared/data/hand_dapg")
@pytest.mark.slow
def test_real_door_human_demos_reconstruct():
    episodes = load_human_demos(HAND_DAPG_DIR / "door-v0_demos.pickle", "door", "sparse", states="recorded")
    assert len(episodes) == 25 and sum(e.length for e in episodes) == 6729 - 25
    assert max(e.attrs["recon_max_palm_error_m"] for e in episodes) < 2e-3  # measured: 1.1 mm
    assert sum(e.success for e in episodes) == 6  # docs/validation.md: 6 of the 25 meet the success rule


@pytest.mark.skipif(not (HAND_DAPG_DIR / "door-v0_demos.pickle").exists(), reason="no ../shared/data/hand_dapg")
@pytest.mark.slow
def test_real_door_human_demos_replay_from_the_reset_pose():
    """RRL's demos: the human actions replayed from init_state_dict, whose hand is the reset pose (arm at 0), where
    the recorded observations start 0.2-0.5 rad away. Replayed, every demo still opens the door past 1 rad."""
    episodes = load_human_demos(HAND_DAPG_DIR / "door-v0_demos.pickle", "door", "rrl")
    assert len(episodes) == 25 and sum(e.length for e in episodes) == 6729
    assert all(np.all(e.qpos[0, :4] == 0.0) for e in episodes)
    assert min(e.qpos[:, 28].max() for e in episodes) > 1.0  # measured: 1.05 .. 1.59
