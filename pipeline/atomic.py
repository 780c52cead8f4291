"""Write-completely-or-not-at-all: every output goes to a temporary sibling and is renamed at the end."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import stat
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
    refuse_special(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.partial")
    with sole_writer(final):
        _remove(tmp)
        try:
            yield tmp
        except BaseException:
            _remove(tmp)
            raise
        refuse_special(final)
        _remove(final)
        os.replace(tmp, final)


@contextlib.contextmanager
def sole_writer(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on `path`'s output for the whole write; a second writer is refused at once, naming the
    first one's pid (two writers to one output once both "succeeded" with a damaged result).

    The lock is `flock` on a sibling `.<name>.lock` (released by the kernel when the holder dies, kill -9 included),
    removed again when the write ends.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    lock = final.with_name(f".{final.name}.lock")
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise PipelineError(f"{path}: another process (pid {holder}) is writing it now; wait for it to end or "
                                f"choose another --out") from None
        try:  # the holder before us may have removed the file between our open and our lock: lock the new one
            if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        os.close(fd)


def refuse_special(path: str | os.PathLike) -> None:
    """An output may replace only a regular file or folder: a device, FIFO or socket (or a link to one) is refused
    (`--out /dev/null` once replaced the device node with an HDF5 file)."""
    try:
        mode = os.stat(path).st_mode  # follows a symlink to what it names
    except (FileNotFoundError, NotADirectoryError):
        return
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        kind = ("a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file")
        raise PipelineError(f"{path}: is {kind}; an output replaces only a regular file or folder (choose another --out)")


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
    refuse_special(out)
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
