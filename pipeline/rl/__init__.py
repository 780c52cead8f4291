"""Policy learning after mjrl and hand_dapg: the RL math of DAPG (Rajeswaran et al. 2018; policy, value baseline,
GAE, NPG/DAPG, BC: pure functions and classes), the rollout sampler, the training loop and evaluation.

One iteration of mjrl's loop, in the order mjrl runs it:

    compute_returns(paths, gamma)                       # gae.py
    compute_advantages(paths, baseline, gamma, lam)     # gae.py, with the baseline fitted on the previous batch
    npg_step(policy, obs, act, adv, demo=..., demo_weight=dapg_demo_weight(lam_0, lam_1, k))   # npg.py
    baseline.fit(paths)                                 # baseline.py, after the policy step

May import (tests/test_layers.py holds it): errors, cluster, atomic, procs, stats, timings, tasks, formats, encoders,
render, service.
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
