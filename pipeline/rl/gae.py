"""Returns and generalised advantage estimation (Schulman et al. 2016) as in mjrl/utils/process_samples.py.

A path is a dict with at least "rewards" (T,) and "observations" (T, obs_dim). Every path ends `done`, as in mjrl:
the env ended it (pen dropped) or it reached the horizon, where gym's TimeLimit sets done and mjrl's sampler
records terminated=True. So nothing is bootstrapped past the last step: its successor's value is 0.
"""

from __future__ import annotations

import numpy as np


def discounted_sum(x: np.ndarray, gamma: float, terminal: float = 0.0) -> np.ndarray:
    """y_t = sum_{k>=t} gamma^(k-t) x_k, with `terminal` as the value after the last step."""
    x = np.asarray(x, dtype=np.float64)
    y = np.empty_like(x)
    running = terminal
    for t in range(len(x) - 1, -1, -1):
        running = x[t] + gamma * running
        y[t] = running
    return y


def compute_returns(paths: list[dict], gamma: float) -> None:
    """path["returns"] = discounted reward-to-go. Like mjrl, nothing is bootstrapped past the end of the path
    (terminal value 0), even when it was cut by the horizon: these are the targets the baseline is fitted to."""
    for path in paths:
        path["returns"] = discounted_sum(path["rewards"], gamma, terminal=0.0)


def compute_advantages(paths: list[dict], baseline, gamma: float = 0.995, gae_lambda: float | None = 0.97) -> None:
    """path["baseline"] = V(s_t) and path["advantages"] = GAE(gamma, lambda).

        delta_t = r_t + gamma * V(s_{t+1}) - V(s_t)
        A_t     = sum_{k>=0} (gamma * lambda)^k delta_{t+k}

    The value after the last step is 0 (see the module docstring: mjrl's paths all end done). With gae_lambda None or
    outside [0, 1], mjrl's plain A_t = R_t - V(s_t) (needs compute_returns first). Advantages are not normalised
    here; npg_step does that, as mjrl does.
    """
    for path in paths:
        b = np.asarray(baseline.predict(path), dtype=np.float64)
        path["baseline"] = b
        if gae_lambda is None or not 0.0 <= gae_lambda <= 1.0:
            path["advantages"] = path["returns"] - b
            continue
        b1 = np.append(b, 0.0)  # V after the last step: 0, the path ended done (mjrl's b1 with terminated=True)
        td = np.asarray(path["rewards"], dtype=np.float64) + gamma * b1[1:] - b1[:-1]
        path["advantages"] = discounted_sum(td, gamma * gae_lambda, terminal=0.0)
