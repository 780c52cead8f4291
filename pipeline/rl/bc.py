"""Behaviour cloning as in mjrl/algos/behavior_cloning.py with loss_type 'MSE': regress the policy's mean action
on the demonstrated actions (in action space, after the output de-normalisation) with Adam.

RRL's job configs: batch 32, 5 epochs, lr 1e-3. Minibatches are a fresh permutation per epoch drawn from `seed`
(mjrl draws int(N/batch) random batches with replacement), so the result is a function of the seed.
"""

from __future__ import annotations

import numpy as np
import torch

from pipeline.rl.policy import GaussianMLPPolicy
from pipeline.rl.torch_cpu import torch_threads


def behaviour_clone(policy: GaussianMLPPolicy, obs: np.ndarray, actions: np.ndarray, epochs: int = 5,
                    batch_size: int = 32, lr: float = 1e-3, seed: int = 0, threads: int | None = 1) -> list[float]:
    """Train `policy` in place; returns the mean minibatch MSE of each epoch. `threads`: see torch_threads."""
    with torch_threads(threads):
        return _behaviour_clone(policy, obs, actions, epochs, batch_size, lr, seed)


def _behaviour_clone(policy: GaussianMLPPolicy, obs: np.ndarray, actions: np.ndarray, epochs: int,
                     batch_size: int, lr: float, seed: int) -> list[float]:
    obs_t = torch.as_tensor(np.asarray(obs), dtype=torch.float32)
    act_t = torch.as_tensor(np.asarray(actions), dtype=torch.float32)
    rng = np.random.default_rng(seed)
    # log_std gets no gradient from the MSE, so Adam leaves it at its initial value, as in mjrl.
    optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
    n = len(obs_t)
    losses: list[float] = []
    for _ in range(epochs):
        perm = torch.from_numpy(rng.permutation(n))
        total, batches = 0.0, 0
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            loss = torch.nn.functional.mse_loss(policy(obs_t[idx]), act_t[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, batches = total + loss.item(), batches + 1
        losses.append(total / max(batches, 1))
    policy.clamp_log_std()
    return losses
