"""The VAE image dataset `data/vae_images/<task>.h5` (docs/formats.md, 'VAE images'): its spec, writer and checked reader.

images (N, S, S, 3) uint8 and per image `part` (0..3, names in the `parts` attribute), `episode_seed`, `step`,
`camera` and `reward_signals` (N, K) float32, the task's reward signals of the image's state (names in the
`reward_signals` attribute: pipeline/tasks/signals.py); file attributes `format`, `task`, `parts`,
`reward_signals` and whatever settings the writer records. Sealed HDF5. Files written before the signals existed
lack them: the VAE reads them still, the reward encoder refuses them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pipeline.atomic import require_room
from pipeline.errors import PipelineError
from pipeline.formats.hdf5 import create_hdf5, open_hdf5, seal

FORMAT = "rrl-pipe/vae-images"
PARTS = ("expert", "expert_small_noise", "expert_large_noise", "random")
LABELS = (("part", np.uint8), ("episode_seed", np.int64), ("step", np.int32), ("camera", np.uint8))  # one per image
SIGNALS = "reward_signals"  # (N, K) float32, K named in the attribute of the same name
CHUNK_ROWS = 256


class VaeImagesWriter:
    """Rows appended in order into a file of exactly `n` images; sealed on a clean exit, checked complete."""

    def __init__(self, path: str | Path, task: str, n: int, size: int, signal_names: tuple[str, ...],
                 attrs: dict[str, Any]):
        self.path, self.n, self.size, self.row = Path(path), n, size, 0
        self.file = create_hdf5(self.path)
        self.file.attrs["format"] = FORMAT
        self.file.attrs["task"] = task
        self.file.attrs["parts"] = list(PARTS)
        self.file.attrs[SIGNALS] = list(signal_names)
        for key, value in attrs.items():
            self.file.attrs[key] = value
        self.images = self.file.create_dataset("images", (n, size, size, 3), np.uint8,
                                               chunks=(min(n, CHUNK_ROWS), size, size, 3), fletcher32=True)
        self.labels = {name: self.file.create_dataset(name, (n,), dtype, fletcher32=True) for name, dtype in LABELS}
        self.signals = self.file.create_dataset(SIGNALS, (n, len(signal_names)), np.float32,
                                                chunks=(min(n, CHUNK_ROWS), len(signal_names)), fletcher32=True)

    def append(self, images: np.ndarray, part: int, episode_seed: int, step: np.ndarray, camera: np.ndarray,
               signals: np.ndarray) -> None:
        k = len(images)
        require_room(self.path, images.nbytes + signals.nbytes)
        rows = slice(self.row, self.row + k)
        self.images[rows] = images
        self.labels["part"][rows] = part
        self.labels["episode_seed"][rows] = episode_seed
        self.labels["step"][rows] = step
        self.labels["camera"][rows] = camera
        self.signals[rows] = signals
        self.row += k

    def __enter__(self) -> VaeImagesWriter:
        return self

    def __exit__(self, exc_type, *exc: object) -> None:
        self.file.close()
        if exc_type is None:
            assert self.row == self.n, f"wrote {self.row} images, expected {self.n}"
            seal(self.path)


class ImageFile:
    """A VAE image file, checked before any work: format, datasets, shapes, a readable last row, two episodes."""

    def __init__(self, path: str | Path, image_size: int):
        self.path = Path(path)
        self.image_size = image_size
        self.file = open_hdf5(self.path, "VAE image file (written by `rrl-pipe render-vae-data`)", sealed=True)
        try:
            self._check()
        except BaseException:
            self.file.close()
            raise

    def _check(self) -> None:
        f, size = self.file, self.image_size
        fmt = f.attrs.get("format")
        if fmt != FORMAT:
            raise PipelineError(f"{self.path}: format {fmt!r}, expected {FORMAT!r} (a render_vae_data output)")
        for key in ("images", "episode_seed", "part"):
            if key not in f or not isinstance(f[key], h5py.Dataset):
                raise PipelineError(f"{self.path}: incomplete: no dataset {key!r}")
        images = f["images"]
        if images.ndim != 4 or images.shape[1:] != (size, size, 3) or images.dtype != np.uint8:
            raise PipelineError(f"{self.path}: images {images.shape} {images.dtype}, expected (N, {size}, {size}, 3) uint8")
        self.n = images.shape[0]
        for key in ("episode_seed", "part"):
            if f[key].shape != (self.n,):
                raise PipelineError(f"{self.path}: {key} has shape {f[key].shape}, expected ({self.n},)")
        try:
            self.episode = f["episode_seed"][()]
            self.part = f["part"][()]
            images[self.n - 1]  # the last row: a truncated file fails here, not mid-training
        except OSError:
            raise PipelineError(f"{self.path}: incomplete or truncated HDF5 file (a read failed)") from None
        if self.n < 2 or len(np.unique(self.episode)) < 2:
            raise PipelineError(f"{self.path}: {self.n} images from {len(np.unique(self.episode))} episode(s): "
                                "need at least two episodes (one for validation)")
        self.task = str(f.attrs.get("task", ""))

    def fingerprint(self) -> str:
        """Identifies the content cheaply (attributes, size, episode layout) for resume checks."""
        digest = hashlib.sha256()
        for key in sorted(self.file.attrs):
            digest.update(f"{key}={self.file.attrs[key]!r};".encode())
        digest.update(str(self.file["images"].shape).encode())
        digest.update(self.episode.tobytes())
        return digest.hexdigest()

    def reward_signals(self) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
        """(signal names, (N, K) float32 signals, (N,) step): what the reward encoder learns from; a file written
        before the signals existed is refused in one line."""
        if SIGNALS not in self.file or "step" not in self.file:
            raise PipelineError(f"{self.path}: no {SIGNALS} (written before render_vae_data recorded them): "
                                "rerun render_vae_data")
        names = tuple(str(name) for name in self.file.attrs.get(SIGNALS, ()))
        try:
            values, step = self.file[SIGNALS][()], self.file["step"][()]
        except OSError:
            raise PipelineError(f"{self.path}: {SIGNALS} cannot be read (truncated or corrupt file)") from None
        if values.shape != (self.n, len(names)) or not names or step.shape != (self.n,):
            raise PipelineError(f"{self.path}: {SIGNALS} {values.shape} for {len(names)} names and {self.n} images")
        return names, values, step

    def read(self, lo: int, hi: int) -> np.ndarray:
        try:
            return self.file["images"][lo:hi]
        except OSError:
            raise PipelineError(f"{self.path}: images {lo}:{hi} cannot be read (truncated or corrupt file)") from None

    def close(self) -> None:
        self.file.close()
