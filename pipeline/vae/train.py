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
checkpoints/epoch_NNN.pt (the latest only; another folder may be given) from which a rerun resumes: the curve continues
exactly as an uninterrupted run's would (every epoch reseeds its shuffle and noise from (seed, epoch)).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from tqdm import tqdm

from pipeline.atomic import check_output, sole_writer
from pipeline.encoders.preprocess import vae64
from pipeline.errors import PipelineError
from pipeline.formats.vae_images import ImageFile as _ImageFile
from pipeline.prefetch import background  # reads the next batches while this thread trains
from pipeline.vae.config import TrainVaeConfig
from pipeline.vae.model import IMAGE_SIZE, VAE, model_bytes
from pipeline.vae.training import (
    derived_seed,
    deterministic,
    resume,
    save_checkpoint,
    write_bytes,
    write_model,
    write_run_records,
)

CHECKPOINT_FORMAT = "rrl-pipe/vae-checkpoint"
CURVE_COLUMNS = ("epoch", "train_recon", "train_kl", "val_recon", "val_kl")  # seconds: timings.json
PIXELS = 3 * IMAGE_SIZE * IMAGE_SIZE


GRAD_CLIP = 100.0  # global gradient norm; the summed-pixel loss makes typical norms O(10)


# ----------------------------------------------------------------------------------------------------- dataset


class StreamConfig(Protocol):
    """What the streamed batches need of a training config (train_vae's, train_reward_encoder's)."""

    batch_size: int
    buffer_blocks: int


class ImageFile(_ImageFile):
    """A render_vae_data file (pipeline/formats/vae_images.py) of images at the VAE's input size."""

    def __init__(self, path: str | Path):
        super().__init__(path, IMAGE_SIZE)


