"""Gaussian MLP policy as in mjrl (mjrl/policies/gaussian_mlp.py), with fixed demo-based normalisation.

pi(a | o) = N(mu(o), diag(exp(log_std))^2), with
    mu(o) = act_mean + act_std * MLP((o - obs_mean) / obs_std)
The MLP is tanh (256, 256); its last layer starts at 1e-2 of PyTorch's default init so the first actions are close
to act_mean. log_std is state independent, starts at init_log_std (0), is set from the demo actions' std before BC
(as DAPG's and RRL's job scripts do), and never goes below min_log_std (-3), as mjrl clamps it in set_param_values
after every update. The normalisation statistics are buffers: set once from the demonstrations,
saved with the checkpoint, never trained.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pipeline.atomic import atomic_output
from pipeline.errors import PipelineError, exception_line

_STD_GUARD = 1e-6  # a dimension whose std is below this is treated as constant: scale 1, not 1/std


def seeded_mlp(sizes: tuple[int, ...], activation: type[nn.Module], seed: int) -> nn.Sequential:
    """Linear layers of `sizes` with `activation` between them, initialised from `seed` alone (the global torch
    RNG is left as it was), so a policy or value function is a function of its seed."""
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(activation())
    torch.random.set_rng_state(gen_state)
    return nn.Sequential(*layers)


def _canonical(x: Any) -> Any:
    """JSON round trip so that tuples and lists (and int/str keys) compare equal after a save/load."""
    return json.loads(json.dumps(x, sort_keys=True))


class GaussianMLPPolicy(nn.Module):
    # buffers registered in __init__, declared for type checkers (nn.Module types attributes as Tensor | Module)
    obs_mean: torch.Tensor
    obs_std: torch.Tensor
    act_mean: torch.Tensor
    act_std: torch.Tensor

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        hidden: tuple[int, ...] = (256, 256),
        init_log_std: float = 0.0,
        min_log_std: float = -3.0,
        seed: int = 0,
        obs_layout: dict | None = None,
    ) -> None:
        super().__init__()
        self.obs_dim, self.act_dim, self.hidden = int(obs_dim), int(act_dim), tuple(int(h) for h in hidden)
        self.min_log_std = float(min_log_std)
        self.obs_layout: dict = dict(obs_layout or {})  # opaque to this module; checked by load()

        self.net = seeded_mlp((self.obs_dim, *self.hidden, self.act_dim), nn.Tanh, seed)
        last = self.net[-1]
        assert isinstance(last, nn.Linear)
        with torch.no_grad():  # mjrl: last layer's weight and bias scaled by 1e-2
            last.weight.mul_(1e-2)
            last.bias.mul_(1e-2)
        self.log_std = nn.Parameter(torch.full((self.act_dim,), float(init_log_std)))
        self.clamp_log_std()

        self.register_buffer("obs_mean", torch.zeros(self.obs_dim))
        self.register_buffer("obs_std", torch.ones(self.obs_dim))
        self.register_buffer("act_mean", torch.zeros(self.act_dim))
        self.register_buffer("act_std", torch.ones(self.act_dim))

    # ---- normalisation ------------------------------------------------------------------------------------------
    def set_normalisation(self, obs: np.ndarray, actions: np.ndarray | None) -> None:
        """Fix the input/output transforms from demonstration data (mjrl's in/out shift and scale).

        `actions` None leaves the output transform the identity (mode npg: nothing is learnt from demo actions).
        """
        data_sets = [("obs", np.asarray(obs, dtype=np.float64).reshape(-1, self.obs_dim))]
        if actions is not None:
            data_sets.append(("act", np.asarray(actions, dtype=np.float64).reshape(-1, self.act_dim)))
        for name, data in data_sets:
            mean, std = data.mean(axis=0), data.std(axis=0)
            std = np.where(std < _STD_GUARD, 1.0, std)  # a constant feature is shifted, not blown up
            getattr(self, f"{name}_mean").copy_(torch.as_tensor(mean, dtype=torch.float32))
            getattr(self, f"{name}_std").copy_(torch.as_tensor(std, dtype=torch.float32))

    @torch.no_grad()
    def set_log_std_from_actions(self, actions: np.ndarray, scale: float = 1.0) -> None:
        """mjrl's BC.set_variance_with_data, which DAPG's and RRL's job scripts call before BC: the exploration
        std starts at the demo actions' std per dimension, log_std = log(std + 1e-12), then clamped at min_log_std.
        (Left at init_log_std 0, the std is 1 on a [-1, 1] action range and rollouts are mostly noise.)
        `scale` multiplies that std (1: mjrl); docs/validation.md says why door's validation uses less."""
        std = scale * np.asarray(actions, dtype=np.float64).reshape(-1, self.act_dim).std(axis=0)
        self.log_std.copy_(torch.as_tensor(np.log(std + 1e-12), dtype=torch.float32))
        self.clamp_log_std()

    # ---- distribution -------------------------------------------------------------------------------------------
    def forward(self, obs_t: torch.Tensor) -> torch.Tensor:
        """The mean action mu(o) for a batch of observations (tensor in, tensor out)."""
        z = (obs_t - self.obs_mean) / self.obs_std
        return self.net(z) * self.act_std + self.act_mean

    def _as_tensor(self, x: np.ndarray | torch.Tensor) -> torch.Tensor:
        return x.float() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x), dtype=torch.float32)

    @torch.no_grad()
    def mean_action(self, obs: np.ndarray) -> np.ndarray:
        """Deterministic action for evaluation; `obs` is one observation (obs_dim,) or a batch (N, obs_dim)."""
        o = self._as_tensor(obs)
        single = o.ndim == 1
        mu = self(o.reshape(-1, self.obs_dim)).numpy()
        return mu[0] if single else mu

    def sample(self, obs: np.ndarray, generator: np.random.Generator) -> np.ndarray:
        """a = mu(o) + exp(log_std) * eps, eps ~ N(0, I) drawn from the caller's numpy Generator (mjrl's
        get_action), in float64: the sampler's one way to explore, each episode with its own Generator."""
        mu = self.mean_action(obs).astype(np.float64)
        log_std = self.log_std.detach().numpy().astype(np.float64)
        return mu + np.exp(log_std) * generator.standard_normal(mu.shape)

    def log_likelihood(self, obs_t: torch.Tensor, act_t: torch.Tensor) -> torch.Tensor:
        """log pi(a | o) per sample, shape (N,); differentiable in the parameters."""
        mu = self(obs_t)
        zs = (act_t - mu) / torch.exp(self.log_std)
        return -0.5 * (zs**2).sum(dim=1) - self.log_std.sum() - 0.5 * self.act_dim * math.log(2 * math.pi)

    def kl_divergence(self, obs_t: torch.Tensor, old_mean: torch.Tensor, old_log_std: torch.Tensor) -> torch.Tensor:
        """Mean over samples of KL(pi_old || pi_new) between diagonal Gaussians (mjrl's direction and formula)."""
        new_mean, new_log_std = self(obs_t), self.log_std
        old_var, new_var = torch.exp(2 * old_log_std), torch.exp(2 * new_log_std)
        per_dim = ((old_mean - new_mean) ** 2 + old_var - new_var) / (2 * new_var + 1e-8) + new_log_std - old_log_std
        return per_dim.sum(dim=1).mean()

    # ---- flat parameter view (what NPG works on) ----------------------------------------------------------------
    def get_flat_params(self) -> torch.Tensor:
        return torch.nn.utils.parameters_to_vector(self.parameters()).detach().clone()

    def set_flat_params(self, flat: torch.Tensor) -> None:
        torch.nn.utils.vector_to_parameters(torch.as_tensor(flat, dtype=torch.float32), self.parameters())
        self.clamp_log_std()

    @torch.no_grad()
    def clamp_log_std(self) -> None:
        self.log_std.clamp_(min=self.min_log_std)

    # ---- checkpoint ---------------------------------------------------------------------------------------------
    @property
    def layout(self) -> dict:
        return {"obs_dim": self.obs_dim, "act_dim": self.act_dim, "hidden": list(self.hidden),
                "obs_layout": _canonical(self.obs_layout)}

    def save(self, path: str | Path) -> None:
        ckpt = {"layout_json": json.dumps(self.layout, sort_keys=True), "min_log_std": self.min_log_std,
                "state_dict": self.state_dict()}
        with atomic_output(path) as tmp:
            torch.save(ckpt, tmp)

    @classmethod
    def load(cls, path: str | Path, expect_layout: dict | None = None,
             expect_obs_dim: int | None = None) -> GaussianMLPPolicy:
        """Load a checkpoint; refuse it if its obs_layout (or obs_dim) is not what the caller will feed it.

        `expect_layout` is the obs_layout dict the caller built its observations with (e.g. encoder and cameras);
        a policy trained on other features would run without error and act at random, hence the refusal.
        """
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
            layout = json.loads(ckpt["layout_json"])
        except Exception as e:  # noqa: BLE001 - any unreadable file: torch raises several unrelated types here
            raise PipelineError(f"{path}: not a policy checkpoint ({exception_line(e)})") from None
        if expect_layout is not None and layout["obs_layout"] != _canonical(expect_layout):
            raise PipelineError(f"{path}: policy was trained on observations {json.dumps(layout['obs_layout'])}, "
                                f"not {json.dumps(_canonical(expect_layout))}")
        if expect_obs_dim is not None and layout["obs_dim"] != int(expect_obs_dim):
            raise PipelineError(f"{path}: policy expects {layout['obs_dim']}-dim observations, not {expect_obs_dim}")
        policy = cls(layout["obs_dim"], layout["act_dim"], tuple(layout["hidden"]),
                     min_log_std=ckpt["min_log_std"], obs_layout=layout["obs_layout"])
        policy.load_state_dict(ckpt["state_dict"])
        return policy
