"""The RL math of DAPG (Rajeswaran et al. 2018) after mjrl's defaults: policy, value baseline, GAE, NPG/DAPG, BC.

Pure functions and classes, no environment code: the sampler and the training loop live elsewhere. One iteration
of mjrl's loop, in the order mjrl runs it:

    compute_returns(paths, gamma)                       # gae.py
    compute_advantages(paths, baseline, gamma, lam)     # gae.py, with the baseline fitted on the previous batch
    npg_step(policy, obs, act, adv, demo=..., demo_weight=dapg_demo_weight(lam_0, lam_1, k))   # npg.py
    baseline.fit(paths)                                 # baseline.py, after the policy step
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
