"""Demonstrations from a Minari dataset directory, read with h5py only (the minari package is never imported).

Layout read, as the minari package (0.5) writes it: `<dataset_dir>/data/metadata.json` (the env it was recorded in)
beside `<dataset_dir>/data/main_data.hdf5`, groups `episode_<i>` with `observations (N+1, obs_dim)` (or a
group holding an `observation` dataset, for dict observation spaces), `actions (N, A)`, `rewards (N,)`,
`terminations (N,)`, `truncations (N,)`, optional `infos/`. The D4RL Adroit datasets in Minari were made with a
step callback that adds `env.get_env_state()` to each step (Farama minari-dataset-generation-scripts,
AdroitStepDataCallback), stored as a `state` group (`qpos`, `qvel`, `door_body_pos` / `board_pos` /
`desired_orien` / `obj_pos`+`target_pos`), either at the episode's top level or under `infos/`. When such
states are present with one row per observation they are used as recorded (state_origin="recorded");
otherwise the states are reconstructed from the observations exactly as for the hand_dapg human demos.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pipeline.demos.obs_layout import OBS_DIM
from pipeline.demos.reconstruct import KinematicScene, env_state_from_source
from pipeline.demos.recorded import episode_from_observations, states_from_recorded
from pipeline.errors import PipelineError, require_finite
from pipeline.formats.episode import Episode
from pipeline.formats.hdf5 import open_hdf5
from pipeline.tasks.spec import REWARD_MODES, get_task


def _dataset(group: h5py.Group, key: str, where: str) -> np.ndarray:
    if key not in group:
        raise PipelineError(f"{where}: lacks '{key}'")
    item = group[key]
    if isinstance(item, h5py.Group):
        raise PipelineError(f"{where}: '{key}' is a group, expected an array")
    try:
        return item[()]
    except OSError as exc:
        raise PipelineError(f"{where}: '{key}' cannot be read ({exc})") from None


def _observations(group: h5py.Group, where: str) -> np.ndarray:
    if "observations" not in group:
        raise PipelineError(f"{where}: lacks 'observations'")
    item = group["observations"]
    if isinstance(item, h5py.Group):  # a Dict observation space: the state vector is its 'observation' entry
        if "observation" not in item:
            raise PipelineError(
                f"{where}: observations is a dict with keys {', '.join(item.keys())}; expected an 'observation' entry"
            )
        return _dataset(item, "observation", f"{where}/observations")
    return _dataset(group, "observations", where)


def _state_group(group: h5py.Group) -> h5py.Group | None:
    for candidate in ("state", "infos/state", "infos"):
        if candidate in group and isinstance(group[candidate], h5py.Group) and "qpos" in group[candidate]:
            return group[candidate]
    return None


def dataset_files(path: Path) -> tuple[Path, Path]:
    """(main_data.hdf5, metadata.json) of the Minari dataset at `path`: the dataset's folder (minari writes both
    files into its data/, e.g. ~/.minari/datasets/D4RL/door/human-v2/data/) or that data/ folder itself."""
    for data_dir in (path / "data", path):
        if (data_dir / "main_data.hdf5").is_file():
            return data_dir / "main_data.hdf5", data_dir / "metadata.json"
    raise PipelineError(f"{path}: not a Minari dataset (expected data/main_data.hdf5 and data/metadata.json in it, "
                        f"as minari writes them)")


def check_env_id(meta_path: Path, env_id: str, task: str) -> None:
    """The dataset's metadata.json names the env it was recorded in (`env_spec`, a JSON string of gymnasium's
    EnvSpec, or its dict): it must be the task's env, version aside (D4RL's Adroit data: AdroitHand*-v1)."""
    try:
        meta = json.loads(meta_path.read_text())
        env_spec = meta.get("env_spec")
        found = (json.loads(env_spec) if isinstance(env_spec, str) else env_spec or {}).get("id")
    except FileNotFoundError:
        raise PipelineError(f"{meta_path}: no such file (every Minari dataset has one; it names the env)") from None
    except (OSError, ValueError, AttributeError) as exc:
        raise PipelineError(f"{meta_path}: not Minari metadata ({exc.__class__.__name__})") from None
    if not isinstance(found, str):
        raise PipelineError(f"{meta_path}: names no env id (env_spec.id)")
    if found.split("-v")[0] != env_id.split("-v")[0]:
        raise PipelineError(f"{meta_path}: dataset {meta.get('dataset_id', '?')} was recorded in {found}, "
                            f"not {env_id} (task {task})")


def load_minari(dataset_dir: str | os.PathLike, task: str, reward_mode: str) -> list[Episode]:
    """Episodes of a Minari dataset of an Adroit task, in the pipeline's Episode form."""
    spec = get_task(task)
    if reward_mode not in REWARD_MODES:
        raise PipelineError(f"unknown reward mode {reward_mode!r}; valid: {', '.join(REWARD_MODES)}")
    path, meta_path = dataset_files(Path(dataset_dir))
    check_env_id(meta_path, spec.env_id, task)
    f = open_hdf5(path, "file (a Minari dataset's episodes)")
    scene = KinematicScene(spec)
    episodes: list[Episode] = []
    with f:
        names = sorted(
            (k for k in f.keys() if re.fullmatch(r"episode_\d+", k)), key=lambda k: int(k.split("_")[1])
        )
        if not names:
            raise PipelineError(f"{path}: no episode_<i> groups (not a Minari dataset?)")
        for name in names:
            where = f"{path}: {name}"
            try:
                episodes.append(_episode(f[name], spec.name, reward_mode, where, scene))
            except (OSError, KeyError) as exc:
                raise PipelineError(f"{where}: unreadable ({exc})") from None
    return episodes


