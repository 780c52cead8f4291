"""What an export carries: a demo file's episodes, with the cached features of any feature stores and optionally the
frames they were encoded from, checked to belong together before anything is written.

The three files link by content: the frames file records the sha256 of the demo file it rendered
(`demos_sha256`), each feature store the sha256 of the frames file it encoded (`frames_sha256`). A store of other
frames, or frames of other demos, would pair features with the wrong steps: refused with one line naming both.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.checksum import file_sha256
from pipeline.errors import PipelineError
from pipeline.formats.demos import read_demos
from pipeline.formats.episode import Episode
from pipeline.formats.features import FeatureStore
from pipeline.formats.frames import FramesFile
from pipeline.tasks.spec import get_task

# what each Adroit task asks of the hand, for the exports that carry a task description (LeRobot's per-frame "task")
TASK_TEXT = {
    "door": "open the door",
    "hammer": "hammer the nail into the board",
    "pen": "turn the pen to the target orientation",
    "relocate": "move the ball to the target",
}


@dataclass
class ExportEpisode:
    """One demo with everything exported beside it; every per-state array has T+1 rows, as in the demo file."""

    episode: Episode
    features: dict[str, np.ndarray] = field(default_factory=dict)  # "<encoder>_<camera>" -> (T+1, d) float32
    proprio: np.ndarray | None = None  # (T+1, 24) the hand's joint positions, from the frames file
    images: dict[str, np.ndarray] = field(default_factory=dict)  # camera -> (T+1, H, W, 3) uint8

    def extra_observations(self) -> dict[str, np.ndarray]:
        """What the frames file and the stores add to the demo's own states, under the names robomimic's and Minari's
        exports give them: `proprio`, `<encoder>_<camera>`, `<camera>_image`."""
        extras = {"proprio": self.proprio} if self.proprio is not None else {}
        extras.update(self.features)
        extras.update({f"{camera}_image": frames for camera, frames in self.images.items()})
        return extras


@dataclass
class ExportSource:
    task: str
    demos_path: Path
    attrs: dict[str, Any]  # the demo file's attributes
    episodes: list[Episode]
    frames_path: Path | None
    stores: list[FeatureStore]  # opened (and verified) once, by open_source
    with_images: bool
    feature_dims: dict[str, int]  # "<encoder>_<camera>" -> d
    cameras: list[str]  # the frames file's cameras ([] without one)

    @property
    def env_id(self) -> str:
        return get_task(self.task).env_id

    @property
    def feature_paths(self) -> list[Path]:
        return [store.path for store in self.stores]

    @property
    def text(self) -> str:
        return TASK_TEXT[self.task]

    def __iter__(self) -> Iterator[ExportEpisode]:
        """Episode by episode, so that frames are read one demo at a time (a task's frames can be gigabytes)."""
        frames = FramesFile(self.frames_path) if self.frames_path is not None else None
        try:
            for i, episode in enumerate(self.episodes):
                item = ExportEpisode(episode)
                for store in self.stores:
                    item.features.update(_split_cameras(store, store.episode(i)))
                if frames is not None:
                    item.proprio = np.asarray(frames.demo(i)["proprio"][()], dtype=np.float32)
                    if self.with_images:
                        item.images = {camera: frames.frames(i, camera)[()] for camera in frames.cameras}
                yield item
        finally:
            if frames is not None:
                frames.close()


def open_source(demos: str | Path, frames: str | Path | None = None, features: Sequence[str | Path] = (),
                with_images: bool = False) -> ExportSource:
    """The demo file, and the frames file and feature stores made from it, checked to belong together."""
    demos_path = Path(demos)
    attrs, episodes = read_demos(demos_path)
    task = str(attrs["task"])
    if (features or with_images) and frames is None:
        raise PipelineError("features and images are exported with the frames file they came from: give --frames")
    frames_path = Path(frames) if frames is not None else None
    cameras: list[str] = []
    stores: list[FeatureStore] = []
    dims: dict[str, int] = {}
    if frames_path is not None:
        with FramesFile(frames_path) as ff:
            _check_link(ff.attrs.get("demos_sha256"), file_sha256(demos_path), frames_path, demos_path, "rendered")
            if ff.n_demos != len(episodes) or ff.lengths() != [ep.length + 1 for ep in episodes]:
                raise PipelineError(f"{frames_path}: {ff.n_demos} demos of other lengths than the {len(episodes)} "
                                    f"of {demos_path}")
            cameras = list(ff.cameras)
        frames_sha = file_sha256(frames_path)
        for path in map(Path, features):
            store = FeatureStore(path)
            _check_link(store.attrs.get("frames_sha256"), frames_sha, path, frames_path, "encoded")
            if len(store.episode_ends) != len(episodes):
                raise PipelineError(f"{path}: {len(store.episode_ends)} episodes, {demos_path} has {len(episodes)}")
            for name in _column_names(store):
                if name in dims:
                    raise PipelineError(f"{path}: a second store of {name.rsplit('_', 1)[0]} (one per encoder)")
                dims[name] = int(store.attrs["feature_dim_per_camera"])
            stores.append(store)
    return ExportSource(task, demos_path, attrs, episodes, frames_path, stores, with_images, dims, cameras)


def _check_link(recorded: object, actual: str, path: Path, source: Path, verb: str) -> None:
    if recorded != actual:
        raise PipelineError(f"{path}: {verb} from another file than {source} (its recorded sha256 "
                            f"{str(recorded)[:12]}... is not {actual[:12]}...)")


def _column_names(store: FeatureStore) -> list[str]:
    return [f"{store.attrs['model']}_{camera}" for camera in store.attrs["cameras"]]


def _split_cameras(store: FeatureStore, rows: np.ndarray) -> dict[str, np.ndarray]:
    """A store's row is its cameras' features side by side (docs/formats.md): one (T+1, d) array per camera."""
    width = int(store.attrs["feature_dim_per_camera"])
    return {name: np.asarray(rows[:, c * width : (c + 1) * width], dtype=np.float32)
            for c, name in enumerate(_column_names(store))}
