"""Demonstrations, their cached features and optionally their frames, written in the formats other tools read:
robomimic's HDF5, a LeRobot v3 dataset and a Minari dataset (docs/export.md: the mapping of each).

Each format is a module of this package with `KIND` ("file" or "dir"), `NAME`, `recognise(path)` (an existing
export of that format, which an export may replace) and `write(source, out, dataset_id, progress)`; it is imported
only when used (the LeRobot and Minari writers import their packages).

May import (tests/test_layers.py holds it): errors, atomic, checksum, tasks, formats, demos.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

from tqdm import tqdm

from pipeline.atomic import check_output
from pipeline.errors import PipelineError
from pipeline.export.source import ExportSource, open_source

__all__ = ["FORMATS", "export", "open_source"]

FORMATS = ("robomimic", "lerobot", "minari")


def _writer(fmt: str) -> ModuleType:
    if fmt not in FORMATS:
        raise PipelineError(f"unknown export format {fmt!r}; formats: {', '.join(FORMATS)}")
    return importlib.import_module(f"pipeline.export.{fmt}")


def check_target(writer: ModuleType, out: Path, source: ExportSource) -> None:
    """Refuse, before reading a frame: an output that is an input, and an existing path that is not an export of the
    same format (an export replaces only its own kind, never someone's other files)."""
    check_output(out, writer.KIND, inputs=[source.demos_path, source.frames_path, *source.feature_paths])
    if out.exists() and not (out.is_dir() and not any(out.iterdir())) and not writer.recognise(out):
        raise PipelineError(f"{out}: exists and is not a {writer.NAME}; an export replaces only its own kind "
                            "(remove it or choose another --out)")


def export(fmt: str, source: ExportSource, out: str | Path, dataset_id: str = "", progress: bool = True) -> dict[str, Any]:
    """Write `source` as `fmt` at `out`, completely or not at all; the figures a user sees."""
    writer, out = _writer(fmt), Path(out)
    check_target(writer, out, source)
    with tqdm(total=len(source.episodes), desc=f"export {fmt}", unit="demo", disable=not progress) as bar:
        writer.write(source, out, dataset_id, progress=bar.update)
    return {"format": fmt, "task": source.task, "demos": len(source.episodes),
            "steps": sum(ep.length for ep in source.episodes), "features": source.feature_dims,
            "images": source.cameras if source.with_images else []}
