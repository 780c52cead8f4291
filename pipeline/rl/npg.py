"""Natural policy gradient with demonstration augmentation (DAPG), after Rajeswaran et al. 2018 and mjrl
(mjrl/algos/npg_cg.py, mjrl/algos/dapg.py, mjrl/utils/cg_solve.py). One update, top to bottom:

  (1) advantages whitened:           A <- (A - mean A) / (std A + 1e-6)
  (2) DAPG gradient (DAPG paper eq. 6, with mjrl's demo weight):
                                     g = sum_{(s,a) in rho_pi} grad log pi(a|s) A(s,a)
                                       + sum_{(s,a) in rho_D}  grad log pi(a|s) lam_0 lam_1^k
      The paper's demo weight is lam_0 lam_1^k max_{(s',a') in rho_pi} A(s',a'); mjrl's dapg.py (which RRL runs)
      drops the max-advantage factor and uses the constant lam_0 lam_1^k, as this code does.
      mjrl writes it as the gradient of a CPI surrogate, L(theta) = mean_i [pi_theta(a_i|s_i)/pi_old(a_i|s_i) A_i],
      over on-policy + demo samples, times sample_coef = N_all / N_pi (so demos add to, not dilute, the on-policy
      average); both advantage sets are scaled by 1e-2, which the normalised step below cancels.
  (3) Fisher metric (eq. 4):         F = Hessian of the mean KL(pi_old || pi_theta) at theta_old, on-policy samples
      only; F v by double backprop, plus damping * v.
  (4) natural direction:             x = F^-1 g by 10 conjugate-gradient iterations started at x_0 = 0.
      mjrl's npg_cg passes x_0 = g, but its cg_solve ignores x_0 (the line is commented out) and starts at 0: so in
      mjrl master (3871d93, 2021) and its v1 branch, which RRL's mjrl fork follows; mjrl's later v2 branch does
      start at x_0. That matters: from 0, every CG iterate x satisfies x^T F x = g^T x (CG minimises the quadratic
      over the Krylov space), so step (5) lands on the KL it aims for even when 10 iterations are far from converged.
      Started at g, the step overshot the KL target 5x on door ((256, 256) policy) and undid what it had learnt.
  (5) normalised step (eq. 5):       theta <- theta + sqrt(delta / (g^T F^-1 g)) F^-1 g
      delta is mjrl's `normalized_step_size` (0.05 in RRL/DAPG). The quadratic model of the KL is
      1/2 alpha^2 g^T F^-1 g = delta / 2, so the KL between old and new policy is about delta / 2, not delta
      (mjrl: kl_dist = 0.5 * normalized_step_size).
  (6) log_std clamped at min_log_std, as mjrl's set_param_values does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
import torch

from pipeline.rl.policy import GaussianMLPPolicy

Vector = torch.Tensor | np.ndarray
V = TypeVar("V", torch.Tensor, np.ndarray)  # cg_solve returns the kind of vector it is given


def dapg_demo_weight(lam_0: float, lam_1: float, k: int) -> float:
    """Advantage given to every demo sample at iteration k: lam_0 * lam_1^k (RRL: lam_0 = 0.01, lam_1 = 0.95)."""
    return float(lam_0) * float(lam_1) ** int(k)


def cg_solve(fvp: Callable[[V], V], b: V, iters: int = 10, residual_tol: float = 1e-10) -> V:
    """Solve A x = b for symmetric positive-definite A given only v -> A v (works on torch or numpy vectors).

    Standard CG (Nocedal & Wright, alg. 5.2) from x_0 = 0; damping, if any, belongs in `fvp`. Stops early when
    r.r < tol. From 0, each iterate satisfies x^T A x = b^T x, which the normalised NPG step relies on.
    """
    x, r = b * 0, b + 0  # b + 0: a copy for torch and numpy alike
    p, rdotr = r, r.dot(r)
    for _ in range(iters):
        Ap = fvp(p)
        step = rdotr / p.dot(Ap)
        x = x + step * p
        r = r - step * Ap
        new_rdotr = r.dot(r)
        if new_rdotr < residual_tol:
            break
        p = r + (new_rdotr / rdotr) * p
        rdotr = new_rdotr
    return x


def flat_grad(y: torch.Tensor, params: Sequence[torch.Tensor], retain_graph: bool | None = None,
              create_graph: bool = False) -> torch.Tensor:
    """d y / d params as one flat vector (zeros for parameters y does not depend on)."""
    grads = torch.autograd.grad(y, params, retain_graph=retain_graph, create_graph=create_graph, allow_unused=True)
    return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for g, p in zip(grads, params)])


def fisher_vector_product(policy: GaussianMLPPolicy, obs: Vector,
                          damping: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return v -> (F + damping I) v with F the Hessian of the mean KL(pi_old || pi_theta) at theta = theta_old.

    The KL and its gradient graph are built once; each product is one more backward pass through grad(KL) . v.
    """
    obs_t = torch.as_tensor(obs, dtype=torch.float32)
    params = list(policy.parameters())
    with torch.no_grad():
        old_mean, old_log_std = policy(obs_t), policy.log_std.detach().clone()
    kl = policy.kl_divergence(obs_t, old_mean, old_log_std)  # = 0 here, but its Hessian is the Fisher matrix
    grad_kl = flat_grad(kl, params, create_graph=True)

    def fvp(v: torch.Tensor) -> torch.Tensor:
        return flat_grad(grad_kl @ v, params, retain_graph=True) + damping * v

    return fvp


