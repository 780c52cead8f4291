"""The learner against mjrl's own numbers: DAPG updates, GAE and the value baseline's features.

`data/mjrl_dapg_golden.npz` holds only numbers, written once by `scripts/mjrl_golden.py` from mjrl's code
(aravindr93/mjrl at the commit stored in the file, 3871d93, the master RRL's mjrl fork follows): a 5-d
observation, 3-d action problem; mjrl's MLP policy (hidden (8, 8), log-std per dimension, non-trivial input and
output shift and scale); three on-policy paths of random numbers and two demo paths of a fixed tanh-linear expert;
mjrl's MLPBaseline (hidden (16, 16)) for the value features and predictions, its process_samples for returns and
GAE (gamma 0.995, lambda 0.97); then three calls of mjrl's DAPG.train_from_paths on those paths with RRL's
settings (normalized step size 0.05, damping 1e-4, lam_0 0.01, lam_1 0.95) but 4 CG iterations (the script says
why), recording the parameters, alpha and KL after each.
"""

from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline.rl.baseline import MLPBaseline
from pipeline.rl.gae import compute_advantages, compute_returns
from pipeline.rl.npg import dapg_demo_weight, npg_step
from pipeline.rl.policy import GaussianMLPPolicy

GOLDEN = Path(__file__).parent / "data" / "mjrl_dapg_golden.npz"
MJRL = {"delta": 0.05, "lam_0": 0.01, "lam_1": 0.95}


@pytest.fixture(scope="module")
def golden():
    return dict(np.load(GOLDEN))


def _from_mjrl_order(flat: np.ndarray, act_dim: int) -> np.ndarray:
    """mjrl flattens [layer weights and biases..., log_std]; this policy [log_std, layer weights and biases...]."""
    return np.concatenate([flat[-act_dim:], flat[:-act_dim]])


def _policy(g) -> GaussianMLPPolicy:
    obs_dim, act_dim = g["obs"].shape[1], g["actions"].shape[1]
    policy = GaussianMLPPolicy(obs_dim, act_dim, hidden=tuple(g["hidden"]), min_log_std=float(g["min_log_std"]))
    policy.set_flat_params(torch.as_tensor(_from_mjrl_order(g["params_0"], act_dim)))
    with torch.no_grad():  # mjrl's FCNetwork: (x - in_shift) / (in_scale + 1e-8), out * out_scale + out_shift
        policy.obs_mean.copy_(torch.as_tensor(g["in_shift"]))
        policy.obs_std.copy_(torch.as_tensor(g["in_scale"] + 1e-8))
        policy.act_mean.copy_(torch.as_tensor(g["out_shift"]))
        policy.act_std.copy_(torch.as_tensor(g["out_scale"]))
    return policy


def _dapg_updates(g, delta=MJRL["delta"], lam_0=MJRL["lam_0"]) -> tuple[np.ndarray, list[dict]]:
    policy = _policy(g)
    steps, stats = [], []
    for k in range(len(g["params_after"])):
        stats.append(npg_step(policy, g["obs"], g["actions"], g["advantages"], delta=delta, cg_iters=int(g["cg_iters"]),
                              damping=float(g["damping"]), demo=(g["demo_obs"], g["demo_actions"]),
                              demo_weight=dapg_demo_weight(lam_0, MJRL["lam_1"], k)))
        flat = policy.get_flat_params().numpy()
        steps.append(np.concatenate([flat[policy.act_dim:], flat[:policy.act_dim]]))  # back to mjrl's order
    return np.stack(steps), stats


def _step_error(ours: np.ndarray, g) -> float:
    """Largest relative error of the parameter change theta_k - theta_0 over the updates (the change, not the
    parameters: a wrong step hides inside parameters that barely move)."""
    theirs = g["params_after"] - g["params_0"]
    return max(np.linalg.norm(o - t) / np.linalg.norm(t) for o, t in zip(ours - g["params_0"], theirs))


def test_three_dapg_updates_match_mjrls(golden):
    ours, stats = _dapg_updates(golden)
    assert _step_error(ours, golden) < 1e-4  # measured about 1e-6: float32 rounding
    np.testing.assert_allclose([s["alpha"] for s in stats], golden["alpha"], rtol=1e-4)
    np.testing.assert_allclose([s["kl"] for s in stats], golden["kl"], rtol=1e-4)


@pytest.mark.parametrize("change", [{"delta": 0.0525}, {"lam_0": 0.0105}])
def test_the_golden_test_notices_a_step_size_or_demo_weight_5_percent_off(golden, change):
    ours, _ = _dapg_updates(golden, **change)
    assert _step_error(ours, golden) > 1e-3  # measured 2.6e-2 (step size), 1.0e-2 (demo weight)


def _paths(g) -> list[dict]:
    ends = np.cumsum(g["path_lengths"])[:-1]
    split = lambda key: np.split(g[key], ends)  # noqa: E731
    return [{"observations": o, "rewards": r} for o, r in zip(split("obs"), split("rewards"))]


def _baseline(g) -> MLPBaseline:
    baseline = MLPBaseline(g["obs"].shape[1], hidden=(16, 16))
    theirs = [g[k] for k in sorted(k for k in g if k.startswith("baseline."))]  # fc_0.bias, fc_0.weight, ...
    ours = baseline.model.state_dict()
    by_layer = {name: torch.as_tensor(t) for name, t in zip(sorted(ours), theirs)}  # 0.bias, 0.weight, 2.bias, ...
    baseline.model.load_state_dict(by_layer)
    return baseline


def test_baseline_features_values_returns_and_gae_match_mjrls(golden):
    paths, baseline = _paths(golden), _baseline(golden)
    np.testing.assert_allclose(baseline.features(paths), golden["baseline_features"], rtol=1e-6, atol=1e-7)
    compute_returns(paths, 0.995)
    compute_advantages(paths, baseline, gamma=0.995, gae_lambda=0.97)
    cat = lambda key: np.concatenate([p[key] for p in paths])  # noqa: E731
    np.testing.assert_allclose(cat("returns"), golden["returns"], rtol=1e-12)
    np.testing.assert_allclose(cat("baseline"), golden["baseline_values"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cat("advantages"), golden["advantages"], rtol=1e-5, atol=1e-5)
