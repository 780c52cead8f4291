"""The RL math of DAPG after mjrl and hand_dapg (Rajeswaran et al. 2018): the policy, the value baseline, GAE,
NPG/DAPG and BC, as pure functions and classes. Arrays in, an update out; no environment, no files but the
policy's own. The rollouts that feed it are pipeline/rollout's; the loop that joins them is pipeline/dapg's.

One iteration of mjrl's loop, in the order mjrl runs it:

    compute_returns(paths, gamma)                       # gae.py
    compute_advantages(paths, baseline, gamma, lam)     # gae.py, with the baseline fitted on the previous batch
    npg_step(policy, obs, act, adv, demo=..., demo_weight=dapg_demo_weight(lam_0, lam_1, k))   # npg.py
    baseline.fit(paths)                                 # baseline.py, after the policy step

May import (tests/test_layers.py holds it): errors, atomic.
"""

from pipeline.rl.baseline import MLPBaseline
from pipeline.rl.bc import behaviour_clone
from pipeline.rl.gae import compute_advantages, compute_returns, discounted_sum
from pipeline.rl.npg import cg_solve, dapg_demo_weight, fisher_vector_product, flat_grad, npg_step
from pipeline.rl.policy import GaussianMLPPolicy

__all__ = [
    "GaussianMLPPolicy",
    "MLPBaseline",
    "behaviour_clone",
    "cg_solve",
    "compute_advantages",
    "compute_returns",
    "dapg_demo_weight",
    "discounted_sum",
    "fisher_vector_product",
    "flat_grad",
    "npg_step",
]
