"""Demonstrations from the DAPG project's files (aravindr93/hand_dapg): human demo pickles and expert policies.

Both are pickles made with mjrl installed; they are read with the allow-list unpickler (safe_pickle.py), never
with `pickle.load`, and never import mjrl.

- `<task>-v0_demos.pickle`: a list of dicts `observations (T, obs_dim)`, `actions (T, A)`, `rewards (T,)`,
  `init_state_dict`. No per-step simulator states were recorded: they are reconstructed from the observations
  (reconstruct.py). T observations give T-1 transitions (the last action has no recorded next state).
- `<task>-v0_policy.pickle`: an `mjrl.policies.gaussian_mlp.MLP`; its mean action is
  `(tanh MLP((obs - in_shift) / (in_scale + 1e-8))) * out_scale + out_shift` (mjrl's FCNetwork.forward).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.demos.obs_layout import OBS_DIM
from pipeline.demos.reconstruct import KinematicScene, env_state_from_source
from pipeline.demos.recorded import episode_from_observations
from pipeline.demos.rollout import ActionReplay, rollout
from pipeline.demos.safe_pickle import Activation, StandIn, safe_load
from pipeline.errors import PipelineError, brief, require_finite
from pipeline.formats.episode import Episode
from pipeline.tasks import TaskEnv, make_env
from pipeline.tasks.spec import REWARD_MODES, get_task


def _check_mode(reward_mode: str) -> None:
    if reward_mode not in REWARD_MODES:
        raise PipelineError(f"unknown reward mode {reward_mode!r}; valid: {', '.join(REWARD_MODES)}")


# --- human demonstrations -----------------------------------------------------------------------------------


HUMAN_STATES = ("replay", "recorded")


def load_human_demos(path: str | os.PathLike, task: str, reward_mode: str, states: str = "replay") -> list[Episode]:
    """Episodes of a hand_dapg `<task>-v0_demos.pickle`.

    states "replay" (RRL's examples/convertDemos.py, what the paper behaviour-cloned): every recorded action
    played open loop from `init_state_dict` in our env, so observations, states and rewards are our env's own.
    The dict's hand pose is the env's reset pose (arm joints 0), so the demos start where every rollout starts.
    (RRL's script took frame 0 from a plain reset before setting the state: a defect not copied here.)
    states "recorded" (hand_dapg's own BC data): states reconstructed from the recorded observations, whose hand
    starts 0.2-0.5 rad away from the reset pose on door's arm joints; T observations give T-1 transitions.
    Rewards: recorded ones for 'dense'/'dapg-dense' under "recorded" (mj_envs v0's); otherwise computed.
    """
    spec = get_task(task)
    _check_mode(reward_mode)
    if states not in HUMAN_STATES:
        raise PipelineError(f"unknown human demo states {states!r}; valid: {', '.join(HUMAN_STATES)}")
    path = Path(path)
    demos = safe_load(path)
    if not isinstance(demos, list) or not demos:
        raise PipelineError(f"{path}: expected a non-empty list of demo dicts, found {type(demos).__name__}")
    # one scene (recorded: a kinematic calculator) or one env (replay) serves every demo
    scene = KinematicScene(spec) if states == "recorded" else None
    replay_env = contextlib.closing(make_env(task, reward_mode)) if states == "replay" else contextlib.nullcontext()
    episodes = []
    with replay_env as env:
        for i, demo in enumerate(demos):
            where = f"{path}: demo {i}"
            if not isinstance(demo, dict):
                raise PipelineError(f"{where}: expected a dict, found {type(demo).__name__}")
            missing = [k for k in ("observations", "actions") if k not in demo]
            if missing:
                raise PipelineError(f"{where}: lacks {', '.join(missing)}")
            obs = np.asarray(demo["observations"], dtype=np.float64)
            acts = np.asarray(demo["actions"], dtype=np.float64)
            if acts.ndim != 2 or acts.shape[1] != spec.action_dim:
                raise PipelineError(f"{where}: actions have shape {acts.shape}, task {task} needs (T, {spec.action_dim})")
            if obs.ndim != 2 or obs.shape[1] != OBS_DIM[task]:
                raise PipelineError(f"{where}: observations have shape {obs.shape}, task {task} needs (T, {OBS_DIM[task]})")
            if obs.shape[0] != acts.shape[0] or obs.shape[0] < 2:
                raise PipelineError(f"{where}: {obs.shape[0]} observations for {acts.shape[0]} actions (need T >= 2 of each)")
            rewards = demo.get("rewards")
            require_finite(where, observations=obs, actions=acts,
                           rewards=None if rewards is None else np.asarray(rewards, dtype=np.float64))
            init = demo.get("init_state_dict") or {}
            if not isinstance(init, dict):
                raise PipelineError(f"{where}: init_state_dict is a {type(init).__name__}, not a dict")
            init_qpos = np.asarray(init["qpos"], float) if "qpos" in init else None
            if init_qpos is not None and init_qpos.shape != (spec.nq,):
                raise PipelineError(f"{where}: init_state_dict qpos has shape {init_qpos.shape}, task {task} needs ({spec.nq},)")
            if states == "replay":
                assert env is not None  # opened above for replay
                episodes.append(_replay(env, init, acts, where, i))
                continue
            # recorded: T observations / actions / rewards; kept: states 0..T-1, actions 0..T-2 (T-1 transitions)
            ep = episode_from_observations(
                task,
                obs,
                acts[:-1],
                None if rewards is None else np.asarray(rewards, float)[:-1],
                reward_mode,
                env_state=env_state_from_source(task, init, init_qpos),
                init_qpos=init_qpos,
                where=where,
                scene=scene,
            )
            ep.attrs["recorded_steps"] = int(acts.shape[0])
            ep.attrs["transitions_note"] = "T recorded observations give T-1 transitions; the last action is dropped"
            if init_qpos is not None:
                # how far the dict's initial state is from the first recorded observation (not used for the states)
                ep.attrs["init_qpos_vs_recon_max_abs"] = float(np.max(np.abs(init_qpos - ep.qpos[0])))
            if reward_mode in ("dense", "dapg-dense"):
                ep.attrs["dense_reward_origin"] = "recorded (hand_dapg v0 env)"
            ep.attrs["demo_index"] = i
            episodes.append(ep)
    return episodes


def _replay(env: TaskEnv, init: dict, actions: np.ndarray, where: str, index: int) -> Episode:
    """One human demo as RRL converted it: reset, set init_state_dict, step every recorded action."""
    spec = env.spec
    missing = [k for k in ("qpos", "qvel") if k not in init]
    if missing:
        raise PipelineError(f"{where}: init_state_dict lacks {', '.join(missing)}, which states 'replay' needs")
    params = env_state_from_source(spec.name, init, np.asarray(init["qpos"], float))
    lacking = [p.key for p in spec.state_params if p.key not in params]
    if lacking:
        raise PipelineError(f"{where}: init_state_dict lacks {', '.join(lacking)}, which states 'replay' needs")
    env.horizon = len(actions)  # a demo runs as long as it was recorded (223-300 steps on door), not 200
    state = {"qpos": np.asarray(init["qpos"], float), "qvel": np.asarray(init["qvel"], float), **params}
    ep = rollout(env, ActionReplay(actions), seed=0, state=state)
    ep.seed = -1  # the reset seed is irrelevant: the whole state is overwritten
    ep.attrs.update({"state_origin": "replay of the recorded actions from init_state_dict (RRL's convertDemos)",
                     "recorded_steps": int(len(actions)), "demo_index": index})
    return ep


# --- expert policy ------------------------------------------------------------------------------------------


class MLPExpert:
    """The mean action of an mjrl Gaussian MLP, computed in float32 as mjrl does (torch, CPU)."""

    def __init__(
        self,
        weights: list[tuple[np.ndarray, np.ndarray]],
        in_shift: np.ndarray,
        in_scale: np.ndarray,
        out_shift: np.ndarray,
        out_scale: np.ndarray,
        nonlinearity: str = "tanh",
        log_std: np.ndarray | None = None,
        source: str = "",
    ):
        import torch

        self._torch = torch
        self.layers = [(torch.as_tensor(w, dtype=torch.float32), torch.as_tensor(b, dtype=torch.float32)) for w, b in weights]
        f32 = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32).reshape(-1))  # noqa: E731
        self.in_shift, self.in_scale = f32(in_shift), f32(in_scale)
        self.out_shift, self.out_scale = f32(out_shift), f32(out_scale)
        self._activation: Any = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}[nonlinearity]
        self.nonlinearity = nonlinearity
        self.log_std = None if log_std is None else np.asarray(log_std, dtype=np.float64)
        self.obs_dim = int(self.layers[0][0].shape[1])
        self.act_dim = int(self.layers[-1][0].shape[0])
        self.source = source

    def reset(self, seed: int) -> None:
        """The mean action is deterministic: nothing to reset."""

    def mean_action(self, obs: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.no_grad():
            x = torch.as_tensor(np.asarray(obs, dtype=np.float32).reshape(-1))
            out = (x - self.in_shift) / (self.in_scale + 1e-8)
            for i, (w, b) in enumerate(self.layers):
                out = out @ w.T + b
                if i < len(self.layers) - 1:
                    out = self._activation(out)
            out = out * self.out_scale + self.out_shift
        return out.numpy().astype(np.float64)

    def act(self, obs: np.ndarray, state: dict[str, np.ndarray] | None = None) -> np.ndarray:
        return self.mean_action(obs)


def _array(value: Any, what: str, where: str) -> np.ndarray:
    try:
        if hasattr(value, "detach"):
            return value.detach().cpu().numpy().astype(np.float64)
        return np.asarray(value, dtype=np.float64)
    except Exception:  # noqa: BLE001 - whatever a foreign object raises on conversion, it is not an array
        raise PipelineError(f"{where}: {what} is not an array ({type(value).__name__})") from None


def load_expert_policy(path: str | os.PathLike, task: str) -> MLPExpert:
    """The mean-action controller of a hand_dapg `<task>-v0_policy.pickle` (an mjrl Gaussian MLP)."""
    spec = get_task(task)
    path = Path(path)
    where = str(path)
    policy = safe_load(path)
    if not isinstance(policy, StandIn) or not isinstance(getattr(policy, "model", None), StandIn):
        raise PipelineError(f"{where}: not an mjrl policy (found {brief(policy)}; expected an object with a 'model')")
    model: Any = getattr(policy, "model")  # noqa: B009 - a stand-in's attributes are the pickle's, unknown to mypy
    try:
        linears = list(model._modules["fc_layers"]._modules.values())
        weights = [
            (_array(layer._parameters["weight"], "weight", where), _array(layer._parameters["bias"], "bias", where))
            for layer in linears
        ]
    except (AttributeError, KeyError, TypeError):
        raise PipelineError(f"{where}: the policy's model has no fc_layers with weight/bias (not an mjrl FCNetwork)") from None
    if not weights:
        raise PipelineError(f"{where}: the policy's model has no layers")
    for (w1, _), (w2, _) in zip(weights, weights[1:]):
        if w1.ndim != 2 or w2.ndim != 2 or w2.shape[1] != w1.shape[0]:
            raise PipelineError(f"{where}: layer shapes do not chain ({w1.shape} then {w2.shape})")
    obs_dim, act_dim = weights[0][0].shape[1], weights[-1][0].shape[0]
    if act_dim != spec.action_dim:
        raise PipelineError(f"{where}: policy outputs {act_dim} actions, task {task} needs {spec.action_dim}")
    if obs_dim != OBS_DIM[task]:
        raise PipelineError(f"{where}: policy takes {obs_dim} observations, task {task} gives {OBS_DIM[task]}")

    d = model.__dict__
    transforms = d.get("transformations") or {}

    def transform(key: str, size: int, default: float) -> np.ndarray:
        value = d.get(key, transforms.get(key))
        if value is None:  # mjrl's FCNetwork defaults: no shift, unit scale
            return np.full(size, default)
        arr = _array(value, key, where).reshape(-1)
        if arr.shape != (size,):
            raise PipelineError(f"{where}: {key} has {arr.size} entries, expected {size}")
        return arr

    nonlinearity = d.get("nonlinearity", "tanh")
    if isinstance(nonlinearity, Activation):
        nonlinearity = nonlinearity.name
    if nonlinearity not in ("tanh", "relu", "sigmoid"):
        raise PipelineError(f"{where}: unsupported nonlinearity {nonlinearity!r}")
    log_std = getattr(policy, "log_std_val", None)
    return MLPExpert(
        weights,
        transform("in_shift", obs_dim, 0.0),
        transform("in_scale", obs_dim, 1.0),
        transform("out_shift", act_dim, 0.0),
        transform("out_scale", act_dim, 1.0),
        nonlinearity=nonlinearity,
        log_std=None if log_std is None else _array(log_std, "log_std_val", where),
        source=path.name,
    )


def expert_rollouts(
    policy: MLPExpert, task: str, reward_mode: str, seeds: Iterable[int], horizon: int | None = None
) -> list[Episode]:
    """Demos from running the expert's mean action (clipped to [-1, 1]) from `reset(seed)` for each seed."""
    _check_mode(reward_mode)
    env = make_env(task, reward_mode, horizon=horizon)
    try:
        episodes = []
        for seed in seeds:
            ep = rollout(env, policy, int(seed))
            ep.attrs["policy"] = f"hand_dapg expert {policy.source} (mean action)".strip()
            episodes.append(ep)
        return episodes
    finally:
        env.close()
