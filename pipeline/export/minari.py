"""Export to a Minari dataset, written by the minari package itself (`create_dataset_from_buffers`), so that
`minari.load_dataset` and every Minari consumer read it, and `rrl-pipe make-demos --source minari` reads it back.

Each demo becomes an episode buffer as minari's DataCollector fills one: T+1 observations (the first from reset),
T actions, rewards, terminations and truncations, and per-step infos: `success` (the goal after each step, False
for the reset row) and `state`, the simulator state as Gymnasium-Robotics' get_env_state() names it (as in D4RL's
Adroit datasets on Minari). Without features the observation is the env's own Box; with them a Dict of
`observation` (the same vector), `proprio`, one entry per encoder and camera, and `<camera>_image` frames,
stored without minari's default JPEG encoding (which is lossy).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.atomic import atomic_output
from pipeline.demos.reconstruct import env_state_to_source
from pipeline.errors import PipelineError
from pipeline.export.source import ExportEpisode, ExportSource

KIND, NAME = "dir", "Minari dataset"


def recognise(path: Path) -> bool:
    """A Minari dataset folder (what an export may replace)."""
    return (path / "data" / "main_data.hdf5").is_file() and (path / "data" / "metadata.json").is_file()


def _minari() -> Any:
    try:
        import minari
        from minari.data_collector.episode_buffer import EpisodeBuffer
    except ImportError:
        raise PipelineError("the Minari export writes through the minari package: pip install 'minari[hdf5]==0.5.4'") from None
    return minari, EpisodeBuffer


def _observation(item: ExportEpisode) -> np.ndarray | dict[str, np.ndarray]:
    extras = item.extra_observations()
    return {"observation": item.episode.obs, **extras} if extras else item.episode.obs


def _space(observation: np.ndarray | dict[str, np.ndarray]) -> Any:
    import gymnasium as gym

    def box(rows: np.ndarray) -> Any:
        if rows.dtype == np.uint8:
            return gym.spaces.Box(0, 255, rows.shape[1:], np.uint8)
        return gym.spaces.Box(-np.inf, np.inf, rows.shape[1:], rows.dtype.type)

    if isinstance(observation, dict):
        return gym.spaces.Dict({key: box(rows) for key, rows in observation.items()})
    return box(observation)


@contextlib.contextmanager
def _datasets_root(root: Path) -> Iterator[None]:
    """minari writes a dataset to $MINARI_DATASETS_PATH/<id>/: point it at our temporary folder meanwhile."""
    before = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(root)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MINARI_DATASETS_PATH")
        else:
            os.environ["MINARI_DATASETS_PATH"] = before


def default_dataset_id(source: ExportSource) -> str:
    return f"rrl-pipe/{source.task}/{source.attrs.get('source', 'demos')}-v0"


def write(source: ExportSource, out: Path, dataset_id: str = "", progress: Callable[[int], object] | None = None) -> Path:
    """Every demo of `source` as the Minari dataset folder `out` (its data/ holds main_data.hdf5 and
    metadata.json), written completely or not at all."""
    minari, EpisodeBuffer = _minari()
    dataset_id = dataset_id or default_dataset_id(source)
    buffers, space = [], None
    for i, item in enumerate(source):
        ep = item.episode
        observation = _observation(item)
        space = space or _space(observation)
        state = {"qpos": ep.qpos, "qvel": ep.qvel, **env_state_to_source(source.task, ep.qpos, ep.env_state)}
        infos = {"success": list(np.r_[False, ep.goal_achieved]), "state": {k: list(v) for k, v in state.items()}}
        obs_rows = ({k: list(v) for k, v in observation.items()} if isinstance(observation, dict)
                    else list(observation))
        buffers.append(EpisodeBuffer(id=i, seed=ep.seed if ep.seed >= 0 else None, observations=obs_rows,
                                     actions=list(ep.actions), rewards=list(ep.rewards),
                                     terminations=list(ep.terminated), truncations=list(ep.truncated), infos=infos))
        if progress is not None:
            progress(1)
    with atomic_output(out) as tmp, tempfile.TemporaryDirectory(dir=tmp.parent, prefix=f".{out.name}.") as root:
        with _datasets_root(Path(root)), warnings.catch_warnings():
            # minari's advice for publishing (an author, a code permalink): an export is a local hand-off
            warnings.filterwarnings("ignore", message=".*highly recommended", category=UserWarning)
            try:
                dataset = minari.create_dataset_from_buffers(
                    dataset_id, buffers, env=source.env_id, eval_env=source.env_id, observation_space=space, data_format="hdf5",
                    algorithm_name=str(source.attrs.get("source", "")) or None,
                    description=f"{source.task}: {source.text}; exported by rrl-pipe from {source.demos_path.name}",
                    jpeg_encoding=False)
            except ValueError as exc:  # minari's one-line complaints: a malformed id, a space the data does not fit
                raise PipelineError(f"{out}: minari refused the dataset: {exc}") from None
            Path(dataset.storage.data_path).parent.rename(tmp)
    return out
