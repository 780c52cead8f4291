"""What every model trained here shares around its loss: seeds derived from a key, deterministic kernels,
byte-stable atomic files (the model file and its hash, metrics.json, curves.csv; the seconds apart in timings.json),
and the check that a model file's parameters fit the architecture.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.atomic import atomic_output
from pipeline.encoders.vml import warm_vml
from pipeline.errors import PipelineError
from pipeline.timings import write_timings


def derived_seed(*key: int) -> int:
    """A 63-bit seed from integers: each epoch's shuffle and noise reseed from (seed, epoch, ...)."""
    return int(np.random.SeedSequence(list(key)).generate_state(1, np.uint64)[0] >> 1)


@contextlib.contextmanager
def deterministic() -> Iterator[None]:
    warm_vml()  # a loss's log or exp over a batch is split across threads: its first call must not race (vml.py)
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)


def torch_bytes(obj: Any) -> bytes:
    """torch.save through a buffer: the zip's root must not be named after a (temporary) file name."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def write_bytes(path: Path, content: bytes) -> None:
    with atomic_output(path) as tmp:
        tmp.write_bytes(content)


def curve_csv(curve: list[dict[str, float]], columns: tuple[str, ...]) -> str:
    """curves.csv: the first column (the epoch) as it is, the others to 9 significant digits."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in curve:
        writer.writerow([row[columns[0]], *(f"{row[c]:.9g}" for c in columns[1:])])
    return out.getvalue()


def write_model(out_dir: Path, content: bytes) -> str:
    """model.pt and model.sha256 (its hash, which the metrics and feature store keys name); the hash."""
    sha = hashlib.sha256(content).hexdigest()
    write_bytes(out_dir / "model.pt", content)
    write_bytes(out_dir / "model.sha256", f"{sha}\n".encode())
    return sha


def write_run_records(out_dir: Path, curve: list[dict[str, float]], columns: tuple[str, ...],
                      metrics: dict[str, Any]) -> None:
    """metrics.json and curves.csv (byte-stable) and, apart, timings.json (the seconds of each epoch)."""
    write_timings(out_dir, {"seconds": sum(row["seconds"] for row in curve),
                            "per_epoch": [{"epoch": row["epoch"], "seconds": row["seconds"]} for row in curve]})
    write_bytes(out_dir / "metrics.json", (json.dumps(metrics, indent=2) + "\n").encode())
    write_bytes(out_dir / "curves.csv", curve_csv(curve, columns).encode())


def check_state_dict(expected: dict[str, torch.Tensor], got: dict[str, torch.Tensor], where: str) -> None:
    """One line naming the first mismatching parameter: a checkpoint from another architecture."""
    missing = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    if missing or extra:
        raise PipelineError(f"{where}: parameters do not fit the architecture (missing {missing[:3]}, unexpected {extra[:3]})")
    for name, tensor in expected.items():
        if tuple(got[name].shape) != tuple(tensor.shape):
            raise PipelineError(
                f"{where}: parameter {name} has shape {tuple(got[name].shape)}, the architecture wants {tuple(tensor.shape)}"
            )
