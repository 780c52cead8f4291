"""Train the baseline VAE (RRL appendix 7.4) on a render_vae_data image file; resumable, deterministic from a seed.

Loss per image: reconstruction = sum over the 3x64x64 pixels of the squared error (images in [0, 1]),
KL = sum over the latent dims of KL(q(z|x) || N(0, I)); both averaged over the batch;
loss = reconstruction + kl_weight * KL (kl_weight 1 would be a Gaussian decoder of variance 1/2).
Reported figures are the same per-image sums, averaged over images (train: over the epoch's batches, in train
mode; validation: after the epoch, in eval mode, z sampled from a generator seeded the same every epoch).

Data is streamed from the HDF5 file: the training rows are cut into contiguous blocks (`block` images, never
crossing an episode of the validation split); each epoch shuffles the block order, reads `buffer_blocks` blocks
at a time and shuffles the images within them. Memory holds one buffer, whatever the dataset size.
The validation split holds whole episodes (by `episode_seed`), taken from every part of the dataset.

Outputs in out_dir: model.pt (+ model.sha256), metrics.json, curves.csv, reconstructions.png, all byte-identical
across reruns on the same machine, with the seconds per epoch apart in timings.json (pipeline/timings.py); and
checkpoints/checkpoint.pt (pipeline/training/checkpoints.py; another folder may be given) from which a rerun resumes: the
curve continues exactly as an uninterrupted run's would (every epoch reseeds its shuffle and noise from (seed, epoch)).
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from pipeline.prefetch import background  # reads the next batches while this thread trains
from pipeline.training.checkpoints import Checkpoint, config_key
from pipeline.training.images import (
    IMAGE_SIZE,
    ImageFile,
    Split,
    eval_batches,
    n_train_batches,
    run_on_images,
    to_input,
    train_batches,
)
from pipeline.training.scaffold import derived_seed, write_bytes, write_model, write_run_records
from pipeline.vae.config import TrainVaeConfig
from pipeline.vae.model import VAE, model_bytes

CHECKPOINT_FORMAT = "rrl-pipe/vae-checkpoint"
CHECKPOINT_CODE = ("vae", "training")  # a checkpoint of other code of these is not resumed
CURVE_COLUMNS = ("epoch", "train_recon", "train_kl", "val_recon", "val_kl")  # seconds: timings.json
PIXELS = 3 * IMAGE_SIZE * IMAGE_SIZE


GRAD_CLIP = 100.0  # global gradient norm; the summed-pixel loss makes typical norms O(10)


# ------------------------------------------------------------------------------------------------------ training


def losses(model: VAE, x: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(reconstruction, KL): per-image sums, batch means."""
    recon, mu, logvar = model(x, generator)
    rec = (recon - x).pow(2).flatten(1).sum(1).mean()
    kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).sum(1).mean()
    return rec, kl


@torch.no_grad()
def evaluate(model: VAE, data: ImageFile, blocks: list[tuple[int, int]], cfg: TrainVaeConfig) -> tuple[float, float]:
    model.eval()
    generator = torch.Generator().manual_seed(derived_seed(cfg.seed, 0xE7A1))  # the same noise every epoch
    rec_sum = kl_sum = 0.0
    n = 0
    for batch, _ in eval_batches(data, blocks, cfg.batch_size):
        rec, kl = losses(model, to_input(batch), generator)
        rec_sum += rec.item() * len(batch)
        kl_sum += kl.item() * len(batch)
        n += len(batch)
    return rec_sum / n, kl_sum / n


def train_vae(dataset_path: str | Path, out_dir: str | Path, cfg: TrainVaeConfig, progress: bool = True,
              checkpoints: str | Path | None = None) -> dict[str, Any]:
    """Train (or resume) and write model.pt, model.sha256, metrics.json, curves.csv, reconstructions.png.

    checkpoints: the folder of per-epoch checkpoints, out_dir/checkpoints by default (DVC deletes a stage's outs
    before running it, so a DVC stage that should resume passes a separate, persistent folder)."""
    return run_on_images(dataset_path, out_dir, checkpoints,
                         lambda data, out, folder: _train(data, out, folder, cfg, progress))


