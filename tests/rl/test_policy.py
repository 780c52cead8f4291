import numpy as np
import pytest
import torch

from pipeline.errors import PipelineError
from pipeline.rl.policy import GaussianMLPPolicy


def test_init_follows_mjrl():
    policy = GaussianMLPPolicy(5, 3)
    assert [m.out_features for m in policy.net if isinstance(m, torch.nn.Linear)] == [256, 256, 3]
    assert torch.all(policy.log_std == 0)
    assert policy.net[-1].weight.abs().max() < 1e-2 * (1 / np.sqrt(256)) + 1e-9  # default bound, scaled by 1e-2
    a = policy.mean_action(np.ones(5, dtype=np.float32))
    assert a.shape == (3,) and np.abs(a).max() < 0.05


def test_log_std_is_clamped_at_min():
    policy = GaussianMLPPolicy(2, 2, hidden=(4,))
    flat = policy.get_flat_params()
    flat[:2] = -10.0  # log_std is registered first, so it leads the flat vector (as in mjrl)
    policy.set_flat_params(flat)
    assert torch.all(policy.log_std == -3.0)


def test_normalisation_guards_a_constant_feature():
    rng = np.random.default_rng(0)
    obs = rng.standard_normal((50, 3)).astype(np.float32)
    obs[:, 1] = 7.0  # constant feature
    act = rng.standard_normal((50, 2)) * 3 + 1
    policy = GaussianMLPPolicy(3, 2, hidden=(8,))
    policy.set_normalisation(obs, act)
    assert policy.obs_std[1] == 1.0 and policy.obs_mean[1] == 7.0
    np.testing.assert_allclose(policy.act_mean.numpy(), act.mean(0), rtol=1e-5)
    probe = obs[:1].copy()
    probe[0, 1] = 7.0 + 1e-3  # a tiny change in the constant feature stays tiny
    assert np.all(np.isfinite(policy.mean_action(probe)))
    assert np.abs(policy.mean_action(probe) - policy.mean_action(obs[:1])).max() < 1e-3


def test_log_std_from_demo_actions_as_mjrl_set_variance_with_data():
    rng = np.random.default_rng(0)
    act = rng.standard_normal((400, 3)) * np.array([0.5, 0.2, 0.0])  # the last dimension never moves
    policy = GaussianMLPPolicy(2, 3, hidden=(4,))
    policy.set_log_std_from_actions(act)
    np.testing.assert_allclose(policy.log_std[:2].detach().numpy(), np.log(act[:, :2].std(0)), rtol=1e-5)
    assert policy.log_std[2] == -3.0  # log(0 + 1e-12), clamped at min_log_std
    policy.set_log_std_from_actions(act, scale=0.5)  # train_policy.init_std_scale
    np.testing.assert_allclose(policy.log_std[:2].detach().numpy(), np.log(0.5 * act[:, :2].std(0)), rtol=1e-5)


def test_npg_normalisation_leaves_the_output_transform_alone():
    policy = GaussianMLPPolicy(2, 3, hidden=(4,))
    policy.set_normalisation(np.array([[0.0, 1.0], [2.0, 3.0]]), None)
    assert policy.obs_mean.tolist() == [1.0, 2.0]
    assert policy.act_mean.tolist() == [0.0] * 3 and policy.act_std.tolist() == [1.0] * 3


def test_sample_and_log_likelihood():
    policy = GaussianMLPPolicy(4, 2, hidden=(8,))
    obs = np.zeros((2000, 4), dtype=np.float32)
    a = policy.sample(obs, np.random.default_rng(0))
    assert a.shape == (2000, 2) and abs(a.std() - 1.0) < 0.05
    np.testing.assert_array_equal(a, policy.sample(obs, np.random.default_rng(0)))
    ll = policy.log_likelihood(torch.zeros(1, 4), torch.as_tensor(policy.mean_action(obs[:1])))
    assert torch.allclose(ll, torch.tensor([-np.log(2 * np.pi)], dtype=torch.float32))  # 2 dims, std 1, at the mean


def test_checkpoint_roundtrip_and_layout_refusal(tmp_path):
    layout = {"encoder_key": "resnet34", "cameras": ["top"], "proprio": 24}
    policy = GaussianMLPPolicy(6, 2, hidden=(8,), obs_layout=layout)
    policy.set_normalisation(np.random.default_rng(0).standard_normal((10, 6)), np.ones((10, 2)))
    path = tmp_path / "policy.pt"
    policy.save(path)
    loaded = GaussianMLPPolicy.load(path, expect_layout={"encoder_key": "resnet34", "cameras": ("top",), "proprio": 24},
                                    expect_obs_dim=6)
    obs = np.ones((3, 6), dtype=np.float32)
    np.testing.assert_array_equal(loaded.mean_action(obs), policy.mean_action(obs))
    assert loaded.layout == policy.layout
    with pytest.raises(PipelineError, match="trained on observations") as err:
        GaussianMLPPolicy.load(path, expect_layout={**layout, "encoder_key": "resnet50"})
    assert "\n" not in str(err.value)
    with pytest.raises(PipelineError, match="6-dim"):
        GaussianMLPPolicy.load(path, expect_obs_dim=7)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(PipelineError, match="not a policy checkpoint"):
        GaussianMLPPolicy.load(tmp_path / "junk.pt")
