"""The demo HDF5 file (README, 'Demonstrations'): write atomically, read with clear errors."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pipeline.atomic import atomic_output
from pipeline.demos.episode import Episode
from pipeline.errors import PipelineError
from pipeline.hdf5 import open_hdf5
from pipeline.tasks.spec import get_task

FORMAT_VERSION = 1
_ARRAYS = ("actions", "rewards", "terminated", "truncated", "goal_achieved", "qpos", "qvel", "obs")


def write_demos(
    path: str | os.PathLike,
    task: str,
    source: str,
    episodes: Sequence[Episode],
    reward_mode: str,
    attrs: dict[str, Any] | None = None,
) -> Path:
    """Write `episodes` as data/demo_<i> groups. Byte-stable: no timestamps, no absolute paths."""
    spec = get_task(task)
    if not episodes:
        raise PipelineError(f"{path}: no episodes to write")
    for i, ep in enumerate(episodes):  # refuse before touching the disk
        ep.validate(spec.action_dim, spec.nq, spec.nq, where=f"{path}: demo {i}")
    with atomic_output(path) as tmp:
        # track_order + fixed libver keep the file layout identical between runs with the same inputs
        with h5py.File(tmp, "w", libver=("v110", "v110"), track_order=True) as f:
            f.attrs["format"] = "rrl-pipe/demos"
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["task"] = task
            f.attrs["env_id"] = spec.env_id
            f.attrs["source"] = source
            f.attrs["reward_mode"] = reward_mode
            f.attrs["n_demos"] = len(episodes)
            f.attrs["success_rate"] = float(np.mean([e.success for e in episodes]))
            for key, value in (attrs or {}).items():
                f.attrs[key] = value
            data = f.create_group("data", track_order=True)
            for i, ep in enumerate(episodes):
                g = data.create_group(f"demo_{i}", track_order=True)
                for name in _ARRAYS:
                    g.create_dataset(name, data=getattr(ep, name))
                es = g.create_group("env_state", track_order=True)
                for key, value in ep.env_state.items():
                    es.create_dataset(key, data=value)
                g.attrs["task"] = task
                g.attrs["source"] = source
                g.attrs["seed"] = ep.seed
                g.attrs["success"] = bool(ep.success)
                g.attrs["length"] = ep.length
                for key, value in ep.attrs.items():
                    g.attrs[key] = value
    return Path(path)


def read_demos(path: str | os.PathLike, task: str | None = None) -> tuple[dict[str, Any], list[Episode]]:
    """All episodes of a demo file, checked against the task's shapes. Raises PipelineError naming the file."""
    path = Path(path)
    with open_hdf5(path, "demo file") as f:
        if f.attrs.get("format") != "rrl-pipe/demos" or "data" not in f:
            raise PipelineError(f"{path}: not an rrl-pipe demo file (no 'format' attribute or 'data' group)")
        attrs = {k: _plain(v) for k, v in f.attrs.items()}
        if task is not None and attrs["task"] != task:
            raise PipelineError(f"{path}: holds demos of task {attrs['task']!r}, expected {task!r}")
        spec = get_task(attrs["task"])
        episodes = []
        for i in range(int(attrs["n_demos"])):
            name = f"demo_{i}"
            if name not in f["data"]:
                raise PipelineError(f"{path}: data/{name} is missing (file says {attrs['n_demos']} demos)")
            g = f["data"][name]
            try:
                arrays = {k: g[k][()] for k in _ARRAYS}
                env_state = {k: g["env_state"][k][()] for k in g["env_state"]}
            except (KeyError, OSError) as exc:
                raise PipelineError(f"{path}: data/{name} is incomplete ({exc})") from None
            ep_attrs = {k: _plain(v) for k, v in g.attrs.items()}
            ep = Episode(
                **arrays,
                env_state=env_state,
                seed=int(ep_attrs.pop("seed")),
                success=bool(ep_attrs.pop("success")),
                attrs={k: v for k, v in ep_attrs.items() if k not in ("task", "source", "length")},
            )
            ep.validate(spec.action_dim, spec.nq, spec.nq, where=f"{path}: data/{name}")
            episodes.append(ep)
    return attrs, episodes


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value
