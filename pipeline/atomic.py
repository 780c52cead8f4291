"""Write-completely-or-not-at-all: every output goes to a temporary sibling and is renamed at the end."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it over `path`, on any error delete it.

    The rename is atomic on one filesystem, so a reader (or DVC) sees the old output or the new one,
    never a half-written file, whether the writer finished, raised, or was killed (the temporary then
    stays behind under a name no stage reads, and the next run overwrites it).
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.partial")
    _remove(tmp)
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    _remove(final)
    os.replace(tmp, final)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def check_output(out: str | os.PathLike, kind: str, inputs: Iterable[str | os.PathLike | None] = ()) -> None:
    """Refuse, before any work, an output that would destroy an input or cannot be written.

    kind "file" or "dir" (a folder or a .zarr store). Refused: `out` is one of `inputs` (same file, resolved:
    `render-demos --demos X --out X` once overwrote the demos with frames), a folder output holding an input,
    an existing path of the other kind, and a place where nothing can be created.
    """
    final = Path(out).resolve()
    for source in inputs:
        if source is None or str(source) == "":
            continue
        src = Path(source).resolve()
        if src == final:
            raise PipelineError(f"{out}: is also an input; writing it would destroy that input (choose another --out)")
        if kind == "dir" and final in src.parents:
            raise PipelineError(f"{out}: holds the input {source}; writing this folder would destroy it (choose another --out)")
    if final.exists() and kind == "file" and final.is_dir():
        raise PipelineError(f"{out}: is a folder; this writes a file there (remove it or choose another --out)")
    if final.exists() and kind == "dir" and not final.is_dir():
        raise PipelineError(f"{out}: is a file; this writes a folder there (remove it or choose another --out)")
    existing = next(p for p in (final, *final.parents) if p.exists())
    if existing != final and not existing.is_dir():
        raise PipelineError(f"{out}: {existing} is a file, not a folder")
    try:  # what the writer will do at the end (a temporary sibling), tried now
        final.parent.mkdir(parents=True, exist_ok=True)
        probe = final.with_name(f".{final.name}.probe-{os.getpid()}")
        probe.touch(exist_ok=True)
        probe.unlink()
    except OSError as exc:
        raise PipelineError(f"{out}: cannot write there ({exc.strerror or exc})") from None


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Strict JSON (NaN refused), sorted keys, two-space indent, final newline, written atomically: the same values
    always give the same bytes, so DVC and git see a rerun as unchanged."""
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n")