def _episode(g: h5py.Group, task: str, reward_mode: str, where: str, scene: KinematicScene) -> Episode:
    spec = get_task(task)
    obs = np.asarray(_observations(g, where), dtype=np.float64)
    actions = np.asarray(_dataset(g, "actions", where), dtype=np.float64)
    rewards = np.asarray(_dataset(g, "rewards", where), dtype=np.float64).reshape(-1)
    terminations = np.asarray(_dataset(g, "terminations", where), dtype=bool).reshape(-1)
    truncations = np.asarray(_dataset(g, "truncations", where), dtype=bool).reshape(-1)
    require_finite(where, observations=obs, actions=actions, rewards=rewards)
    if actions.ndim != 2 or actions.shape[1] != spec.action_dim:
        raise PipelineError(f"{where}: actions have shape {actions.shape}, task {task} needs (N, {spec.action_dim})")
    N = actions.shape[0]
    if obs.ndim != 2 or obs.shape != (N + 1, OBS_DIM[task]):
        raise PipelineError(f"{where}: observations have shape {obs.shape}, expected ({N + 1}, {OBS_DIM[task]})")
    for label, arr in (("rewards", rewards), ("terminations", terminations), ("truncations", truncations)):
        if arr.shape != (N,):
            raise PipelineError(f"{where}: {label} has shape {arr.shape}, expected ({N},)")

    states = None
    note = None
    sg = _state_group(g)
    if sg is not None:
        try:
            raw: dict[str, Any] = {k: sg[k][()] for k in sg.keys() if isinstance(sg[k], h5py.Dataset)}
        except OSError as exc:
            raise PipelineError(f"{where}: state infos cannot be read ({exc})") from None
        qpos, qvel = raw.get("qpos"), raw.get("qvel")
        if qpos is not None and qvel is not None and len(qpos) == N + 1 and len(qvel) == N + 1:
            env_state = {}
            rows = [env_state_from_source(task, {k: v[t] for k, v in raw.items()}) for t in range(N + 1)]
            for key in rows[0]:
                env_state[key] = np.stack([r[key] for r in rows])
            if task == "relocate" and "obj_body_pos" in env_state:
                # the object's body position is a constant model parameter; its world position moves
                env_state["obj_body_pos"] = np.repeat(env_state["obj_body_pos"][:1], N + 1, axis=0)
            states = states_from_recorded(task, qpos, qvel, env_state, obs, where=where, scene=scene)
        else:
            note = f"state infos with {len(qpos) if qpos is not None else 0} rows ignored (need {N + 1})"

    ep = episode_from_observations(
        task, obs, actions, rewards, reward_mode, where=where, states=states, scene=scene
    )
    ep.terminated = terminations
    ep.truncated = truncations
    if "seed" in g.attrs:
        try:
            ep.seed = int(g.attrs["seed"])
        except (TypeError, ValueError):
            pass
    if note:
        ep.attrs["state_note"] = note
    if reward_mode == "dense":
        ep.attrs["dense_reward_origin"] = "recorded (Minari dataset)"
    return ep
