"""The demo HDF5 file (docs/formats.md, 'Demonstrations'): write atomically, read with clear errors."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pipeline.atomic import atomic_output, require_room
from pipeline.errors import PipelineError, brief
from pipeline.formats.episode import Episode
from pipeline.formats.hdf5 import create_hdf5, damaged, dataset, is_count, open_hdf5, seal
from pipeline.tasks.spec import get_task

FORMAT_VERSION = 1
_ARRAYS = ("actions", "rewards", "terminated", "truncated", "goal_achieved", "qpos", "qvel", "obs")
# every dataset of a data/demo_<i> group: docs/formats.md's table lists exactly these (tests/test_docs.py)
FIELDS = (*_ARRAYS, "env_state/<key>")


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
    require_room(path, sum(np.asarray(getattr(ep, name)).nbytes for ep in episodes for name in _ARRAYS)
                 + sum(np.asarray(v).nbytes for ep in episodes for v in ep.env_state.values()))
    with atomic_output(path) as tmp:
        # track_order + fixed libver keep the file layout identical between runs with the same inputs
        with create_hdf5(tmp) as f:
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
                    g.create_dataset(name, data=getattr(ep, name), fletcher32=True)
                es = g.create_group("env_state", track_order=True)
                for key, value in ep.env_state.items():
                    es.create_dataset(key, data=value, fletcher32=True)
                g.attrs["task"] = task
                g.attrs["source"] = source
                g.attrs["seed"] = ep.seed
                g.attrs["success"] = bool(ep.success)
                g.attrs["length"] = ep.length
                for key, value in ep.attrs.items():
                    g.attrs[key] = value
        seal(tmp)
    return Path(path)


def read_demos(path: str | os.PathLike, task: str | None = None) -> tuple[dict[str, Any], list[Episode]]:
    """All episodes of a demo file, checked against the task's shapes, dtypes and value ranges.

    Every problem is a PipelineError of one line naming the file, the demo and the key: a NaN action or an
    integer qpos is refused here, not rendered or trained on.
    """
    path = Path(path)
    with open_hdf5(path, "demo file", sealed=True) as f, damaged(path, "demo file"):
        if f.attrs.get("format") != "rrl-pipe/demos" or not isinstance(f.get("data"), h5py.Group):
            raise PipelineError(f"{path}: not an rrl-pipe demo file (no 'format' attribute or 'data' group)")
        attrs = {k: _plain(v) for k, v in f.attrs.items()}
        for key in ("task", "reward_mode", "n_demos"):
            if key not in attrs:
                raise PipelineError(f"{path}: lacks the attribute {key!r}")
        if not isinstance(attrs["task"], str):
            raise PipelineError(f"{path}: attribute task is {brief(attrs['task'])}, not a task name")
        if task is not None and attrs["task"] != task:
            raise PipelineError(f"{path}: holds demos of task {attrs['task']!r}, expected {task!r}")
        n_demos = attrs["n_demos"]
        if not is_count(n_demos):
            raise PipelineError(f"{path}: attribute n_demos is {brief(n_demos)}, not a count of demos")
        spec = get_task(attrs["task"])
        episodes = [_read_episode(f["data"], f"demo_{i}", spec, f"{path}: data/demo_{i}") for i in range(n_demos)]
    return attrs, episodes


def _read_episode(data: h5py.Group, name: str, spec, where: str) -> Episode:
    g = data.get(name)
    if g is None:
        raise PipelineError(f"{where} is missing (the file's n_demos counts it)")
    if not isinstance(g, h5py.Group):
        raise PipelineError(f"{where} is a dataset, not a demo group")
    arrays = {k: _float_array(g, k, where) for k in ("actions", "rewards", "obs", "qpos", "qvel")}
    arrays.update({k: _flags(g, k, where) for k in ("terminated", "truncated", "goal_achieved")})
    if not isinstance(g.get("env_state"), h5py.Group):
        raise PipelineError(f"{where}: lacks the group 'env_state'")
    env_state = {}
    for param in spec.state_params:
        value = _float_array(g["env_state"], param.key, f"{where}/env_state")
        if value.ndim != 2 or value.shape[1] != param.width:
            raise PipelineError(f"{where}/env_state/{param.key}: shape {value.shape}, expected (T+1, {param.width})")
        env_state[param.key] = value
    for key, ndim in {"actions": 2, "qpos": 2, "qvel": 2, "obs": 2}.items():
        if arrays[key].ndim != ndim:
            raise PipelineError(f"{where}/{key}: shape {arrays[key].shape}, expected {ndim} dimensions")
    ep_attrs = {k: _plain(v) for k, v in g.attrs.items()}
    for key in ("seed", "success"):
        if key not in ep_attrs:
            raise PipelineError(f"{where}: lacks the attribute {key!r}")
    if isinstance(ep_attrs["seed"], bool) or not isinstance(ep_attrs["seed"], int):
        raise PipelineError(f"{where}: attribute seed is {brief(ep_attrs['seed'])}, not an integer")
    ep = Episode(
        **arrays,
        env_state=env_state,
        seed=int(ep_attrs.pop("seed")),
        success=bool(ep_attrs.pop("success")),
        attrs={k: v for k, v in ep_attrs.items() if k not in ("task", "source", "length")},
    )
    ep.validate(spec.action_dim, spec.nq, spec.nq, where=where)
    return ep


def _float_array(group: h5py.Group, key: str, where: str) -> np.ndarray:
    """A float array over steps (integers are refused where the format says float); values: Episode.validate."""
    value = dataset(group, key, where, "f")[()]
    if value.ndim == 0:
        raise PipelineError(f"{where}/{key}: is a scalar, expected an array over steps")
    return value


def _flags(group: h5py.Group, key: str, where: str) -> np.ndarray:
    value = dataset(group, key, where, "biu")[()]
    if value.ndim != 1 or (value.dtype.kind != "b" and not np.isin(value, (0, 1)).all()):
        raise PipelineError(f"{where}/{key}: expected one 0/1 flag per step, got shape {value.shape}")
    return value.astype(bool)


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value
