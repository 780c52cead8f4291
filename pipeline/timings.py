"""Where machine-dependent numbers go: seconds and throughput live in a timings file beside the output they time,
never inside it. Every output DVC tracks (and so dvc.lock and git) is then byte-identical across two runs on the
same kind of machine; the timings files are git-ignored and not declared in dvc.yaml (docs/reliability.md,
"Reproducible bit for bit").

    run folder  data/runs/door/resnet18/seed0/      -> data/runs/door/resnet18/seed0/timings.json
    file        data/eval/door/resnet18/seed0.json  -> data/eval/door/resnet18/seed0.timings.json
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.atomic import write_json

NAME = "timings.json"


def timings_path(output: str | Path) -> Path:
    """The timings file of an output folder (inside it) or of an output file (beside it)."""
    output = Path(output)
    if output.suffix:
        return output.with_name(f"{output.stem}.{NAME}")
    return output / NAME


def write_timings(output: str | Path, timings: dict[str, Any]) -> Path:
    path = timings_path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, timings)
    return path


def read_timings(output: str | Path) -> dict[str, Any]:
    """The timings of an output, empty when it has none (made on another machine, or before timings existed)."""
    path = timings_path(output)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
