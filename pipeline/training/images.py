"""The image stream every trainer on a render_vae_data file shares (the VAE, the reward encoder): the validation
split (whole episodes, from every part), contiguous read blocks, shuffled batches from a bounded buffer of blocks,
and the frame around a training loop (outputs checked, the file opened and closed, deterministic kernels).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from pipeline.atomic import check_output, sole_writer
from pipeline.encoders.preprocess import vae64
from pipeline.errors import PipelineError
from pipeline.formats.vae_images import ImageFile as _ImageFile
from pipeline.training import IMAGE_SIZE
from pipeline.training.scaffold import deterministic


class StreamConfig(Protocol):
    """What the streamed batches need of a training config (train_vae's, train_reward_encoder's)."""

    @property
    def batch_size(self) -> int: ...
    @property
    def buffer_blocks(self) -> int: ...


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


def to_input(batch: np.ndarray) -> torch.Tensor:
    """uint8 (B, 64, 64, 3) -> float (B, 3, 64, 64) in [0, 1]: the `vae64` preprocessing the served encoder uses."""
    return vae64(torch.from_numpy(batch).permute(0, 3, 1, 2))


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
