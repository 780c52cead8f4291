import torch

from pipeline.rl.npg import fisher_vector_product, flat_grad
from pipeline.rl.policy import GaussianMLPPolicy


def test_fvp_equals_explicit_kl_hessian_times_vector():
    torch.manual_seed(0)
    policy = GaussianMLPPolicy(3, 2, hidden=(4,), seed=0)
    with torch.no_grad():
        policy.log_std.copy_(torch.tensor([0.3, -0.5]))
        for p in policy.net.parameters():  # undo the 1e-2 scaling so the mean really depends on the weights
            p.normal_(0, 0.5)
    obs = torch.randn(7, 3)
    damping = 1e-3
    theta0 = policy.get_flat_params()
    with torch.no_grad():
        old_mean, old_log_std = policy(obs), policy.log_std.clone()

    def kl_of(theta: torch.Tensor) -> torch.Tensor:
        # the same KL as a function of one flat parameter vector, for an explicit autograd Hessian
        names = [n for n, _ in policy.named_parameters()]
        sizes = [p.numel() for _, p in policy.named_parameters()]
        shapes = [p.shape for _, p in policy.named_parameters()]
        pieces = dict(zip(names, (t.reshape(s) for t, s in zip(torch.split(theta, sizes), shapes))))
        new_mean = torch.func.functional_call(policy, pieces, (obs,))
        new_log_std = pieces["log_std"]
        old_var, new_var = torch.exp(2 * old_log_std), torch.exp(2 * new_log_std)
        per_dim = ((old_mean - new_mean) ** 2 + old_var - new_var) / (2 * new_var + 1e-8) + new_log_std - old_log_std
        return per_dim.sum(1).mean()

    hessian = torch.autograd.functional.hessian(kl_of, theta0)
    fvp = fisher_vector_product(policy, obs, damping)
    for seed in range(3):
        v = torch.randn(theta0.numel(), generator=torch.Generator().manual_seed(seed))
        torch.testing.assert_close(fvp(v), hessian @ v + damping * v, rtol=1e-4, atol=1e-5)


def test_flat_grad_gives_zeros_for_unused_params():
    policy = GaussianMLPPolicy(3, 2, hidden=(4,))
    g = flat_grad(policy.log_std.sum(), list(policy.parameters()))
    assert g.shape == policy.get_flat_params().shape
    assert g.abs().sum() == 2.0  # only the two log_std entries