def _train(data: ImageFile, out_dir: Path, folder: Path, cfg: TrainVaeConfig, progress: bool) -> dict[str, Any]:
    fingerprint = data.fingerprint()
    split = Split.of(data, cfg.val_fraction, cfg.seed, cfg.block)

    torch.manual_seed(derived_seed(cfg.seed, 0x1417))
    model = VAE(cfg.vae_config)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    # more epochs extend the same run
    key = config_key(cfg, ("epochs",), dataset=fingerprint)
    checkpoint = Checkpoint(folder / "checkpoint.pt", CHECKPOINT_FORMAT, key, CHECKPOINT_CODE)
    curve = checkpoint.resume_training(cfg.epochs, model, optimizer)
    start = len(curve)

    per_epoch = n_train_batches(len(split.train_rows), cfg.batch_size)
    bar = tqdm(total=cfg.epochs * per_epoch, initial=start * per_epoch, unit="batch",
               desc=f"train_vae {data.task}", disable=not progress)

    for epoch in range(start, cfg.epochs):
        began = time.perf_counter()
        torch.manual_seed(derived_seed(cfg.seed, epoch, 1))
        generator = torch.Generator().manual_seed(derived_seed(cfg.seed, epoch, 2))
        model.train()
        rec_sum = kl_sum = 0.0
        n = 0
        for batch, _ in background(train_batches(data, split.train_blocks, cfg, np.random.default_rng([cfg.seed, epoch]))):
            rec, kl = losses(model, to_input(batch), generator)
            loss = rec + cfg.kl_weight * kl
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)  # with the logvar bound: no KL spikes
            optimizer.step()
            rec_sum += rec.item() * len(batch)
            kl_sum += kl.item() * len(batch)
            n += len(batch)
            bar.update(1)
            bar.set_postfix(recon=f"{rec.item():.1f}", kl=f"{kl.item():.1f}")
        val_rec, val_kl = evaluate(model, data, split.val_blocks, cfg)
        curve.append({"epoch": epoch + 1, "train_recon": rec_sum / n, "train_kl": kl_sum / n,
                      "val_recon": val_rec, "val_kl": val_kl, "seconds": time.perf_counter() - began})
        checkpoint.save_training(epoch + 1, model, optimizer, curve)
    bar.close()

    model.eval()
    sha = write_model(out_dir, model_bytes(model))
    last = curve[-1]
    metrics = {
        "train_recon": last["train_recon"], "train_kl": last["train_kl"],
        "val_recon": last["val_recon"], "val_kl": last["val_kl"],
        "val_mse_per_pixel": last["val_recon"] / PIXELS,
        "loss": f"per-image sum of squared errors over {PIXELS} pixel values in [0, 1] + kl_weight * per-image KL",
        "kl_weight": cfg.kl_weight,
        **split.counts(data),
        "epochs": len(curve), "task": data.task, "model_sha256": sha,
    }
    write_run_records(out_dir, curve, CURVE_COLUMNS, metrics)
    write_bytes(out_dir / "reconstructions.png", reconstruction_grid(model, data, split.val_rows))
    return metrics


@torch.no_grad()
def reconstruction_grid(model: VAE, data: ImageFile, rows: np.ndarray, n: int = 8, scale: int = 2) -> bytes:
    """PNG: n validation images (evenly spaced) in the top row, their reconstructions (decoded means) below."""
    from PIL import Image

    picks = rows[np.linspace(0, len(rows) - 1, min(n, len(rows))).round().astype(int)]
    originals = np.stack([data.read(int(i), int(i) + 1)[0] for i in picks])
    model.eval()
    mu, _ = model.encode(to_input(originals))
    recon = (model.decoder(mu).permute(0, 2, 3, 1).numpy() * 255).round().clip(0, 255).astype(np.uint8)
    gap, size = 2, IMAGE_SIZE
    grid = np.full((2 * size + 3 * gap, len(picks) * (size + gap) + gap, 3), 255, np.uint8)
    for k in range(len(picks)):
        x = gap + k * (size + gap)
        grid[gap : gap + size, x : x + size] = originals[k]
        grid[2 * gap + size : 2 * gap + 2 * size, x : x + size] = recon[k]
    image = Image.fromarray(grid).resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