def split_episodes(episode: np.ndarray, part: np.ndarray, val_fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of validation rows: whole episodes, from every part, about val_fraction of each part's images."""
    rng = np.random.default_rng([seed, 0x5A1])
    val = np.zeros(len(episode), bool)
    for p in np.unique(part):
        rows = part == p
        seeds, counts = np.unique(episode[rows], return_counts=True)
        target, taken = val_fraction * rows.sum(), 0
        for i in rng.permutation(len(seeds)):  # greedy in a seeded order: take an episode when it brings
            if counts[i] < 2 * (target - taken):  # the held-out count closer to the target
                val |= episode == seeds[i]
                taken += counts[i]
    if not val.any():  # every episode is larger than the target: the smallest one
        seeds, counts = np.unique(episode, return_counts=True)
        val = episode == seeds[np.argmin(counts)]
    if val.all():
        raise PipelineError("train_vae: the validation split would take every episode")
    return val


@dataclass(frozen=True)
class Split:
    """The training and validation rows of an image file (whole episodes held out) and their read blocks."""

    val_mask: np.ndarray
    train_rows: np.ndarray
    val_rows: np.ndarray
    train_blocks: list[tuple[int, int]]
    val_blocks: list[tuple[int, int]]

    @classmethod
    def of(cls, data: ImageFile, val_fraction: float, seed: int, block: int) -> Split:
        val_mask = split_episodes(data.episode, data.part, val_fraction, seed)
        train_rows, val_rows = np.flatnonzero(~val_mask), np.flatnonzero(val_mask)
        return cls(val_mask, train_rows, val_rows, make_blocks(train_rows, block), make_blocks(val_rows, block))

    def counts(self, data: ImageFile) -> dict[str, int]:
        """The split's sizes, as the metrics report them."""
        return {"images": data.n, "train_images": int(len(self.train_rows)), "val_images": int(len(self.val_rows)),
                "val_episodes": int(len(np.unique(data.episode[self.val_mask])))}


def make_blocks(rows: np.ndarray, block: int) -> list[tuple[int, int]]:
    """[lo, hi) ranges covering the sorted row indices: contiguous runs cut every `block` rows."""
    if len(rows) == 0:
        return []
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    blocks = []
    for run in np.split(rows, breaks):
        for lo in range(0, len(run), block):
            piece = run[lo : lo + block]
            blocks.append((int(piece[0]), int(piece[-1]) + 1))
    return blocks


def train_batches(data: ImageFile, blocks: list[tuple[int, int]], cfg: StreamConfig,
                  rng: np.random.Generator) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Shuffled uint8 batches (B, 64, 64, 3) with their row numbers: block order shuffled, then images within a
    buffer of blocks."""
    order = rng.permutation(len(blocks))
    carry = np.empty((0, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    carry_rows = np.empty(0, np.int64)
    for start in range(0, len(order), cfg.buffer_blocks):
        picked = [blocks[i] for i in order[start : start + cfg.buffer_blocks]]
        buffer = np.concatenate([carry, *(data.read(lo, hi) for lo, hi in picked)])
        rows = np.concatenate([carry_rows, *(np.arange(lo, hi) for lo, hi in picked)])
        shuffle = rng.permutation(len(buffer))
        buffer, rows = buffer[shuffle], rows[shuffle]
        whole = len(buffer) // cfg.batch_size * cfg.batch_size
        for lo in range(0, whole, cfg.batch_size):
            yield buffer[lo : lo + cfg.batch_size], rows[lo : lo + cfg.batch_size]
        carry, carry_rows = buffer[whole:], rows[whole:]
    if len(carry) >= 2:  # BatchNorm needs two images; a single leftover image waits for the next epoch's shuffle
        yield carry, carry_rows


def eval_batches(data: ImageFile, blocks: list[tuple[int, int]],
                 batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The rows of `blocks` in order, as (images, row numbers) batches."""
    for lo, hi in blocks:
        images = data.read(lo, hi)
        for i in range(0, len(images), batch_size):
            chunk = images[i : i + batch_size]
            yield chunk, np.arange(lo + i, lo + i + len(chunk))


def n_train_batches(n_rows: int, batch_size: int) -> int:
    return n_rows // batch_size + (1 if n_rows % batch_size >= 2 else 0)


# ------------------------------------------------------------------------------------------------------ training


def to_input(batch: np.ndarray) -> torch.Tensor:
    """uint8 (B, 64, 64, 3) -> float (B, 3, 64, 64) in [0, 1]: the `vae64` preprocessing the served encoder uses."""
    return vae64(torch.from_numpy(batch).permute(0, 3, 1, 2))


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


def run_on_images(dataset_path: str | Path, out_dir: str | Path, checkpoints: str | Path | None,
                  train: Callable[[ImageFile, Path, Path], dict[str, Any]]) -> dict[str, Any]:
    """What every trainer on an image file does around its loop: refuse outputs that would clobber the input, open
    the file (checked), run `train(data, out_dir, checkpoint folder)` with deterministic kernels, close it."""
    out_dir = Path(out_dir)
    check_output(out_dir, "dir", [dataset_path])
    if checkpoints:
        check_output(checkpoints, "dir", [dataset_path])
    data = ImageFile(dataset_path)
    try:
        with sole_writer(out_dir), deterministic():
            return train(data, out_dir, Path(checkpoints) if checkpoints else out_dir / "checkpoints")
    finally:
        data.close()


def _train(data: ImageFile, out_dir: Path, folder: Path, cfg: TrainVaeConfig, progress: bool) -> dict[str, Any]:
    fingerprint = data.fingerprint()
    split = Split.of(data, cfg.val_fraction, cfg.seed, cfg.block)

    torch.manual_seed(derived_seed(cfg.seed, 0x1417))
    model = VAE(cfg.vae_config)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    curve = resume(folder, CHECKPOINT_FORMAT, cfg.epochs, cfg.resume_key(), fingerprint, model, optimizer)
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
        save_checkpoint(folder, CHECKPOINT_FORMAT, epoch + 1, model, optimizer, cfg.resume_key(), fingerprint, curve)
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
    image = Image.fromarray(grid).resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
