"""Export to robomimic's HDF5 layout, the file its BC, BC-RNN, IQL and diffusion trainers read (robomimic 0.3's
`SequenceDataset`); written with h5py, robomimic itself is not needed to write it.

Layout: `data/demo_<i>` (attribute `num_samples` = T) holding `actions (T, A)`, `rewards (T,)`, `dones (T,)`,
`states (T, S)`, `obs/<key> (T, ...)` and `next_obs/<key> (T, ...)` (the states after each action); `data` carries
`total` (the sum of T) and `env_args` (JSON: the env's id, type 2 = a Gym env). docs/export.md lists which of our
fields becomes which key and what is lost.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from pipeline.atomic import atomic_output, require_room
from pipeline.export.source import ExportEpisode, ExportSource

KIND, NAME = "file", "robomimic HDF5 file"
GYM_ENV_TYPE = 2  # robomimic.envs.env_base.EnvType.GYM_TYPE: robomimic makes the env with gym.make(env_name)


def recognise(path: Path) -> bool:
    """A robomimic dataset file (what an export may replace): HDF5 whose `data` group names its env."""
    try:
        with h5py.File(path, "r") as f:
            return isinstance(f.get("data"), h5py.Group) and "env_args" in f["data"].attrs
    except OSError:
        return False


def observations(item: ExportEpisode) -> dict[str, np.ndarray]:
    """The observation keys of one demo, each with T+1 rows: the Gymnasium state observation, the simulator's joint
    positions and velocities, the hand's joints (frames file), each encoder's features per camera, the frames."""
    ep = item.episode
    return {"state": ep.obs, "qpos": ep.qpos, "qvel": ep.qvel, **item.extra_observations()}


def simulator_states(item: ExportEpisode) -> tuple[np.ndarray, list[list]]:
    """(T+1, S): qpos, qvel and the randomised model parameters side by side, with the layout [[name, width], ...]
    (robomimic's `states` are what its env's reset_to takes; for an Adroit env that is this dict, flattened)."""
    ep = item.episode
    parts = {"qpos": ep.qpos, "qvel": ep.qvel, **{k: v.reshape(len(v), -1) for k, v in ep.env_state.items()}}
    return np.concatenate(list(parts.values()), axis=1), [[name, int(v.shape[1])] for name, v in parts.items()]


def write(source: ExportSource, out: Path, dataset_id: str = "", progress: Callable[[int], object] | None = None) -> Path:
    """Every demo of `source` as robomimic's HDF5 at `out`, written completely or not at all (robomimic files name no
    dataset: `dataset_id` is unused)."""
    with atomic_output(out) as tmp, h5py.File(tmp, "w") as f:
        data = f.create_group("data")
        total = 0
        layout: list[list] = []
        for i, item in enumerate(source):
            ep = item.episode
            obs = observations(item)
            states, layout = simulator_states(item)
            require_room(tmp, 2 * sum(v.nbytes for v in obs.values()))
            g = data.create_group(f"demo_{i}")
            g.attrs.update({"num_samples": ep.length, "seed": ep.seed, "success": bool(ep.success)})
            g.create_dataset("actions", data=ep.actions)
            g.create_dataset("rewards", data=ep.rewards)
            g.create_dataset("dones", data=ep.terminated.astype(np.int64))
            g.create_dataset("truncated", data=ep.truncated.astype(np.int64))
            g.create_dataset("goal_achieved", data=ep.goal_achieved.astype(np.int64))
            g.create_dataset("states", data=states[:-1])
            for key, rows in obs.items():
                # images: one per chunk (random access), gzip as robomimic's own image datasets (obs and next_obs
                # hold each frame twice; rendered scenes shrink several-fold)
                packing = {"chunks": (1, *rows.shape[1:]), "compression": "gzip", "compression_opts": 4} if rows.ndim == 4 else {}
                g.create_dataset(f"obs/{key}", data=rows[:-1], **packing)
                g.create_dataset(f"next_obs/{key}", data=rows[1:], **packing)
            total += ep.length
            if progress is not None:
                progress(1)
        data.attrs["total"] = total
        data.attrs["env_args"] = json.dumps({"env_name": source.env_id, "type": GYM_ENV_TYPE, "env_kwargs": {}})
        data.attrs["state_layout"] = json.dumps(layout)
        data.attrs["exported_by"] = "rrl-pipe"
        data.attrs["source"] = json.dumps({"demos": source.demos_path.name, "task": source.task,
                                           "reward_mode": source.attrs.get("reward_mode"),
                                           "features": [p.name for p in source.feature_paths]})
    return out
