import numpy as np

from pipeline.rl.baseline import MLPBaseline
from pipeline.rl.gae import compute_advantages, compute_returns, discounted_sum


class _FixedBaseline:
    def __init__(self, values):
        self.values = np.asarray(values, dtype=float)

    def predict(self, path):
        return self.values


def test_discounted_sum_by_hand():
    np.testing.assert_allclose(discounted_sum([1.0, 2.0, 3.0], 0.5), [1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3.0])


def test_returns_and_gae_on_a_four_step_path():
    g, lam = 0.9, 0.8
    r = np.array([1.0, 0.0, 2.0, -1.0])
    v = np.array([0.5, 1.0, 1.5, 2.0])
    path = {"rewards": r, "observations": np.zeros((4, 2))}
    compute_returns([path], g)
    np.testing.assert_allclose(path["returns"], [1 + g**2 * 2 - g**3, g * 2 - g**2, 2 - g, -1.0])

    compute_advantages([path], _FixedBaseline(v), gamma=g, gae_lambda=lam)
    # every path ends done (pen drop or the horizon, where gym's TimeLimit sets done): V after the last step is 0
    d = [r[0] + g * v[1] - v[0], r[1] + g * v[2] - v[1], r[2] + g * v[3] - v[2], r[3] + g * 0.0 - v[3]]
    gl = g * lam
    expected = [d[0] + gl * d[1] + gl**2 * d[2] + gl**3 * d[3], d[1] + gl * d[2] + gl**2 * d[3], d[2] + gl * d[3], d[3]]
    np.testing.assert_allclose(path["advantages"], expected)
    np.testing.assert_allclose(path["baseline"], v)
    assert np.isclose(path["advantages"][3], r[3] - v[3])


def test_baseline_features_are_mjrl_mlp_baselines():
    """mjrl MLPBaseline._features: [clip(o, -10, 10) / 10, (t/1000)^1, ^2, ^3, ^4] for t = 0 .. T-1 of each path."""
    obs = np.array([[-20.0, 0.5], [3.0, 11.0], [0.0, -4.0]])
    feats = MLPBaseline(2).features([{"observations": obs}, {"observations": obs[:1]}])
    t = np.array([0.0, 1.0, 2.0, 0.0]) / 1000
    expected = np.column_stack([np.clip(np.vstack([obs, obs[:1]]), -10, 10) / 10, t, t**2, t**3, t**4])
    np.testing.assert_allclose(feats, expected, rtol=1e-6)


def test_lambda_one_gives_returns_minus_baseline():
    path = {"rewards": np.array([1.0, 2.0, 3.0, 4.0]), "observations": np.zeros((4, 1))}
    v = np.array([0.1, 0.2, 0.3, 0.4])
    compute_returns([path], 0.99)
    compute_advantages([path], _FixedBaseline(v), gamma=0.99, gae_lambda=1.0)
    np.testing.assert_allclose(path["advantages"], path["returns"] - v)


def test_baseline_fit_reduces_error_and_predicts_per_step():
    rng = np.random.default_rng(0)
    paths = [{"observations": rng.standard_normal((50, 4)), "rewards": np.ones(50)} for _ in range(8)]
    compute_returns(paths, 0.99)
    baseline = MLPBaseline(4, epochs=20, seed=0)
    err_before, err_after = baseline.fit(paths)
    assert err_after < 0.5 * err_before
    compute_advantages(paths, baseline, gamma=0.99, gae_lambda=0.97)
    assert paths[0]["advantages"].shape == (50,) and baseline.predict(paths[0]).shape == (50,)
    b2 = MLPBaseline(4, epochs=20, seed=0)
    assert b2.fit(paths) == (err_before, err_after)  # deterministic from the seed


def test_baseline_state_dict_resumes_identically(tmp_path):
    import torch

    rng = np.random.default_rng(1)
    paths = [{"observations": rng.standard_normal((40, 3)), "rewards": rng.standard_normal(40)} for _ in range(4)]
    compute_returns(paths, 0.99)
    a = MLPBaseline(3, seed=0)
    a.fit(paths)
    torch.save(a.state_dict(), tmp_path / "vf.pt")
    b = MLPBaseline(3, seed=7)
    b.load_state_dict(torch.load(tmp_path / "vf.pt", weights_only=True))
    assert a.fit(paths) == b.fit(paths)
    np.testing.assert_array_equal(a.predict(paths[0]), b.predict(paths[0]))
