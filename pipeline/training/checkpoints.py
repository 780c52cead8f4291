"""What every encoder trained here (the VAE, the reward encoder) shares around its loss: seeds derived from a key,
deterministic kernels, byte-stable atomic files (the model file and its hash, metrics.json, curves.csv; the
seconds apart in timings.json), and per-epoch checkpoints that resume a run exactly.

A checkpoint folder holds `epoch_NNN.pt`, the latest only: {"format", "epoch", "config" (the resume key),
"dataset" (the data's fingerprint), "model", "optimizer", "rng", "curve"}; a rerun with more epochs continues from
it, one written with another config or dataset is refused in one line.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.atomic import atomic_output
from pipeline.errors import PipelineError
from pipeline.timings import write_timings


def derived_seed(*key: int) -> int:
    """A 63-bit seed from integers: each epoch's shuffle and noise reseed from (seed, epoch, ...)."""
    return int(np.random.SeedSequence(list(key)).generate_state(1, np.uint64)[0] >> 1)


@contextlib.contextmanager
def deterministic() -> Iterator[None]:
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


def _checkpoints(folder: Path) -> list[tuple[int, Path]]:
    found = []
    for path in folder.glob("epoch_*.pt") if folder.is_dir() else []:
        match = re.fullmatch(r"epoch_(\d+)\.pt", path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def load_checkpoint(folder: Path, fmt: str, epochs: int, resume_key: dict[str, Any], fingerprint: str,
                    check_model: Any) -> dict[str, Any] | None:
    """The latest checkpoint at or before `epochs`, refused (one line) when another config or dataset wrote it;
    `check_model(state_dict, where)` refuses parameters of another architecture."""
    usable = [(e, p) for e, p in _checkpoints(folder) if e <= epochs]
    if not usable:
        return None
    _, path = usable[-1]
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a damaged checkpoint is bad input, not a crash
        raise PipelineError(f"{path}: not a loadable checkpoint ({exc.__class__.__name__}); delete it to start over") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != fmt:
        raise PipelineError(f"{path}: not a {fmt} checkpoint; delete {folder} to start over")
    if ckpt["config"] != resume_key:
        diff = {k: (ckpt["config"].get(k), v) for k, v in resume_key.items() if ckpt["config"].get(k) != v}
        changes = ", ".join(f"{k} {old!r} -> {new!r}" for k, (old, new) in diff.items())
        raise PipelineError(f"{path}: written with another config ({changes}); delete {folder} to start over")
    if ckpt["dataset"] != fingerprint:
        raise PipelineError(f"{path}: written for another image dataset; delete {folder} to start over")
    check_model(ckpt["model"], str(path))
    return ckpt


def save_checkpoint(folder: Path, fmt: str, epoch: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    resume_key: dict[str, Any], fingerprint: str, curve: list[dict[str, float]]) -> None:
    old = _checkpoints(folder)
    state = {
        "format": fmt,
        "epoch": epoch,
        "config": resume_key,
        "dataset": fingerprint,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "rng": {"torch": torch.get_rng_state()},
        "curve": curve,
    }
    write_bytes(folder / f"epoch_{epoch:03d}.pt", torch_bytes(state))
    for e, path in old:  # keep the latest only: a checkpoint of the default VAE is ~100 MB
        if e != epoch:
            path.unlink(missing_ok=True)


def resume(folder: Path, fmt: str, epochs: int, resume_key: dict[str, Any], fingerprint: str,
           model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> list[dict[str, float]]:
    """Load the latest usable checkpoint (if any) into model, optimizer and torch's RNG; the curve so far."""
    expected = model.state_dict()
    ckpt = load_checkpoint(folder, fmt, epochs, resume_key, fingerprint,
                           lambda state, where: check_state_dict(expected, state, where))
    if ckpt is None:
        return []
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    torch.set_rng_state(ckpt["rng"]["torch"])
    return list(ckpt["curve"])


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
