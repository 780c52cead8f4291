"""Frames file -> feature store, pipelined: frames are read in a background thread, encoded in batches on the
device, and shards are written in a background thread. Memory holds a few batches and one shard, whatever the
dataset size. Interrupted runs resume at the last complete shard; a complete store with the same key is kept.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from pipeline.atomic import check_output
from pipeline.checksum import file_sha256
from pipeline.encoders.encoder import MAX_OUTSTANDING, Encoder, EncoderConfig, PendingFeatures
from pipeline.errors import PipelineError
from pipeline.formats.features import ZARR_VERSION, FeatureStoreWriter, StoreLayout, is_complete, store_key
from pipeline.formats.frames import FramesFile
from pipeline.prefetch import background

STORE_DTYPES = ("float32", "float16")


def read_batches(frames: FramesFile, start_row: int, batch_rows: int) -> Iterator[np.ndarray]:
    """(rows, n_cameras, H, W, 3) uint8 batches in store order (demo by demo, step by step) from start_row."""
    lengths = frames.lengths()
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    pieces: list[np.ndarray] = []
    have = 0
    for demo, length in enumerate(lengths):
        lo = max(0, start_row - offsets[demo])
        while lo < length:
            hi = min(length, lo + batch_rows - have)
            pieces.append(np.stack([frames.frames(demo, c)[lo:hi] for c in frames.cameras], axis=1))
            have += hi - lo
            lo = hi
            if have == batch_rows:
                yield np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
                pieces, have = [], 0
    if pieces:
        yield np.concatenate(pieces)


class _ShardQueue:
    """Collects feature rows into whole shards and hands each to the writer thread (one in flight at most)."""

    def __init__(self, writer: FeatureStoreWriter, pool: ThreadPoolExecutor, shard_rows: int):
        self.writer, self.pool, self.shard_rows = writer, pool, shard_rows
        self.next_shard = writer.shards_done
        self.rows: list[np.ndarray] = []
        self.count = 0
        self.in_flight: Future | None = None

    def add(self, features: np.ndarray) -> None:
        self.rows.append(features)
        self.count += len(features)
        while self.count >= self.shard_rows:
            block = np.concatenate(self.rows)
            self._submit(block[: self.shard_rows])
            self.rows = [block[self.shard_rows :]]
            self.count = len(self.rows[0])

    def flush(self) -> None:
        if self.count:
            self._submit(np.concatenate(self.rows))
            self.rows, self.count = [], 0
        if self.in_flight is not None:
            self.in_flight.result()

    def _submit(self, block: np.ndarray) -> None:
        if self.in_flight is not None:
            self.in_flight.result()  # surfaces write errors; bounds memory to one shard being written
        self.in_flight = self.pool.submit(self.writer.write_shard, self.next_shard, block)
        self.next_shard += 1


def encode_frames(
    frames_path: str | Path,
    out: str | Path,
    config: EncoderConfig,
    batch_size: int = 64,
    dtype: str = "float32",
    progress: bool = True,
    shard_rows: int = 0,
) -> dict[str, Any]:
    """Encode every frame of every camera into the store at `out`; returns figures for logs and benches."""
    check_output(out, "dir", [frames_path, config.weights if os.path.exists(config.weights) else None])
    if dtype not in STORE_DTYPES:
        raise PipelineError(f"unknown store dtype {dtype!r}; valid: {', '.join(STORE_DTYPES)}")
    if batch_size <= 0:
        raise PipelineError(f"batch size must be positive, got {batch_size}")
    encoder = Encoder(config)  # unknown model, missing weights, unsupported precision: fail before any work
    with FramesFile(frames_path) as frames:
        height, width = frames.frame_size
        cameras = frames.cameras
        frames_sha256 = file_sha256(frames_path)
        key = store_key(frames_sha256, cameras, encoder.key(), dtype)
        if is_complete(out, key):
            return {"skipped": True, "reason": "a complete store with this key exists", "key": key}
        lengths = frames.lengths()
        layout = StoreLayout(sum(lengths), encoder.dim * len(cameras), dtype, np.cumsum(lengths), shard_rows)
        attrs = {
            **encoder.key(),
            "frames_file": Path(frames_path).name,
            "frames_sha256": frames_sha256,
            "cameras": cameras,
            "task": frames.attrs.get("task", ""),
            "render_quality": frames.attrs.get("quality", ""),
            "input_size": [int(height), int(width)],
            "feature_dim_per_camera": encoder.dim,
            "dtype": dtype,
            "versions": {"torch": torch.__version__, "zarr": ZARR_VERSION, "numpy": np.__version__},
        }
        writer = FeatureStoreWriter(out, key, layout, attrs)
        resumed_from = writer.start_row
        n_cams = len(cameras)
        bar = tqdm(total=layout.n_rows * n_cams, initial=writer.start_row * n_cams, unit="img",
                   desc=f"encode {encoder.spec.name}", disable=not progress, smoothing=0.05)
        start = time.perf_counter()
        encoded = 0
        with ThreadPoolExecutor(1, thread_name_prefix="shard-writer") as pool:
            shards = _ShardQueue(writer, pool, layout.shard_rows)
            running: deque[tuple[int, PendingFeatures]] = deque()  # submitted batches, oldest first

            def collect_oldest() -> None:
                rows, pending = running.popleft()
                shards.add(pending.result().reshape(rows, -1).numpy())
                bar.update(rows * n_cams)

            for batch in background(read_batches(frames, writer.start_row, batch_size)):
                rows = len(batch)
                # on a GPU batch k runs while batch k+1 is read, decoded and staged (a CPU encodes in submit)
                running.append((rows, encoder.submit(batch.reshape(rows * n_cams, height, width, 3))))
                encoded += rows * n_cams
                if len(running) == MAX_OUTSTANDING:
                    collect_oldest()
            while running:
                collect_oldest()
            shards.flush()
        bar.close()
        seconds = time.perf_counter() - start
        writer.finish()
    return {"skipped": False, "key": key, "resumed_from_row": resumed_from, "images": encoded, "images_per_s": encoded / seconds if seconds else 0.0,
            "rows": layout.n_rows, "dim": layout.dim, "weights_source": encoder.weights.source}
