"""Write-completely-or-not-at-all: every output goes to a temporary sibling and is renamed at the end."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError, free_bytes

_PARTIAL = ".partial"
_FULL = 1 << 20  # a write that failed with less than this left on its disk failed for want of space


def _output_name(path: Path) -> Path:
    """The output a temporary of `atomic_output` becomes (what a user knows it as); any other path as it is."""
    name = path.name
    if name.startswith(".") and name.endswith(_PARTIAL):
        return path.with_name(name[1 : -len(_PARTIAL)])
    return path


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
    tmp = final.with_name(f".{final.name}{_PARTIAL}")
    with sole_writer(final):
        _remove(tmp)
        try:
            yield tmp
        except BaseException as exc:
            disk_full = isinstance(exc, (OSError, RuntimeError)) and free_bytes(str(tmp)) < _FULL
            _remove(tmp)
            if disk_full:  # torch.save says only "unexpected pos 576 vs 534" when the disk fills under it
                raise PipelineError(f"{final}: {os.strerror(errno.ENOSPC)} ({free_bytes(str(final)) / 1e6:.1f} MB "
                                    "free there once the partial output was removed)") from None
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


# Kept free beyond the bytes a writer is about to write: HDF5 holds up to a chunk cache (1 MiB per dataset) and its
# metadata in memory and writes them later, at the latest when the file closes.
DISK_MARGIN = 8 << 20


def require_room(path: str | os.PathLike, nbytes: int) -> None:
    """Refuse, in one line, to write `nbytes` more into `path` unless DISK_MARGIN stays free after them.

    Why before the write and not on ENOSPC: h5py crashes (a segmentation fault while freeing its objects) when HDF5
    meets a full disk, so the HDF5 writers check before every block and HDF5 never sees the disk fill."""
    free = free_bytes(str(path))
    if free < nbytes + DISK_MARGIN:
        raise PipelineError(f"{_output_name(Path(path))}: not enough disk space: {free / 1e6:.1f} MB free there, about "
                            f"{(nbytes + DISK_MARGIN) / 1e6:.1f} MB needed (free some space or choose another --out)")


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Strict JSON (NaN refused), sorted keys, two-space indent, final newline, written atomically: the same values
    always give the same bytes, so DVC and git see a rerun as unchanged."""
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n")
