"""The reward-induced encoder and its model file.

Trunk: exactly the VAE's served encoder (pipeline/vae/model.py `VAEMeanEncoder`: five stride-2 convs with
BatchNorm and LeakyReLU, then a linear map to the 512-d feature), so that `reward` and `vae` differ only in what
trained them. Heads: one per reward signal k, feature -> Linear(hidden) -> ReLU -> Linear(horizon): the signal's
predicted values at steps t .. t + horizon - 1 (in units of the training targets' mean and std).

Model file (torch.save, read back with weights_only=True):
    {"format": "rrl-pipe/reward-encoder", "config": {"latent", "channels", "hidden", "horizon", "signals"},
     "target_mean": (K,), "target_std": (K,), "state_dict": {"trunk.*", "heads.*"}}
Served as encoder `reward`: the trunk's feature on `vae64` inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pipeline.encoders.weights import ResolvedWeights
from pipeline.errors import PipelineError
from pipeline.training.scaffold import check_state_dict, torch_bytes
from pipeline.vae.model import VAEConfig, VAEMeanEncoder, checked_model_file, read_tagged_file

FORMAT = "rrl-pipe/reward-encoder"
SERVED_DIM = 512


@dataclass(frozen=True)
class RewardModelConfig:
    trunk: VAEConfig
    signals: tuple[str, ...]  # one head each, in this order
    horizon: int
    hidden: int

    def to_dict(self) -> dict[str, Any]:
        return {**self.trunk.to_dict(), "hidden": self.hidden, "horizon": self.horizon, "signals": list(self.signals)}

    @classmethod
    def from_dict(cls, values: Any, where: str) -> RewardModelConfig:
        keys = {"latent", "channels", "hidden", "horizon", "signals"}
        if not isinstance(values, dict) or set(values) != keys:
            raise PipelineError(f"{where}: config {values!r} is not a reward encoder config (keys {', '.join(sorted(keys))})")
        try:
            trunk = VAEConfig(latent=int(values["latent"]), channels=tuple(int(c) for c in values["channels"]))
            return cls(trunk, tuple(str(s) for s in values["signals"]), int(values["horizon"]), int(values["hidden"]))
        except (TypeError, ValueError):
            raise PipelineError(f"{where}: config {values!r} is not a reward encoder config") from None


class RewardModel(nn.Module):
    """x (N, 3, 64, 64) in [0, 1] -> predictions (N, K, horizon) of the K signals over the next steps."""

    def __init__(self, cfg: RewardModelConfig):
        super().__init__()
        self.cfg = cfg
        self.trunk = VAEMeanEncoder(cfg.trunk)
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear(cfg.trunk.latent, cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, cfg.horizon))
            for _ in cfg.signals
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feature = self.trunk(x)
        return torch.stack([head(feature) for head in self.heads], dim=1)


def model_bytes(model: RewardModel, target_mean: torch.Tensor, target_std: torch.Tensor) -> bytes:
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return torch_bytes({"format": FORMAT, "config": model.cfg.to_dict(), "target_mean": target_mean.clone(),
                        "target_std": target_std.clone(), "state_dict": state})


def read_model_file(path: str | Path) -> tuple[RewardModel, torch.Tensor, torch.Tensor]:
    """(model in eval mode, target mean, target std) of a train_reward_encoder model file, checked."""
    path = Path(path)
    loaded = read_tagged_file(path, FORMAT, "train-reward-encoder")
    model = RewardModel(RewardModelConfig.from_dict(loaded.get("config"), str(path)))
    check_state_dict(model.state_dict(), loaded["state_dict"], str(path))
    model.load_state_dict(loaded["state_dict"])
    return model.eval(), loaded["target_mean"], loaded["target_std"]


def resolve_reward_weights(path: str | Path, expected_sha256: str = "") -> ResolvedWeights:
    """A train_reward_encoder model file, checked before any work; holds the trunk's parameters (the VAE encoder's
    names: encoder.convs.*, fc_mu.*)."""
    path = Path(path)
    sha = checked_model_file(path, expected_sha256,
                             "reward encoder model file (written by `rrl-pipe train-reward-encoder` as <out>/model.pt)")
    model, _, _ = read_model_file(path)
    if model.cfg.trunk.latent != SERVED_DIM:
        raise PipelineError(f"{path}: a trunk with latent {model.cfg.trunk.latent}; encoder `reward` serves "
                            f"{SERVED_DIM}-d features (train with latent {SERVED_DIM})")
    return ResolvedWeights(f"file:{path.name}", sha, model.trunk.state_dict())
