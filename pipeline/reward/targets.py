"""What the reward encoder learns to predict: each image's reward signals over its next steps, standardised with
the training images' statistics, and the constant predictor it is measured against."""

from __future__ import annotations

import numpy as np
import torch

from pipeline.training.images import ImageFile


def future_targets(signals: np.ndarray, episode: np.ndarray, step: np.ndarray, camera: np.ndarray,
                   horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """(targets (N, K, H), mask (N, H)): each image's signals at its step + h, from the image of the same episode
    and camera h states later (rows are state-major, camera-minor), masked where the episode has ended."""
    n, n_cams = len(signals), len(np.unique(camera))
    rows = np.arange(n)
    targets = np.zeros((n, signals.shape[1], horizon), np.float32)
    mask = np.zeros((n, horizon), bool)
    for h in range(horizon):
        later = np.minimum(rows + h * n_cams, n - 1)
        mask[:, h] = (rows + h * n_cams < n) & (episode[later] == episode) & (step[later] == step + h) & (
            camera[later] == camera)
        targets[:, :, h] = np.where(mask[:, h, None], signals[later], 0.0)
    return targets, mask


def standardise(signals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-signal mean and std over the training images; a signal that never changes gets std 1."""
    mean, std = signals.mean(0), signals.std(0)
    return mean.astype(np.float32), np.where(std > 1e-6, std, 1.0).astype(np.float32)


class RewardTargets:
    """The standardised targets of every image and the constant predictor, from the training images only."""

    def __init__(self, data: ImageFile, train_rows: np.ndarray, horizon: int):
        self.names, signals, step = data.reward_signals()
        self.camera = data.file["camera"][()]
        self.mean, self.std = standardise(signals[train_rows])
        raw, self.mask = future_targets(signals, data.episode, step, self.camera, horizon)
        self.targets = (raw - self.mean[None, :, None]) * self.mask[:, None, :] / self.std[None, :, None]
        weight = self.mask[train_rows].sum(0)  # (H,) training images with step t + h in their episode
        self.constant = (self.targets[train_rows].sum(0) / np.maximum(weight, 1)).astype(np.float32)  # (K, H)

    def batch(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(self.targets[rows]), torch.from_numpy(self.mask[rows].astype(np.float32))
