"""Value baseline V(s, t) as in mjrl (mjrl/baselines/mlp_baseline.py): a (128, 128) ReLU MLP fitted to returns.

Features are mjrl's MLPBaseline._features: [clip(obs, -10, 10) / 10, t/1000, (t/1000)^2, (t/1000)^3, (t/1000)^4]
with t the step index inside the path. The time features let a state-only critic account for the finite horizon.
Fitting: Adam (lr 1e-3, weight decay 1e-3) on MSE, minibatch 64, 2 epochs per call, warm-started from the
previous iteration's weights (RRL's job configs: vf_batch_size 64, vf_epochs 2, vf_learn_rate 1e-3; mjrl's
hand_dapg job script: reg_coef 1e-3).
"""

from __future__ import annotations

import json

import numpy as np
import torch
from torch import nn

from pipeline.rl.policy import seeded_mlp
from pipeline.rl.torch_cpu import torch_threads


class MLPBaseline:
    def __init__(self, obs_dim: int, hidden: tuple[int, ...] = (128, 128), lr: float = 1e-3,
                 weight_decay: float = 1e-3, batch_size: int = 64, epochs: int = 2, seed: int = 0) -> None:
        self.obs_dim, self.batch_size, self.epochs = int(obs_dim), int(batch_size), int(epochs)
        self.rng = np.random.default_rng(seed)  # minibatch order; deterministic from the seed
        self.model = seeded_mlp((self.obs_dim + 4, *hidden, 1), nn.ReLU, seed)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=lr, weight_decay=weight_decay)

    def features(self, paths: list[dict]) -> np.ndarray:
        """(sum of path lengths, obs_dim + 4) float32 feature matrix: [clip(o, -10, 10) / 10, (t/1000)^1..4]."""
        feats = []
        for path in paths:
            o = np.asarray(path["observations"], dtype=np.float32)
            o = np.clip(o, -10, 10).reshape(len(o), -1) / 10.0
            t = (np.arange(len(o), dtype=np.float32) / 1000.0)[:, None]
            feats.append(np.concatenate([o, t, t**2, t**3, t**4], axis=1))
        return np.concatenate(feats).astype(np.float32)

    @torch.no_grad()
    def _relative_error(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """mjrl's VF error: sum (R - V)^2 / sum R^2."""
        return float(((y - self.model(x)) ** 2).sum() / ((y**2).sum() + 1e-8))

    def fit(self, paths: list[dict], threads: int | None = 1) -> tuple[float, float]:
        """Regress V on path["returns"] (see gae.compute_returns); returns (error_before, error_after)."""
        with torch_threads(threads):
            return self._fit(paths)

    def _fit(self, paths: list[dict]) -> tuple[float, float]:
        x = torch.from_numpy(self.features(paths))
        y = torch.from_numpy(np.concatenate([p["returns"] for p in paths]).astype(np.float32)).reshape(-1, 1)
        error_before = self._relative_error(x, y)
        n = len(x)
        for _ in range(self.epochs):
            perm = torch.from_numpy(self.rng.permutation(n))
            # Full minibatches only (mjrl also drops the remainder; it drops one more full batch, which we do not).
            for start in range(0, n - self.batch_size + 1, self.batch_size):
                idx = perm[start:start + self.batch_size]
                loss = nn.functional.mse_loss(self.model(x[idx]), y[idx])
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
        return error_before, self._relative_error(x, y)

    @torch.no_grad()
    def predict(self, path: dict, threads: int | None = 1) -> np.ndarray:
        """V for every step of one path, shape (T,). One path is a small batch: see torch_threads."""
        with torch_threads(threads):
            return self.model(torch.from_numpy(self.features([path]))).numpy().ravel().astype(np.float64)

    # ---- checkpoint: weights, Adam moments and the minibatch RNG, so a resumed run continues identically ----------
    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "rng_json": json.dumps(self.rng.bit_generator.state)}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = json.loads(state["rng_json"])
