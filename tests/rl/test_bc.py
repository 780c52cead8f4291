import numpy as np
import torch

from pipeline.rl.bc import behaviour_clone
from pipeline.rl.policy import GaussianMLPPolicy


def _data():
    rng = np.random.default_rng(0)
    obs = rng.standard_normal((1024, 5)).astype(np.float32)
    act = np.tanh(obs @ rng.standard_normal((5, 2))).astype(np.float32) * 2 + 0.5
    return obs, act


def test_bc_reduces_loss_and_is_deterministic():
    obs, act = _data()
    runs = []
    for _ in range(2):
        policy = GaussianMLPPolicy(5, 2, hidden=(32, 32), seed=3)
        policy.set_normalisation(obs, act)
        policy.set_log_std_from_actions(act)  # as before DAPG's BC
        log_std = policy.log_std.detach().clone()
        with torch.no_grad():
            before = float(torch.nn.functional.mse_loss(policy(torch.from_numpy(obs)), torch.from_numpy(act)))
        losses = behaviour_clone(policy, obs, act, epochs=5, batch_size=32, seed=1)
        assert torch.equal(policy.log_std, log_std)  # BC fits the mean by MSE; the exploration std stays
        runs.append((losses, policy.get_flat_params()))
    losses, params = runs[0]
    assert len(losses) == 5 and losses[-1] < 0.5 * before and losses[-1] < losses[0]
    assert runs[1][0] == losses and torch.equal(runs[1][1], params)
