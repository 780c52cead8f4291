"""Export to a LeRobot v3 dataset, written through the lerobot package's own dataset API (`LeRobotDataset.create`,
`add_frame`, `save_episode`, `finalize`), so that `LeRobotDataset(repo_id, root=...)` opens it from the folder.

One LeRobot frame per step t of a demo: the observation the action was taken in, the action, and what followed it
(`next.reward`, `next.done` = terminated, `next.success` = the goal after the step). Observation keys:
`observation.state` (the Gymnasium state observation), `observation.qpos`, `observation.qvel`,
`observation.proprio` (the hand's 24 joints), `observation.embedding.<encoder>_<camera>` (one column per encoder and
camera) and, with frames, `observation.images.<camera>` (PNG images in the parquet files, not video: exact pixels,
no encoder needed). The demo's last observation, which no action follows, has no frame (docs/export.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.atomic import atomic_output
from pipeline.errors import PipelineError
from pipeline.export.source import ExportEpisode, ExportSource

KIND, NAME = "dir", "LeRobot dataset"
# Gymnasium-Robotics' Adroit envs step 5 physics steps of 2 ms (their metadata's render_fps): 100 steps a second
ADROIT_FPS = 100


def recognise(path: Path) -> bool:
    """A LeRobot dataset folder (what an export may replace): meta/info.json naming its codebase version."""
    try:
        return "codebase_version" in json.loads((path / "meta" / "info.json").read_text())
    except (OSError, ValueError):
        return False


def _dataset_class() -> Any:
    try:
        from lerobot.datasets.lerobot_dataset import LeRobotDataset
    except ImportError:
        raise PipelineError("the LeRobot export writes through the lerobot package: pip install --no-deps -r "
                            "requirements/interop.txt (lerobot 0.4.4 and the parts of its stack it reads with)") from None

    class ExportDataset(LeRobotDataset):
        """lerobot 0.4.4 with numpy >= 2.4 cannot save a feature of shape (1,) (huggingface/lerobot#3343:
        float(np.array([x])) now raises): each such column is handed over as (T,), which it stores the same way."""

        def _save_episode_data(self, episode_buffer: dict) -> Any:
            for key, feature in self.features.items():
                value = episode_buffer.get(key)
                if tuple(feature["shape"]) == (1,) and isinstance(value, np.ndarray) and value.ndim == 2:
                    episode_buffer[key] = value[:, 0]
            return super()._save_episode_data(episode_buffer)

    return ExportDataset


def frame_columns(item: ExportEpisode) -> dict[str, np.ndarray]:
    """Every column of one demo, T rows each, keyed as LeRobot names them."""
    ep, T = item.episode, item.episode.length
    # LeRobot keeps every float column as float32 (it would store our float64 states so): cast here, said in the docs
    columns = {"action": ep.actions.astype(np.float32), "observation.state": ep.obs[:T].astype(np.float32),
               "observation.qpos": ep.qpos[:T].astype(np.float32), "observation.qvel": ep.qvel[:T].astype(np.float32)}
    if item.proprio is not None:
        columns["observation.proprio"] = item.proprio[:T]
    columns.update({f"observation.embedding.{name}": rows[:T] for name, rows in item.features.items()})
    columns.update({f"observation.images.{camera}": frames[:T] for camera, frames in item.images.items()})
    columns["next.reward"] = ep.rewards.reshape(T, 1).astype(np.float32)
    columns["next.done"] = ep.terminated.reshape(T, 1)
    columns["next.success"] = ep.goal_achieved.reshape(T, 1)
    return columns


def _features(columns: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    features: dict[str, dict[str, Any]] = {}
    for key, rows in columns.items():
        if key.startswith("observation.images."):
            features[key] = {"dtype": "image", "shape": rows.shape[1:], "names": ["height", "width", "channels"]}
        else:
            features[key] = {"dtype": str(rows.dtype), "shape": rows.shape[1:], "names": None}
    return features


def write(source: ExportSource, out: Path, dataset_id: str = "", progress: Callable[[int], object] | None = None) -> Path:
    """Every demo of `source` as the LeRobot dataset folder `out`, written completely or not at all."""
    dataset_class = _dataset_class()
    repo_id = dataset_id or f"rrl-pipe/{source.task}-{source.attrs.get('source', 'demos')}"
    with atomic_output(out) as tmp:
        dataset = None
        for item in source:
            columns = frame_columns(item)
            if dataset is None:  # the first demo's columns name the features (every demo has the same)
                dataset = dataset_class.create(repo_id=repo_id, fps=ADROIT_FPS, features=_features(columns), root=tmp,
                                               robot_type="adroit_hand", use_videos=False)
            for t in range(item.episode.length):
                dataset.add_frame({**{key: rows[t] for key, rows in columns.items()}, "task": source.text})
            dataset.save_episode()
            if progress is not None:
                progress(1)
        assert dataset is not None  # open_source refuses a demo file without demos
        dataset.finalize()
    return out
