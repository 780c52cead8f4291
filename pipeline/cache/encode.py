"""Frames file -> feature store, pipelined: frames are read in a background thread, encoded in batches on the
device, and shards are written in a background thread. Memory holds a few batches and one shard, whatever the
dataset size. Interrupted runs resume at the last complete shard; a complete store with the same key is kept.
"""

from __future__ import annotations

import errno
import os
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from tqdm import tqdm

from pipeline.atomic import check_output, sole_writer
from pipeline.checksum import file_sha256
from pipeline.cluster import RayConfig, check_backend
from pipeline.encoders.encoder import MAX_OUTSTANDING, Encoder, EncoderConfig, PendingFeatures
from pipeline.errors import PipelineError, free_bytes
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


class BatchEncoder(Protocol):
    """Encodes a stream of frame batches, answering in the same order: here (LocalBatchEncoder) or on a pool of Ray
    actors (ray_encode.RayBatchEncoder). `key` is the encoder's store key fields, `dim` its feature size."""

    key: dict[str, str]
    dim: int

    def map(self, batches: Iterator[np.ndarray]) -> Iterator[np.ndarray]: ...

    def close(self) -> None: ...


class LocalBatchEncoder:
    """This process's Encoder, up to MAX_OUTSTANDING batches submitted at once: on a GPU batch k runs while batch
    k+1 is read, decoded and staged (a CPU encodes in submit)."""

    def __init__(self, config: EncoderConfig):
        self.encoder = Encoder(config)
        self.key, self.dim = self.encoder.key(), self.encoder.dim

    def map(self, batches: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        running: deque[PendingFeatures] = deque()  # submitted batches, oldest first
        for batch in batches:
            running.append(self.encoder.submit(batch))
            if len(running) == MAX_OUTSTANDING:
                yield running.popleft().result().numpy()
        while running:
            yield running.popleft().result().numpy()

    def close(self) -> None:
        pass


def encode_frames(
    frames_path: str | Path,
    out: str | Path,
    config: EncoderConfig,
    batch_size: int = 64,
    dtype: str = "float32",
    progress: bool = True,
    shard_rows: int = 0,
    backend: str = "local",
    ray_config: RayConfig | None = None,
) -> dict[str, Any]:
    """Encode every frame of every camera into the store at `out`; returns figures for logs and benches.
    backend ray: the batches are encoded on a pool of Ray actors (ray_encode.py); the store is the same."""
    check_output(out, "dir", [frames_path, config.weights if os.path.exists(config.weights) else None])
    if dtype not in STORE_DTYPES:
        raise PipelineError(f"unknown store dtype {dtype!r}; valid: {', '.join(STORE_DTYPES)}")
    if batch_size <= 0:
        raise PipelineError(f"batch size must be positive, got {batch_size}")
    check_backend("encode", backend)
    # unknown model, missing weights, unsupported precision: fail before any work
    if backend == "ray":
        from pipeline.cache.ray_encode import RayBatchEncoder

        encoder: BatchEncoder = RayBatchEncoder(config, ray_config or RayConfig())
    else:
        encoder = LocalBatchEncoder(config)
    try:
        with sole_writer(out):  # a second encode to the same store is refused, not interleaved
            return _encode_store(frames_path, out, encoder, batch_size, dtype, progress, shard_rows)
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise PipelineError(f"{out}: {os.strerror(exc.errno)} ({free_bytes(str(out)) / 1e6:.1f} MB free there); the "
                            "shards written so far are kept: free some space and rerun to resume") from None
    finally:
        encoder.close()


def _encode_store(frames_path: str | Path, out: str | Path, encoder: BatchEncoder, batch_size: int, dtype: str,
                  progress: bool, shard_rows: int) -> dict[str, Any]:
    with FramesFile(frames_path) as frames:
        height, width = frames.frame_size
        cameras = frames.cameras
        frames_sha256 = file_sha256(frames_path)
        key = store_key(frames_sha256, cameras, encoder.key, dtype)
        if is_complete(out, key):
            return {"skipped": True, "reason": "a complete store with this key exists", "key": key}
        lengths = frames.lengths()
        layout = StoreLayout(sum(lengths), encoder.dim * len(cameras), dtype, np.cumsum(lengths), shard_rows)
        attrs = {
            **encoder.key,
            "frames_file": Path(frames_path).name,
            "frames_sha256": frames_sha256,
            "cameras": cameras,
            "task": frames.attrs.get("task", ""),
            "render_quality": frames.attrs.get("quality", ""),
            "render_scene": frames.scene,
            "input_size": [int(height), int(width)],
            "feature_dim_per_camera": encoder.dim,
            "dtype": dtype,
            "versions": {"torch": torch.__version__, "zarr": ZARR_VERSION, "numpy": np.__version__},
        }
        writer = FeatureStoreWriter(out, key, layout, attrs)
        resumed_from = writer.start_row
        n_cams = len(cameras)
        bar = tqdm(total=layout.n_rows * n_cams, initial=writer.start_row * n_cams, unit="img",
                   desc=f"encode {encoder.key['model']}", disable=not progress, smoothing=0.05)
        start = time.perf_counter()
        encoded = 0
        with ThreadPoolExecutor(1, thread_name_prefix="shard-writer") as pool:
            shards = _ShardQueue(writer, pool, layout.shard_rows)
            flat = (batch.reshape(len(batch) * n_cams, height, width, 3)
                    for batch in background(read_batches(frames, writer.start_row, batch_size)))
            for features in encoder.map(flat):  # in batch order
                rows = len(features) // n_cams
                shards.add(features.reshape(rows, -1))
                encoded += rows * n_cams
                bar.update(rows * n_cams)
            shards.flush()
        bar.close()
        seconds = time.perf_counter() - start
        writer.finish()
    return {
        "skipped": False,
        "key": key,
        "resumed_from_row": resumed_from,
        "images": encoded,
        "images_per_s": encoded / seconds if seconds else 0.0,
        "rows": layout.n_rows,
        "dim": layout.dim,
        "weights_source": encoder.key["weights_source"],
    }
