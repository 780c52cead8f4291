"""A run's small files (docs/formats.md, 'Runs'): `metrics.json`, `curves.csv`, evaluation JSON and the results file.

JSON files are written with pipeline.atomic.write_json (strict: null where nothing was measured; sorted keys:
the same values always give the same bytes, so DVC and git see a rerun as unchanged); every file is written
completely or not at all (atomic rename). `policy.pt` is the policy's own torch file (pipeline/rl/policy.py).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

from pipeline.atomic import atomic_output
from pipeline.errors import PipelineError

METRICS = "metrics.json"
CURVES = "curves.csv"
# one row per iteration; sampled success/return (mean, and the best and worst episode's as mjrl logs them),
# mean-action success/return (nan without eval_episodes)
CURVE_FIELDS = ("iteration", "success_rate", "return_mean", "return_max", "return_min", "eval_success_rate",
                "eval_return_mean", "samples", "kl", "alpha", "demo_weight")


def read_json(path: str | os.PathLike, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise PipelineError(f"{path}: no such {what}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PipelineError(f"{path}: not a valid {what} ({exc.__class__.__name__})") from None


def write_curves(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    """curves.csv from the iteration rows (other keys of a row, the seconds, are left out); floats to 6 digits."""
    with atomic_output(run_dir / CURVES) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CURVE_FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items() if k in CURVE_FIELDS})


def read_curves(run_dir: Path) -> list[dict[str, float]]:
    try:
        with open(run_dir / CURVES) as f:
            return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    except FileNotFoundError:
        raise PipelineError(f"{run_dir}: no {CURVES} (is it a train_policy run folder?)") from None
    except ValueError as exc:
        raise PipelineError(f"{run_dir / CURVES}: not a curves file ({exc})") from None


def read_metrics(run_dir: Path) -> dict[str, Any]:
    if not (run_dir / METRICS).exists():
        raise PipelineError(f"{run_dir}: no {METRICS} (is it a train_policy run folder?)")
    return read_json(run_dir / METRICS, "run metrics file")
