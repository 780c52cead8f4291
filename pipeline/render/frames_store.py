"""The rendered-frames HDF5 file (README, 'Rendered frames'): written demo by demo, read frame by frame."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pipeline.errors import PipelineError
from pipeline.hdf5 import open_hdf5

FORMAT = "rrl-pipe/frames"


class FramesWriter:
    """Creates one group per demo; frames are chunked one frame per chunk (random access for the encoder)."""

    def __init__(self, path: Path, attrs: dict[str, Any], cameras: tuple[str, ...], size: int):
        self.cameras, self.size = cameras, size
        self.file = h5py.File(path, "w", libver=("v110", "v110"), track_order=True)
        self.file.attrs["format"] = FORMAT
        for key, value in attrs.items():
            self.file.attrs[key] = value
        self.data = self.file.create_group("data", track_order=True)

    def add_demo(self, index: int, n_frames: int, arrays: dict[str, np.ndarray], attrs: dict[str, Any]) -> h5py.Group:
        g = self.data.create_group(f"demo_{index}", track_order=True)
        for name, value in arrays.items():
            g.create_dataset(name, data=value)
        frames = g.create_group("frames", track_order=True)
        shape = (n_frames, self.size, self.size, 3)
        for camera in self.cameras:
            frames.create_dataset(camera, shape=shape, dtype=np.uint8, chunks=(1, self.size, self.size, 3))
        for key, value in attrs.items():
            g.attrs[key] = value
        return g

    def write_frames(self, index: int, start: int, frames: np.ndarray) -> None:
        """frames: (n, n_cameras, H, W, 3) for steps start..start+n of demo `index`."""
        group = self.data[f"demo_{index}/frames"]
        for c, camera in enumerate(self.cameras):
            group[camera][start : start + len(frames)] = frames[:, c]

    def close(self, n_demos: int) -> None:
        self.file.attrs["n_demos"] = n_demos
        self.file.close()


class FramesFile:
    """Read access with the checks every consumer needs (format, cameras, shapes)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.file = open_hdf5(self.path, "frames file")
        if self.file.attrs.get("format") != FORMAT or "n_demos" not in self.file.attrs:
            self.file.close()
            raise PipelineError(f"{self.path}: not a complete rrl-pipe frames file")
        self.attrs = {k: _plain(v) for k, v in self.file.attrs.items()}
        self.cameras: list[str] = list(self.attrs["cameras"])
        self.n_demos = int(self.attrs["n_demos"])

    def demo(self, index: int) -> h5py.Group:
        return self.file[f"data/demo_{index}"]

    def frames(self, index: int, camera: str) -> h5py.Dataset:
        if camera not in self.cameras:
            raise PipelineError(f"{self.path}: no camera {camera!r}; cameras: {', '.join(self.cameras)}")
        return self.file[f"data/demo_{index}/frames/{camera}"]

    def lengths(self) -> list[int]:
        """Frames per demo (T+1 each)."""
        return [int(self.demo(i).attrs["n_frames"]) for i in range(self.n_demos)]

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> "FramesFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray) and value.dtype.kind in "OSU":
        return [v.decode() if isinstance(v, bytes) else str(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
