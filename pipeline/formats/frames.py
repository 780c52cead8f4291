"""The rendered-frames HDF5 file (docs/formats.md, 'Rendered frames'): written demo by demo, read frame by frame."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pipeline.atomic import require_room
from pipeline.errors import PipelineError, brief
from pipeline.formats.hdf5 import create_hdf5, damaged, dataset, is_count, open_hdf5, seal

FORMAT = "rrl-pipe/frames"
# frames files, stores and policies that record no scene were rendered from Gymnasium's scene as shipped
LEGACY_SCENE = "gymnasium"
# every dataset of a data/demo_<i> group: docs/formats.md's table lists exactly these (tests/test_docs.py)
FIELDS = ("frames/<camera>", "proprio", "actions", "rewards", "goal_achieved", "replay_drift")


class FramesWriter:
    """Creates one group per demo; frames are chunked one frame per chunk (random access for the encoder)."""

    def __init__(self, path: Path, attrs: dict[str, Any], cameras: tuple[str, ...], size: int):
        self.path, self.cameras, self.size = path, cameras, size
        self.file = create_hdf5(path)
        self.file.attrs["format"] = FORMAT
        for key, value in attrs.items():
            self.file.attrs[key] = value
        self.data = self.file.create_group("data", track_order=True)

    def add_demo(self, index: int, n_frames: int, arrays: dict[str, np.ndarray], attrs: dict[str, Any]) -> h5py.Group:
        require_room(self.path, sum(np.asarray(v).nbytes for v in arrays.values()))
        g = self.data.create_group(f"demo_{index}", track_order=True)
        for name, value in arrays.items():
            g.create_dataset(name, data=value, fletcher32=True)
        frames = g.create_group("frames", track_order=True)
        shape = (n_frames, self.size, self.size, 3)
        for camera in self.cameras:
            frames.create_dataset(camera, shape=shape, dtype=np.uint8, chunks=(1, self.size, self.size, 3), fletcher32=True)
        for key, value in attrs.items():
            g.attrs[key] = value
        return g

    def write_frames(self, index: int, start: int, frames: np.ndarray) -> None:
        """frames: (n, n_cameras, H, W, 3) for steps start..start+n of demo `index`."""
        require_room(self.path, frames.nbytes)
        group = self.data[f"demo_{index}/frames"]
        for c, camera in enumerate(self.cameras):
            group[camera][start : start + len(frames)] = frames[:, c]

    def close(self, n_demos: int) -> None:
        self.file.attrs["n_demos"] = n_demos
        self.file.close()
        seal(self.path)


class FramesFile:
    """Read access, the whole structure checked on open: every demo group, camera dataset and length.

    A frames file with a missing demo or camera, frames that are not (n_frames, H, W, 3) uint8, or an `n_frames`
    that is not the data's length is refused here with one line, before an encode or a training run starts.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.file = open_hdf5(self.path, "frames file", sealed=True)
        try:
            with damaged(self.path, "frames file"):
                self._check()
        except PipelineError:
            self.file.close()
            raise

    def _check(self) -> None:
        if self.file.attrs.get("format") != FORMAT or "n_demos" not in self.file.attrs:
            raise PipelineError(f"{self.path}: not a complete rrl-pipe frames file")
        self.attrs = {k: _plain(v) for k, v in self.file.attrs.items()}
        cameras, n_demos = self.attrs.get("cameras"), self.attrs["n_demos"]
        if not isinstance(cameras, list) or not cameras or not all(isinstance(c, str) for c in cameras):
            raise PipelineError(f"{self.path}: attribute cameras is {brief(cameras)}, not a list of camera names")
        if not is_count(n_demos):
            raise PipelineError(f"{self.path}: attribute n_demos is {brief(n_demos)}, not a count of demos")
        self.cameras: list[str] = cameras
        self.n_demos = n_demos
        sizes = set()
        for i in range(n_demos):
            where = f"{self.path}: data/demo_{i}"
            group = self.file.get(f"data/demo_{i}")
            if not isinstance(group, h5py.Group):
                raise PipelineError(f"{where} is missing (the file's n_demos counts it)")
            n_frames = _plain(group.attrs.get("n_frames"))
            if not is_count(n_frames):
                raise PipelineError(f"{where}: attribute n_frames is {brief(n_frames)}, not a frame count")
            for camera in cameras:
                ds = dataset(group, f"frames/{camera}", where, "biuf")
                if ds.dtype != np.uint8 or ds.ndim != 4 or ds.shape[-1] != 3 or ds.shape[0] != n_frames:
                    raise PipelineError(f"{where}/frames/{camera} has shape {ds.shape} and dtype {ds.dtype}: expected "
                                        f"(n_frames = {n_frames}, H, W, 3) uint8")
                sizes.add(ds.shape[1:3])
            for key, rows in (("proprio", n_frames), ("actions", n_frames - 1)):
                ds = dataset(group, key, where, "f")
                if ds.ndim != 2 or ds.shape[0] != rows:
                    raise PipelineError(f"{where}/{key}: shape {ds.shape}, expected ({rows}, ...)")
        if len(sizes) != 1:
            raise PipelineError(f"{self.path}: frames of several sizes {sorted(sizes)}")
        self.frame_size: tuple[int, int] = sizes.pop()  # (H, W) of every frame
        self.scene: str = str(self.attrs.get("scene", LEGACY_SCENE))

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

    def __enter__(self) -> FramesFile:
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
