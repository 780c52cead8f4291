"""predictions.png: the reward encoder's predicted vs true signals on held-out episodes (one column per episode,
one row per signal): the true signal over the episode, the prediction for step t from image t, and the one for
step t + H - 1 made H - 1 steps ahead, in the signals' own units."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import torch

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt

from pipeline.reward.model import RewardModel
from pipeline.reward.targets import RewardTargets
from pipeline.training.images import ImageFile, to_input

MAX_EPISODES = 3


def _episodes(data: ImageFile, camera: np.ndarray, rows: np.ndarray) -> list[np.ndarray]:
    """Camera-0 rows of up to MAX_EPISODES held-out episodes, from different parts where the split has them."""
    picked: list[np.ndarray] = []
    for part in np.unique(data.part[rows]):
        for seed in np.unique(data.episode[rows][data.part[rows] == part]):
            episode_rows = rows[(data.episode[rows] == seed) & (camera[rows] == 0)]
            if len(episode_rows) > 1:
                picked.append(episode_rows)
                break
    return picked[:MAX_EPISODES]


@torch.no_grad()
def predictions_png(model: RewardModel, data: ImageFile, targets: RewardTargets, val_rows: np.ndarray) -> bytes:
    model.eval()
    episodes = _episodes(data, targets.camera, val_rows)
    names, horizon = targets.names, model.cfg.horizon
    fig, axes = plt.subplots(len(names), len(episodes), figsize=(3.6 * len(episodes), 1.9 * len(names)),
                             squeeze=False, sharex="col")
    parts = list(data.file.attrs["parts"])
    for col, rows in enumerate(episodes):
        prediction = np.concatenate([model(to_input(data.read(int(lo), int(lo) + 1))).numpy()
                                     for lo in rows])  # (T, K, H), standardised
        prediction = prediction * targets.std[None, :, None] + targets.mean[None, :, None]
        truth = targets.targets[rows, :, 0] * targets.std + targets.mean
        t = np.arange(len(rows))
        for k, name in enumerate(names):
            ax = axes[k, col]
            ax.plot(t, truth[:, k], color="black", lw=1.4, label="true")
            ax.plot(t, prediction[:, k, 0], color="tab:blue", lw=1.0, label="predicted (step t)")
            ax.plot(t + horizon - 1, prediction[:, k, -1], color="tab:orange", lw=0.8, ls="--",
                    label=f"predicted {horizon - 1} steps ahead")
            ax.tick_params(labelsize=7)
            if col == 0:
                ax.set_ylabel(name, fontsize=8)
        axes[0, col].set_title(f"{parts[int(data.part[rows[0]])]}, episode {int(data.episode[rows[0]])}", fontsize=8)
        axes[-1, col].set_xlabel("step", fontsize=8)
    axes[0, 0].legend(fontsize=6, loc="best")
    fig.suptitle(f"reward encoder, {data.task}: held-out episodes", fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()
