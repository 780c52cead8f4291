"""Opening the pipeline's HDF5 inputs with one-line errors that name the file."""

from __future__ import annotations

import os
from pathlib import Path

import h5py

from pipeline.errors import PipelineError


def open_hdf5(path: str | os.PathLike, what: str) -> h5py.File:
    """`path` opened read-only; PipelineError "<path>: no such <what>" when it is not a file, and "<path>: not a
    readable HDF5 file (...)" when h5py cannot open it (truncated, or not HDF5 at all)."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: no such {what}")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        first_line = (str(exc).splitlines() or [exc.__class__.__name__])[0][:80]
        raise PipelineError(f"{path}: not a readable HDF5 file (truncated or not HDF5: {first_line})") from None
