"""The Zarr feature store (docs/formats.md, 'Feature store'): keyed, sharded, resumable, `complete` set last.

A store under construction lives beside its final path as `.<name>.partial`; it is renamed into place only
when every shard is written and `complete` is set. A killed run leaves the partial store with a count of the
shards it finished (`shards_done`), and the next run with the same key resumes from there.

Stored data is verified on read, never trusted: every chunk carries a CRC32C (zarr's crc32c codec, after zstd)
and every shard index its own; the attributes list each shard file with its size and sha256, recorded as it was
written and checked on open. A deleted shard (which zarr would read back as zeros), an emptied one, two swapped, one
copied over another, a flipped byte or a truncated file is a one-line error naming the store and the shard.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import zarr
from zarr.codecs import Crc32cCodec, ZstdCodec

from pipeline.errors import PipelineError

ZARR_VERSION = zarr.__version__  # recorded in every store's provenance
FIELDS = ("features", "episode_ends")  # the store's arrays: docs/formats.md's table lists exactly these

FORMAT = "rrl-pipe/features"
FORMAT_VERSION = 3  # 3: each shard's size and sha256; 2: per-chunk checksums only; older ones are refused and rebuilt
CHUNK_ROWS = 256  # rows per chunk: the unit of a read
TARGET_SHARDS = 8  # a store is a handful of files (DVC hashes every file); also the resume granularity


def store_key(frames_sha256: str, cameras: list[str], encoder_key: dict[str, str], dtype: str) -> str:
    """sha256 of everything the features depend on: the frames, the cameras, the encoder, the stored dtype."""
    payload = {"frames_sha256": frames_sha256, "cameras": list(cameras), "encoder": encoder_key, "dtype": dtype}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def rows_per_shard(n_rows: int) -> int:
    return max(CHUNK_ROWS, math.ceil(n_rows / TARGET_SHARDS / CHUNK_ROWS) * CHUNK_ROWS)


def shard_files(n_shards: int) -> list[str]:
    """The features array's shard files, relative to the store (zarr v3's default chunk key encoding)."""
    return [f"features/c/{i}/0" for i in range(n_shards)]


def shard_digest(path: Path) -> dict[str, Any]:
    """Size and sha256 of one shard file, as recorded when it was written and checked on every open."""
    data = path.read_bytes()
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def partial_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial")


@dataclass
class StoreLayout:
    n_rows: int
    dim: int
    dtype: str  # float32 | float16
    episode_ends: np.ndarray
    shard_rows_override: int = 0  # 0: about TARGET_SHARDS shards; tests use small shards to resume quickly

    @property
    def shard_rows(self) -> int:
        return self.shard_rows_override or rows_per_shard(self.n_rows)

    @property
    def n_shards(self) -> int:
        return math.ceil(self.n_rows / self.shard_rows)


class FeatureStoreWriter:
    """Writes whole shards in order; `finish` marks the store complete and renames it into place."""

    def __init__(self, path: str | Path, key: str, layout: StoreLayout, attrs: dict[str, Any]):
        self.path, self.key, self.layout = Path(path), key, layout
        self.tmp = partial_path(self.path)
        self.shards_done = self._resume_point()
        if self.shards_done == 0:
            self._create(attrs)
        self.group = zarr.open_group(self.tmp, mode="r+")
        # zarr types a group's members as Array | Group and its attributes as any JSON; this layout fixes both
        self.features: Any = self.group["features"]

    def _resume_point(self) -> int:
        """Shards already written by an interrupted run with the same key (0: start afresh)."""
        if not self.tmp.exists():
            return 0
        try:
            attrs: dict[str, Any] = dict(zarr.open_group(self.tmp, mode="r").attrs)
            if attrs.get("key") == self.key and not attrs.get("complete"):
                return int(attrs.get("shards_done", 0))
        except Exception:  # noqa: BLE001 - an unreadable leftover is simply rebuilt
            pass
        return 0

    def _create(self, attrs: dict[str, Any]) -> None:
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        layout = self.layout
        group = zarr.open_group(self.tmp, mode="w", zarr_format=3)
        group.create_array(
            "features",
            shape=(layout.n_rows, layout.dim),
            dtype=layout.dtype,
            chunks=(min(CHUNK_ROWS, layout.shard_rows), layout.dim),
            shards=(layout.shard_rows, layout.dim),
            compressors=[ZstdCodec(level=0), Crc32cCodec()],  # the checksum covers the bytes as stored
        )
        group.create_array("episode_ends", data=np.asarray(layout.episode_ends, dtype=np.int64))
        group.attrs.update({**attrs, "format": FORMAT, "format_version": FORMAT_VERSION, "key": self.key,
                            "complete": False, "shards_done": 0, "n_shards": layout.n_shards,
                            "shard_rows": layout.shard_rows, "shards": shard_files(layout.n_shards),
                            "shard_digests": []})

    @property
    def start_row(self) -> int:
        return self.shards_done * self.layout.shard_rows

    def write_shard(self, index: int, rows: np.ndarray) -> None:
        """Shard `index` in full (the last may be short). Written data first, then the count that vouches for it."""
        if index != self.shards_done:
            raise RuntimeError(f"shard {index} written out of order (expected {self.shards_done})")
        start = index * self.layout.shard_rows
        self.features[start : start + len(rows)] = rows.astype(self.layout.dtype, copy=False)
        recorded: Any = self.group.attrs.get("shard_digests", [])
        digests = list(recorded)[:index]
        digests.append(shard_digest(self.tmp / shard_files(index + 1)[index]))
        self.shards_done += 1
        self.group.attrs.update({"shard_digests": digests, "shards_done": self.shards_done})

    def finish(self) -> Path:
        if self.shards_done != self.layout.n_shards:
            raise RuntimeError(f"finish() after {self.shards_done} of {self.layout.n_shards} shards")
        self.group.attrs["complete"] = True
        if self.path.exists():
            shutil.rmtree(self.path)
        self.tmp.rename(self.path)
        return self.path


class FeatureStore:
    """Read access that refuses what it must not use: an incomplete store or one with another key."""

    def __init__(self, path: str | Path, expect_key: str | None = None):
        self.path = Path(path)
        try:
            self.group = zarr.open_group(self.path, mode="r")
        except Exception as exc:  # noqa: BLE001 - missing dir, foreign data, broken metadata
            raise PipelineError(f"{self.path}: not a feature store ({exc.__class__.__name__})") from None
        self.attrs: dict[str, Any] = dict(self.group.attrs)
        if self.attrs.get("format") != FORMAT:
            raise PipelineError(f"{self.path}: not an rrl-pipe feature store")
        if not self.attrs.get("complete"):
            raise PipelineError(
                f"{self.path}: incomplete feature store ({self.attrs.get('shards_done')} of {self.attrs.get('n_shards')} shards)"
            )
        if self.attrs.get("format_version") != FORMAT_VERSION:
            raise PipelineError(f"{self.path}: feature store format {self.attrs.get('format_version', 1)}, this rrl-pipe "
                                f"reads {FORMAT_VERSION} (checksummed): encode again")
        if expect_key is not None and self.attrs.get("key") != expect_key:
            raise PipelineError(f"{self.path}: key {str(self.attrs.get('key'))[:12]}... does not match the expected "
                                f"{expect_key[:12]}... (other frames or encoder)")
        try:
            self.features: Any = cast(Any, self.group["features"])  # zarr types members as Array | Group
            ends: Any = self.group["episode_ends"]
            self.episode_ends = np.asarray(ends[:], dtype=np.int64)
            self.shard_rows = int(self.attrs["shard_rows"])
            shards = list(self.attrs["shards"])
        except Exception as exc:  # noqa: BLE001 - broken metadata, whatever zarr raises for it
            raise PipelineError(f"{self.path}: damaged feature store metadata ({exc.__class__.__name__})") from None
        n_rows = int(self.features.shape[0])
        if (self.episode_ends.ndim != 1 or len(self.episode_ends) == 0 or int(self.episode_ends[-1]) != n_rows
                or np.any(np.diff(self.episode_ends) <= 0) or shards != shard_files(-(-n_rows // max(self.shard_rows, 1)))):
            raise PipelineError(f"{self.path}: damaged feature store metadata (episode ends or shard list)")
        missing = [s for s in shards if not (self.path / s).is_file()]
        if missing:
            raise PipelineError(f"{self.path}: shard {missing[0]} is missing ({len(missing)} of {len(shards)} shards)")
        digests = self.attrs.get("shard_digests")
        if not isinstance(digests, list) or len(digests) != len(shards):
            raise PipelineError(f"{self.path}: damaged feature store metadata (shard digests)")
        for shard, recorded in zip(shards, digests):
            if shard_digest(self.path / shard) != recorded:
                raise PipelineError(f"{self.path}: shard {shard} is not the shard written there (size or sha256 "
                                    f"differs: emptied, replaced or swapped)")

    @property
    def key(self) -> str:
        return str(self.attrs["key"])

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop), every chunk they touch checked against its CRC32C."""
        try:
            return self.features[start:stop]
        except Exception:
            for shard in range(start // self.shard_rows, (max(stop, start + 1) - 1) // self.shard_rows + 1):
                try:
                    self.features[shard * self.shard_rows : (shard + 1) * self.shard_rows]
                except Exception as exc:  # noqa: BLE001
                    raise PipelineError(f"{self.path}: shard features/c/{shard}/0 is corrupted "
                                        f"({exc.__class__.__name__}: checksum or length)") from None
            raise

    def episode(self, index: int) -> np.ndarray:
        start = 0 if index == 0 else int(self.episode_ends[index - 1])
        return self.rows(start, int(self.episode_ends[index]))

    def all(self) -> np.ndarray:
        return self.rows(0, int(self.features.shape[0]))


def is_complete(path: str | Path, key: str) -> bool:
    try:
        FeatureStore(path, expect_key=key)
    except PipelineError:
        return False
    return True
