"""Train the reward-induced encoder on a render_vae_data file; resumable, deterministic from a seed.

The CLVR study's reward-prediction objective, one image in: for the image of state t of an episode and each of
its K reward signals r^k (pipeline/tasks/signals.py, stored per image), head k predicts r^k at t .. t + H - 1,

    loss = mean over images of  sum_{h < H} sum_k  m_{t+h} (prediction^k_h - (r^k_{t+h} - mean_k) / std_k)^2,

where m masks the steps past the episode's end and mean_k, std_k standardise each signal over the training
images (the signals differ in scale by 100x: door's reward reaches 20, a distance is ~0.3). The baseline it is
measured against is the best constant predictor: the training targets' mean, per signal and step.

Data streams as the VAE's does (pipeline/training/images.py: blocks, a shuffled buffer, the same validation split by
whole episodes); the targets (N, K, H), a few MB, are in memory. Outputs in out_dir: model.pt (+ model.sha256),
metrics.json, curves.csv, predictions.png, byte-identical across reruns on one machine; timings.json; and the
latest checkpoint in `checkpoints`, from which a rerun resumes the same curve.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from pipeline.prefetch import background
from pipeline.reward.config import TrainRewardEncoderConfig
from pipeline.reward.model import RewardModel, RewardModelConfig, model_bytes
from pipeline.reward.plots import predictions_png
from pipeline.reward.targets import RewardTargets
from pipeline.training.checkpoints import Checkpoint, config_key
from pipeline.training.images import ImageFile, Split, eval_batches, n_train_batches, run_on_images, to_input, train_batches
from pipeline.training.scaffold import derived_seed, write_bytes, write_model, write_run_records

CHECKPOINT_FORMAT = "rrl-pipe/reward-encoder-checkpoint"
CHECKPOINT_CODE = ("reward", "vae", "training")  # a checkpoint of other code of these is not resumed
CURVE_COLUMNS = ("epoch", "train_loss", "val_loss", "val_constant_loss")


def squared_errors(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, K): per image and signal, the squared errors summed over the unmasked steps."""
    return ((prediction - target).pow(2) * mask[:, None, :]).sum(2)


def train_reward_encoder(dataset_path: str | Path, out_dir: str | Path, cfg: TrainRewardEncoderConfig,
                         progress: bool = True, checkpoints: str | Path | None = None) -> dict[str, Any]:
    """Train (or resume) and write model.pt, model.sha256, metrics.json, curves.csv, predictions.png.

    checkpoints: the per-epoch checkpoint folder, out_dir/checkpoints by default (a DVC stage passes one that DVC
    does not delete)."""
    return run_on_images(dataset_path, out_dir, checkpoints,
                         lambda data, out, folder: _train(data, out, folder, cfg, progress))


@torch.no_grad()
def evaluate(model: RewardModel, data: ImageFile, targets: RewardTargets, blocks: list[tuple[int, int]],
             batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(model, constant predictor) per-signal sums of squared errors, averaged over the images of `blocks`."""
    model.eval()
    # float32 zeros of no shape: they broadcast to the sums' shape and keep their dtype, as 0.0 would
    ours, constant, n = np.zeros((), np.float32), np.zeros((), np.float32), 0
    for batch, rows in eval_batches(data, blocks, batch_size):
        target, mask = targets.batch(rows)
        ours = ours + squared_errors(model(to_input(batch)), target, mask).sum(0).numpy()
        baseline = torch.from_numpy(targets.constant).expand_as(target)
        constant = constant + squared_errors(baseline, target, mask).sum(0).numpy()
        n += len(batch)
    return ours / n, constant / n


def _train(data: ImageFile, out_dir: Path, folder: Path, cfg: TrainRewardEncoderConfig, progress: bool) -> dict[str, Any]:
    fingerprint = data.fingerprint()
    split = Split.of(data, cfg.val_fraction, cfg.seed, cfg.block)
    targets = RewardTargets(data, split.train_rows, cfg.horizon)

    torch.manual_seed(derived_seed(cfg.seed, 0x4E3A))
    model = RewardModel(RewardModelConfig(cfg.trunk_config, targets.names, cfg.horizon, cfg.hidden))
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    # more epochs extend the same run
    key = config_key(cfg, ("epochs",), dataset=fingerprint)
    checkpoint = Checkpoint(folder / "checkpoint.pt", CHECKPOINT_FORMAT, key, CHECKPOINT_CODE)
    curve = checkpoint.resume_training(cfg.epochs, model, optimizer)
    start = len(curve)

    per_epoch = n_train_batches(len(split.train_rows), cfg.batch_size)
    bar = tqdm(total=cfg.epochs * per_epoch, initial=start * per_epoch, unit="batch",
               desc=f"train_reward_encoder {data.task}", disable=not progress)
    for epoch in range(start, cfg.epochs):
        began = time.perf_counter()
        torch.manual_seed(derived_seed(cfg.seed, epoch, 1))
        model.train()
        loss_sum, n = 0.0, 0
        for batch, rows in background(train_batches(data, split.train_blocks, cfg, np.random.default_rng([cfg.seed, epoch]))):
            target, mask = targets.batch(rows)
            loss = squared_errors(model(to_input(batch)), target, mask).sum(1).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(batch)
            n += len(batch)
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
        val, constant = evaluate(model, data, targets, split.val_blocks, cfg.batch_size)
        curve.append({"epoch": epoch + 1, "train_loss": loss_sum / n, "val_loss": float(val.sum()),
                      "val_constant_loss": float(constant.sum()), "seconds": time.perf_counter() - began,
                      "val_per_signal": val.tolist(), "constant_per_signal": constant.tolist()})
        checkpoint.save_training(epoch + 1, model, optimizer, curve)
    bar.close()

    model.eval()
    sha = write_model(out_dir, model_bytes(model, torch.from_numpy(targets.mean), torch.from_numpy(targets.std)))
    last = curve[-1]
    metrics = {
        "val_loss": last["val_loss"], "val_constant_loss": last["val_constant_loss"],
        "constant_over_model": last["val_constant_loss"] / last["val_loss"],
        "per_signal": {name: {"val_loss": ours, "constant_loss": const, "constant_over_model": const / ours}
                       for name, ours, const in zip(targets.names, last["val_per_signal"], last["constant_per_signal"])},
        "train_loss": last["train_loss"],
        "loss": f"per image, sum over {len(targets.names)} standardised signals and {cfg.horizon} steps of squared errors",
        "signals": list(targets.names), "horizon": cfg.horizon,
        **split.counts(data),
        "epochs": len(curve), "task": data.task, "model_sha256": sha,
    }
    write_run_records(out_dir, curve, CURVE_COLUMNS, metrics)
    write_bytes(out_dir / "predictions.png", predictions_png(model, data, targets, split.val_rows))
    return metrics
