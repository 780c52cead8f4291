"""The pipeline's HDF5 files: created sealed (a sha256 in the user block), opened verified, read with one-line errors."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import h5py

from pipeline.errors import PipelineError, exception_line

SEAL_BYTES = 512  # the HDF5 user block: bytes before the HDF5 data that the library itself never reads
_SEAL_MAGIC = b"rrl-pipe sealed hdf5; sha256 of the bytes after this block: "


def create_hdf5(path: str | os.PathLike) -> h5py.File:
    """A new HDF5 file in the pipeline's layout: a user block for the seal, fixed libver and creation order,
    so that the same inputs give the same bytes. Call `seal(path)` after closing it."""
    return h5py.File(path, "w", libver=("v110", "v110"), track_order=True, userblock_size=SEAL_BYTES)


def _content_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        f.seek(SEAL_BYTES)
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def seal(path: str | os.PathLike) -> None:
    """Write the sha256 of everything after the user block into the user block of a closed file.

    Why: HDF5 checks its own metadata but not the data, and a corrupted file can make the library itself spin
    (a flipped byte in an attribute once hung `attrs.get` at 100% CPU); verifying the seal first means HDF5 only
    ever parses files that are exactly as written."""
    path = Path(path)
    stamp = _SEAL_MAGIC + _content_sha256(path).encode() + b"\n"
    with open(path, "r+b") as f:
        f.write(stamp.ljust(SEAL_BYTES, b"\0"))


def _check_seal(path: Path, what: str) -> None:
    with open(path, "rb") as f:
        head = f.read(SEAL_BYTES)
    if not head.startswith(_SEAL_MAGIC):
        raise PipelineError(f"{path}: not a sealed rrl-pipe {what} (made by another tool or an older rrl-pipe: make it again)")
    recorded = head[len(_SEAL_MAGIC) : len(_SEAL_MAGIC) + 64].decode("ascii", "replace")
    if recorded != _content_sha256(path):
        raise PipelineError(
            f"{path}: damaged {what}: truncated or changed since it was written (its sha256 does not match the sealed one)"
        )


def open_hdf5(path: str | os.PathLike, what: str, sealed: bool = False) -> h5py.File:
    """`path` opened read-only; PipelineError "<path>: no such <what>" when it is not a file, and "<path>: not a
    readable HDF5 file (...)" when h5py cannot open it (truncated, or not HDF5 at all). `sealed`: the pipeline's
    own files, whose seal (see `seal`) is verified before HDF5 reads a byte of them."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: no such {what}")
    if sealed:
        _check_seal(path, what)
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise PipelineError(f"{path}: not a readable HDF5 file (truncated or not HDF5: {exception_line(exc, 80)})") from None
_KIND_NAMES = {"b": "bool", "i": "integer", "u": "unsigned integer", "f": "float"}
MAX_ARRAY_BYTES = 1 << 30  # one dataset of a user's file that claims more than this is refused, not read


def is_count(value: object) -> bool:
    """An attribute that counts something (demos, frames): a positive int, not a bool, a string or a float."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


@contextlib.contextmanager
def damaged(path: str | os.PathLike, what: str) -> Iterator[None]:
    """Whatever h5py or numpy raise while reading the structure of `path` becomes one line naming the file."""
    try:
        yield
    except PipelineError:
        raise
    except (KeyError, ValueError, TypeError, IndexError, OSError, RuntimeError, AttributeError, OverflowError) as exc:
        raise PipelineError(f"{path}: damaged {what} ({exception_line(exc)})") from None


def dataset(group: h5py.Group, key: str, where: str, kinds: str) -> h5py.Dataset:
    """group[key] as a dataset of one of the dtype `kinds` (numpy kind letters), of a size one may read."""
    item = group.get(key)
    if not isinstance(item, h5py.Dataset):
        raise PipelineError(
            f"{where}: lacks the dataset {key!r}" if item is None else f"{where}: {key!r} is a group, not a dataset"
        )
    if item.dtype.kind not in kinds:
        wanted = " or ".join(_KIND_NAMES[k] for k in kinds)
        raise PipelineError(f"{where}/{key}: dtype {item.dtype}, expected {wanted}")
    if item.size * item.dtype.itemsize > MAX_ARRAY_BYTES:
        raise PipelineError(
            f"{where}/{key}: claims {item.size * item.dtype.itemsize} bytes, more than the {MAX_ARRAY_BYTES} allowed"
        )
    return item