def npg_step(policy: GaussianMLPPolicy, obs: np.ndarray, actions: np.ndarray, advantages: np.ndarray,
             delta: float = 0.05, cg_iters: int = 10, damping: float = 1e-4,
             demo: tuple[np.ndarray, np.ndarray] | None = None, demo_weight: float = 0.0) -> dict[str, float]:
    """One NPG (demo None) or DAPG (demo = (demo_obs, demo_actions), demo_weight = dapg_demo_weight(...)) update
    of `policy` in place. Returns stats: surrogate before/after, KL(old || new), alpha, g^T F^-1 g, and times in
    seconds: time_vpg (the gradient) and time_npg (building the KL graph + cg_iters + 1 Fisher products; the CG
    arithmetic itself is negligible)."""
    to_t = lambda x: torch.as_tensor(np.asarray(x), dtype=torch.float32)  # noqa: E731
    obs_t, act_t = to_t(obs), to_t(actions)
    n_pi = len(obs_t)

    # (1) whitened on-policy advantages (mjrl: np.std, +1e-6)
    adv = np.asarray(advantages, dtype=np.float64)
    adv = (adv - adv.mean()) / (adv.std() + 1e-6)

    # (2) DAPG: append demo samples with the constant advantage lam_0 * lam_1^k
    if demo is not None and demo_weight > 0.0:
        all_obs = torch.cat([obs_t, to_t(demo[0])])
        all_act = torch.cat([act_t, to_t(demo[1])])
        all_adv = 1e-2 * np.concatenate([adv / (adv.std() + 1e-8), np.full(len(demo[0]), demo_weight)])
    else:
        all_obs, all_act, all_adv = obs_t, act_t, adv
    adv_t, all_adv_t = to_t(adv), to_t(all_adv)
    sample_coef = len(all_obs) / n_pi

    params = list(policy.parameters())
    theta_old = policy.get_flat_params()
    with torch.no_grad():
        old_ll = policy.log_likelihood(all_obs, all_act)
        old_mean, old_log_std = policy(obs_t), policy.log_std.detach().clone()

    def surrogate(o: torch.Tensor, a: torch.Tensor, A: torch.Tensor, ll_old: torch.Tensor) -> torch.Tensor:
        """CPI surrogate mean[pi/pi_old * A]; its gradient at theta_old is the policy gradient."""
        return (torch.exp(policy.log_likelihood(o, a) - ll_old) * A).mean()

    with torch.no_grad():
        surr_before = float(surrogate(obs_t, act_t, adv_t, old_ll[:n_pi]))

    t0 = time.perf_counter()
    g = sample_coef * flat_grad(surrogate(all_obs, all_act, all_adv_t, old_ll), params)
    t_grad = time.perf_counter() - t0

    # (3) + (4): x = (F + damping I)^-1 g, the Fisher metric measured on the on-policy samples only
    t0 = time.perf_counter()
    fvp = fisher_vector_product(policy, obs_t, damping)
    x = cg_solve(fvp, g, iters=cg_iters)  # from x_0 = 0, as mjrl's cg_solve really does: see (4)
    del fvp  # frees the retained KL graph before the step
    t_npg = time.perf_counter() - t0

    # (5) normalised step size, (6) log_std clamp inside set_flat_params
    gFg = float(g @ x)
    alpha = float(np.sqrt(abs(delta / (gFg + 1e-20))))
    policy.set_flat_params(theta_old + alpha * x)

    with torch.no_grad():
        surr_after = float(surrogate(obs_t, act_t, adv_t, old_ll[:n_pi]))
        kl = float(policy.kl_divergence(obs_t, old_mean, old_log_std))
    return {"surr_before": surr_before, "surr_after": surr_after, "surr_improvement": surr_after - surr_before,
            "kl": kl, "kl_target": delta / 2, "alpha": alpha, "gFg": gFg, "sample_coef": sample_coef,
            "time_vpg": t_grad, "time_npg": t_npg}  # mjrl's split: gradient; Fisher products + CG
