import numpy as np
import torch

from pipeline.rl.npg import cg_solve


def test_cg_matches_direct_solve_on_spd_system():
    rng = np.random.default_rng(0)
    m = rng.standard_normal((8, 8))
    a = m @ m.T + 8 * np.eye(8)  # SPD, well conditioned
    b = rng.standard_normal(8)
    x = cg_solve(lambda v: a @ v, b, iters=20)
    np.testing.assert_allclose(x, np.linalg.solve(a, b), rtol=1e-6, atol=1e-8)


def test_cg_works_on_torch_vectors_and_with_a_start_point():
    rng = np.random.default_rng(1)
    m = rng.standard_normal((6, 6))
    a = torch.tensor(m @ m.T + 6 * np.eye(6))
    b = torch.tensor(rng.standard_normal(6))
    x = cg_solve(lambda v: a @ v, b, iters=6, x0=b.clone())  # n iterations solve an n-dim system exactly
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(a.numpy(), b.numpy()), rtol=1e-6, atol=1e-8)
