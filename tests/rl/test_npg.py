import numpy as np
import pytest
import torch

from pipeline.rl.npg import dapg_demo_weight, npg_step
from pipeline.rl.policy import GaussianMLPPolicy


def _batch(n=512, obs_dim=6, act_dim=2, seed=0):
    rng = np.random.default_rng(seed)
    policy = GaussianMLPPolicy(obs_dim, act_dim, hidden=(16, 16), seed=seed)
    obs = rng.standard_normal((n, obs_dim)).astype(np.float32)
    act = policy.sample(obs, rng)
    adv = -((act - obs[:, :act_dim]) ** 2).sum(1)  # actions close to the first obs dims are better
    return policy, obs, act, adv


def test_dapg_demo_weights():
    assert dapg_demo_weight(0.01, 0.95, 0) == pytest.approx(0.01)
    assert dapg_demo_weight(0.01, 0.95, 1) == pytest.approx(0.0095)
    assert dapg_demo_weight(0.01, 0.95, 10) == pytest.approx(0.01 * 0.95**10)


def test_npg_step_hits_the_kl_target_and_improves_the_surrogate():
    policy, obs, act, adv = _batch()
    before = policy.get_flat_params()
    stats = npg_step(policy, obs, act, adv, delta=0.05)
    # quadratic model: KL ~ delta / 2 (mjrl's normalized step size convention)
    assert stats["kl_target"] == pytest.approx(0.025)
    assert abs(stats["kl"] - 0.025) < 0.3 * 0.025
    assert stats["surr_after"] > stats["surr_before"] + 1e-3
    assert not torch.equal(before, policy.get_flat_params())
    assert stats["alpha"] > 0 and all(stats[k] >= 0 for k in ("time_vpg", "time_npg"))


def test_dapg_step_moves_the_mean_towards_demos():
    policy, obs, act, adv = _batch(seed=1)
    rng = np.random.default_rng(5)
    demo_obs = rng.standard_normal((256, 6)).astype(np.float32)
    demo_act = np.full((256, 2), 0.8, dtype=np.float32)
    dist = lambda p: float(((p.mean_action(demo_obs) - demo_act) ** 2).mean())  # noqa: E731
    d0 = dist(policy)
    zero_adv = np.random.default_rng(2).standard_normal(len(obs))  # on-policy signal is pure noise
    stats = npg_step(policy, obs, act, zero_adv, demo=(demo_obs, demo_act), demo_weight=1.0)
    assert stats["sample_coef"] == pytest.approx((512 + 256) / 512)
    assert dist(policy) < d0
    assert stats["kl"] < 2 * stats["kl_target"]


def test_log_std_clamped_after_step():
    policy, obs, act, adv = _batch(seed=2)
    with torch.no_grad():
        policy.log_std.fill_(-3.0)
    npg_step(policy, obs, act, np.abs(adv.max()) - np.abs(adv), delta=5.0)  # a large step
    assert torch.all(policy.log_std >= -3.0)
