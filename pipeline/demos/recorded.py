"""Demonstrations from recorded observations (hand_dapg human demos, Minari datasets): states rebuilt by
reconstruct.py, or checked against the recorded ones, then rewards relabelled from those states and the episode
assembled in the demo file's contract (pipeline/formats/episode.py)."""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.demos.obs_layout import LAYOUTS
from pipeline.demos.reconstruct import KinematicScene, Reconstruction, reconstruct_states, solve_params
from pipeline.errors import PipelineError
from pipeline.tasks.spec import TaskSpec, get_task


def episode_from_observations(
    task: str,
    observations: np.ndarray,
    actions: np.ndarray,
    rewards: np.ndarray | None,
    reward_mode: str,
    env_state: dict[str, np.ndarray] | None = None,
    init_qpos: np.ndarray | None = None,
    where: str = "demo",
    states: Reconstruction | None = None,
    scene: Any = None,
):
    """An Episode from N observations and N-1 actions (the shared path of hand_dapg and Minari sources).

    `rewards` (N-1,) are the recorded (dense) rewards; sparse modes are recomputed from the goal of the state
    after each action. Pass `states` to use recorded states instead of reconstructing them.
    """
    from pipeline.formats.episode import Episode

    spec = get_task(task)
    obs = np.asarray(observations, dtype=np.float64)
    acts = np.asarray(actions, dtype=np.float64)
    T = acts.shape[0] if acts.ndim == 2 else -1
    if acts.ndim != 2 or acts.shape[1] != spec.action_dim:
        raise PipelineError(f"{where}: actions have shape {acts.shape}, task {task} needs (T, {spec.action_dim})")
    if obs.shape[0] != T + 1:
        raise PipelineError(f"{where}: {obs.shape[0]} observations for {T} actions, expected {T + 1}")
    if T < 1:
        raise PipelineError(f"{where}: an episode needs at least one action")
    scene = scene or KinematicScene(spec)  # one env for the reconstruction and the rewards
    if states is None:
        states = reconstruct_states(task, obs, env_state, init_qpos, where=where, scene=scene)
    goal = states.goal[1:]
    if reward_mode in ("dense", "dapg-dense"):  # recorded hand_dapg rewards are mj_envs v0's: dapg-dense itself
        if rewards is None:
            raise PipelineError(f"{where}: no recorded rewards, reward mode {reward_mode!r} needs them")
        rew = np.asarray(rewards, dtype=np.float64).reshape(-1)[:T]
        if rew.shape != (T,):
            raise PipelineError(f"{where}: {rew.shape[0]} rewards for {T} actions")
    else:
        rew = rewards_from_states(spec, scene, states, reward_mode)
    clipped = np.abs(acts) > 1.0
    truncated = np.zeros(T, dtype=bool)
    truncated[-1] = True  # the demo was cut where its recording ended
    attrs = dict(states.attrs)
    if clipped.any():
        attrs["actions_clipped_fraction"] = float(clipped.mean())
    return Episode(
        actions=np.clip(acts, -1.0, 1.0).astype(np.float32),
        rewards=rew.astype(np.float32),
        terminated=np.zeros(T, dtype=bool),
        truncated=truncated,
        goal_achieved=goal.astype(bool),
        qpos=states.qpos,
        qvel=states.qvel,
        env_state=states.env_state,
        obs=obs,
        seed=-1,
        success=spec.is_success(goal),
        attrs=attrs,
    )


def rewards_from_states(spec: TaskSpec, scene: KinematicScene, states: Reconstruction, reward_mode: str) -> np.ndarray:
    """Reward of each action, from the state after it (rows 1..N-1): demos are relabelled without simulating.

    rrl, sparse and gym-sparse are functions of the simulator state (dense and dapg-dense carry Gymnasium's velocity term,
    the env's own, so it is taken as recorded). Kinematics are fresh here, whereas an env step reads body and
    site positions one physics substep old (see KinematicScene): a difference of h * velocity, 2 ms of motion.
    """
    if reward_mode in ("dense", "dapg-dense"):  # both include Gymnasium's velocity term
        raise PipelineError(f"reward mode {reward_mode!r} needs recorded rewards; from states: rrl, sparse, gym-sparse")
    out = np.empty(len(states.qpos) - 1)
    for t in range(1, len(states.qpos)):
        state = {"qpos": states.qpos[t], "qvel": states.qvel[t], **{k: v[t] for k, v in states.env_state.items()}}
        spec.set_state(scene.model, scene.data, state)
        goal = spec.goal_achieved(scene.model, scene.data)
        out[t - 1] = spec.reward(reward_mode, goal, float("nan"), scene.model, scene.data)
    return out


def states_from_recorded(
    task: str,
    qpos: np.ndarray,
    qvel: np.ndarray,
    env_state: dict[str, np.ndarray],
    observations: np.ndarray,
    where: str = "demo",
    scene: Any = None,
) -> Reconstruction:
    """Recorded per-step states (N rows each), checked against the recorded observations and scored.

    env_state: key -> (N, ...) or a single row; params the source lacks are solved from observation 0.
    """
    spec = get_task(task)
    layout = LAYOUTS[task]
    obs = np.asarray(observations, dtype=np.float64)
    n = obs.shape[0]
    scene = scene or KinematicScene(spec)
    qpos = np.asarray(qpos, dtype=np.float64)
    qvel = np.asarray(qvel, dtype=np.float64)
    if qpos.shape != (n, scene.model.nq) or qvel.shape != (n, scene.model.nv):
        raise PipelineError(
            f"{where}: recorded qpos/qvel have shapes {qpos.shape}/{qvel.shape}, expected ({n}, {scene.model.nq})"
        )
    rows: dict[str, np.ndarray] = {}
    for key, value in env_state.items():
        value = np.asarray(value, dtype=np.float64)
        rows[key] = value if value.ndim == 2 and value.shape[0] == n else np.repeat(value.reshape(1, -1), n, axis=0)
    missing = [p.key for p in spec.state_params if p.key not in rows]
    attrs: dict[str, Any] = {"state_origin": "recorded"}
    if missing:
        solved = solve_params(task, scene, obs[0], qpos[0], {k: v[0] for k, v in rows.items()})
        for key in missing:
            rows[key] = np.repeat(np.asarray(solved[key], float)[None], n, axis=0)
        attrs["recon_env_state_solved"] = ",".join(missing)
    check = np.asarray(layout.check_obs)
    goal = np.zeros(n, dtype=bool)
    max_err = 0.0
    for t in range(n):
        spec.set_state(scene.model, scene.data, {"qpos": qpos[t], "qvel": qvel[t], **{k: v[t] for k, v in rows.items()}})
        pred = scene.obs_at(qpos[t], None if t == 0 else qvel[t])
        max_err = max(max_err, float(np.max(np.abs(pred[check] - obs[t, check]))))
        goal[t] = scene.goal()
    attrs["state_max_obs_error"] = max_err  # recorded states against recorded observations (a sanity check)
    return Reconstruction(qpos=qpos, qvel=qvel, env_state=rows, goal=goal, attrs=attrs)
