"""Rebuild full simulator states from recorded Gymnasium observations (demos that carry no per-step states).

The hand_dapg human demos, and Minari datasets without state infos, record only observations. Most of qpos is
copied out of the observation verbatim; the joints the observation hides are solved so that the model's own
observation (`_get_obs` of the Gymnasium-Robotics env, evaluated after `mj_kinematics`) matches the recorded
one: a small Gauss-Newton least-squares problem per step, warm-started from the previous step.

What each task's observation gives, and so what is copied and what is solved: demos/obs_layout.py.

qvel of the joints the observation does not carry is a second-order backward difference of the reconstructed qpos
over the control step (first order at step 1, forward at step 0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mujoco
import numpy as np

from pipeline.demos.obs_layout import LAYOUTS, OBS_DIM
from pipeline.errors import PipelineError
from pipeline.tasks import TaskEnv, make_env
from pipeline.tasks.spec import TaskSpec, get_task


@dataclass
class Reconstruction:
    """States for every recorded observation: qpos/qvel (N, nq), env_state key -> (N, ...), plus facts."""

    qpos: np.ndarray
    qvel: np.ndarray
    env_state: dict[str, np.ndarray]
    goal: np.ndarray  # (N,) bool, the task's goal in each state
    attrs: dict[str, Any] = field(default_factory=dict)


def env_state_from_source(task: str, state: dict[str, Any], qpos: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Map a Gymnasium-Robotics `get_env_state()` dict (hand_dapg init_state_dict, Minari state infos) to the
    spec's state params. Keys that are missing are left out (the caller solves them from observations)."""
    out: dict[str, np.ndarray] = {}
    if task == "door" and "door_body_pos" in state:
        out["door_body_pos"] = np.asarray(state["door_body_pos"], float).reshape(3)
    elif task == "hammer" and "board_pos" in state:
        out["board_pos"] = np.asarray(state["board_pos"], float).reshape(3)
    elif task == "pen" and "desired_orien" in state:
        out["desired_orien"] = np.asarray(state["desired_orien"], float).reshape(4)
    elif task == "relocate":
        # get_env_state() stores the object's and the target's WORLD positions; set_env_state writes them into
        # body_pos / site_pos. The target site hangs off the world body, so its world position is its site_pos;
        # the object's body position is its world position less its translation joints.
        if "target_pos" in state:
            out["target_site_pos"] = np.asarray(state["target_pos"], float).reshape(3)
        if "obj_pos" in state:
            obj = np.asarray(state["obj_pos"], float).reshape(3)
            q = np.asarray(state["qpos"], float) if qpos is None and "qpos" in state else qpos
            out["obj_body_pos"] = obj - (q[30:33] if q is not None and len(q) == 36 else 0.0)
    return out



def env_state_to_source(task: str, qpos: np.ndarray, env_state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The inverse of `env_state_from_source` over a demo's rows: the spec's state params as Gymnasium-Robotics'
    `get_env_state()` names them (what D4RL's Adroit datasets in Minari carry), each (T+1, ...)."""
    if task != "relocate":
        return dict(env_state)
    return {"target_pos": env_state["target_site_pos"], "obj_pos": env_state["obj_body_pos"] + qpos[:, 30:33]}

def _least_squares(
    f: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, iters: int = 20, eps: float = 1e-7, damping: float = 1e-9
) -> tuple[np.ndarray, np.ndarray]:
    """Levenberg-Marquardt with a forward-difference Jacobian; small problems (<= 6 unknowns) only."""
    x = np.array(x0, dtype=float)
    r = f(x)
    lam = damping
    for _ in range(iters):
        J = np.empty((r.size, x.size))
        for j in range(x.size):
            xp = x.copy()
            xp[j] += eps
            J[:, j] = (f(xp) - r) / eps
        A = J.T @ J
        # Tikhonov floor: a direction the residual does not see (the pen's roll) stays where it was
        floor = 1e-9 * max(float(np.max(np.diag(A))), 1e-12)
        step = np.linalg.solve(A + lam * np.diag(np.diag(A)) + floor * np.eye(x.size), -J.T @ r)
        x_new = x + step
        r_new = f(x_new)
        if r_new @ r_new <= r @ r:
            x, r, lam = x_new, r_new, max(lam / 10, 1e-12)
            if np.max(np.abs(step)) < 1e-10:
                break
        else:
            lam *= 10
            if lam > 1e6:
                break
    return x, r


def _wrap(residual: np.ndarray, angle_mask: np.ndarray) -> np.ndarray:
    residual[angle_mask] = (residual[angle_mask] + np.pi) % (2 * np.pi) - np.pi
    return residual


class KinematicScene:
    """A task env used as a kinematic calculator: set qpos / params, run mj_kinematics, read `_get_obs`.

    Gymnasium's MujocoEnv steps with `mj_step` and does not recompute kinematics afterwards, so after a step
    the body and site positions in its observation are those of the LAST PHYSICS SUBSTEP's start:
    qpos - h * qvel (h = model timestep), while the joint positions it copies are the current qpos. (Checked:
    this model reproduces `_get_obs` after `env.step` to 0.0.) The observation right after a reset is fresh.
    `obs_after_step` mirrors exactly that, so recorded observations are compared like with like.
    """

    def __init__(self, spec: TaskSpec, env: TaskEnv | None = None):
        self.spec = spec
        self.env = env or make_env(spec.name, "dense")
        self.env.reset(seed=0)
        self.model, self.data = self.env.model, self.env.data
        self.params = {p.key: p for p in spec.state_params}
        self.h = float(self.model.opt.timestep)
        self.dt = self.env.dt  # control step: timestep * frame_skip

    def set_params(self, env_state: dict[str, np.ndarray]) -> None:
        self.spec.set_params(self.model, env_state)

    def obs_at(self, qpos: np.ndarray, qvel: np.ndarray | None = None) -> np.ndarray:
        """The observation with kinematics at qpos (fresh, qvel None) or as after a step (qpos - h * qvel)."""
        if qvel is None:
            self.data.qpos[:] = qpos
            mujoco.mj_kinematics(self.model, self.data)
        else:
            self.data.qpos[:] = qpos - self.h * qvel
            self.data.qvel[:] = qvel
            mujoco.mj_kinematics(self.model, self.data)
            self.data.qpos[:] = qpos
        return self.env.observe()

    def goal(self) -> bool:
        """The task's goal on the scene as it stands (same data the env's step scores)."""
        return self.spec.goal_achieved(self.model, self.data)


def solve_params(task: str, scene: KinematicScene, obs0: np.ndarray, qpos0: np.ndarray, known: dict) -> dict[str, np.ndarray]:
    """Model parameters the source did not give, solved from the first observation (module docstring)."""
    out = dict(known)
    spec = scene.spec
    current = {p.key: scene.env.get_state()[p.key] for p in spec.state_params}

    def solve(key: str, obs_idx: slice, to_value: Callable[[np.ndarray], np.ndarray], x0: np.ndarray) -> None:
        def f(x: np.ndarray) -> np.ndarray:
            scene.set_params({**current, **out, key: to_value(x)})
            return scene.obs_at(qpos0)[obs_idx] - obs0[obs_idx]

        x, _ = _least_squares(f, x0)
        out[key] = to_value(x)

    if task == "door" and "door_body_pos" not in out:
        solve("door_body_pos", slice(32, 35), lambda x: x, current["door_body_pos"])
    elif task == "hammer" and "board_pos" not in out:
        solve("board_pos", slice(42, 45), lambda x: x, current["board_pos"])
    elif task == "pen" and "desired_orien" not in out:
        from gymnasium_robotics.utils.rotations import euler2quat

        solve("desired_orien", slice(36, 39), lambda x: euler2quat(np.array([x[0], x[1], 0.0])), np.zeros(2))
    elif task == "relocate":
        if "target_site_pos" not in out:
            solve("target_site_pos", slice(33, 36), lambda x: x, current["target_site_pos"])
        if "obj_body_pos" not in out:
            # the object's joints are assumed at zero in the first state (true for Gymnasium/hand_dapg resets)
            solve("obj_body_pos", slice(30, 33), lambda x: x, current["obj_body_pos"])
    scene.set_params({**current, **out})
    return out


def reconstruct_states(
    task: str,
    observations: np.ndarray,
    env_state: dict[str, np.ndarray] | None = None,
    init_qpos: np.ndarray | None = None,
    where: str = "demo",
    scene: Any = None,
) -> Reconstruction:
    """States (N of them) for N recorded observations of `task`.

    env_state: the randomised model parameters when the source has them (else solved from observation 0).
    init_qpos: a starting guess for the hidden joints (e.g. the demo's initial state); zeros otherwise.
    """
    spec = get_task(task)
    layout = LAYOUTS[task]
    obs = np.asarray(observations, dtype=np.float64)
    if obs.ndim != 2 or obs.shape[1] != OBS_DIM[task] or obs.shape[0] < 2:
        raise PipelineError(f"{where}: observations have shape {obs.shape}, task {task} needs (N >= 2, {OBS_DIM[task]})")
    scene = scene or KinematicScene(spec)
    n = obs.shape[0]
    nq = scene.model.nq

    guess = np.zeros(nq) if init_qpos is None else np.array(init_qpos, dtype=float).reshape(nq)
    for qs, os_ in layout.direct:
        guess[qs] = obs[0, os_]
    params = solve_params(task, scene, obs[0], guess, env_state or {})

    solve_idx = np.asarray(layout.solve_obs)
    angle_mask = np.isin(solve_idx, layout.angle_obs)

    recorded_vel = None  # (n, hidden joints) recorded velocities of the solved joints, NaN where clipped
    if layout.vel_direct is not None and layout.vel_direct[0] == layout.solve_qpos:
        recorded_vel = obs[:, layout.vel_direct[1]].copy()
        if layout.vel_clip is not None:
            recorded_vel[np.abs(recorded_vel) >= layout.vel_clip - 1e-9] = np.nan

    def solve_all(qvel: np.ndarray | None) -> np.ndarray:
        """Per-step solve of the hidden joints; with qvel given, observations after step 0 are matched as
        the env produces them (positions lagging one substep, KinematicScene)."""
        qpos = np.empty((n, nq))
        prev = guess
        for t in range(n):
            q = prev.copy()
            if t > 0 and recorded_vel is not None:
                # warm start: integrate the recorded velocities of the hidden joints (trapezoid), so that what
                # the observation cannot see (the pen's roll) follows the recorded angular velocity
                v = 0.5 * (recorded_vel[t - 1] + recorded_vel[t])
                ok = np.isfinite(v)
                q[layout.solve_qpos] = np.where(ok, q[layout.solve_qpos] + scene.dt * np.nan_to_num(v), q[layout.solve_qpos])
            for qs, os_ in layout.direct:
                q[qs] = obs[t, os_]
            v = None if qvel is None or t == 0 else qvel[t]

            def f(x: np.ndarray, q: np.ndarray = q, t: int = t, v: np.ndarray | None = v) -> np.ndarray:
                q[layout.solve_qpos] = x
                return _wrap(scene.obs_at(q, v)[solve_idx] - obs[t, solve_idx], angle_mask)

            x, _ = _least_squares(f, q[layout.solve_qpos])
            q[layout.solve_qpos] = x
            qpos[t] = q
            prev = q
        return qpos

    def velocities(qpos: np.ndarray) -> np.ndarray:
        # the velocity each step ENDED with: second-order backward difference (first order at step 1, forward
        # at step 0); it is also what positions in the next observation lag by (KinematicScene)
        qvel = np.empty_like(qpos)
        qvel[1:] = (qpos[1:] - qpos[:-1]) / scene.dt
        qvel[0] = qvel[1]
        qvel[2:] = (3 * qpos[2:] - 4 * qpos[1:-1] + qpos[:-2]) / (2 * scene.dt)
        if layout.vel_direct is not None:
            vs, os_ = layout.vel_direct
            recorded = obs[:, os_]
            if layout.vel_clip is None:
                qvel[:, vs] = recorded
            else:
                unclipped = np.abs(recorded) < layout.vel_clip - 1e-9
                qvel[:, vs] = np.where(unclipped, recorded, qvel[:, vs])
        return qvel

    qpos = solve_all(None)  # pass 1: kinematics at qpos, to get velocities
    qvel = velocities(qpos)
    qpos = solve_all(qvel)  # pass 2: the one-substep lag of the observation modelled
    qvel = velocities(qpos)

    # measure: the observation recomputed from each reconstructed state against the recorded one
    check = np.asarray(layout.check_obs)
    env_rows = {k: np.repeat(np.asarray(v, float)[None], n, axis=0) for k, v in params.items()}
    max_err = np.zeros(n)
    palm_err = np.zeros(n)
    palm_err_fresh = np.zeros(n)
    goal = np.zeros(n, dtype=bool)
    for t in range(n):
        state = {"qpos": qpos[t], "qvel": qvel[t], **{k: v[t] for k, v in env_rows.items()}}
        spec.set_state(scene.model, scene.data, state)  # mj_forward: fresh kinematics
        if layout.palm_obs is not None:
            palm_err_fresh[t] = np.linalg.norm(scene.env.observe()[layout.palm_obs] - obs[t, layout.palm_obs])
        pred = scene.obs_at(qpos[t], None if t == 0 else qvel[t])
        max_err[t] = np.max(np.abs(pred[check] - obs[t, check]))
        if layout.palm_obs is not None:
            palm_err[t] = np.linalg.norm(pred[layout.palm_obs] - obs[t, layout.palm_obs])
        goal[t] = scene.goal()

    attrs: dict[str, Any] = {
        "state_origin": "reconstructed",
        "recon_method": "qpos copied from the observation where it is observed; hidden joints solved by least "
        "squares against the env's own _get_obs after mj_kinematics (pipeline/demos/reconstruct.py)",
        "recon_qvel": f"second-order backward differences of reconstructed qpos, dt={scene.dt:g} s"
        + (" (recorded object velocities where available)" if layout.vel_direct else ""),
        "recon_approximate": layout.approximate,
        "recon_max_obs_error": float(max_err.max()),
        "recon_obs_model": "positions in observations after step 0 lag qpos by one substep (qpos - h*qvel), as "
        "Gymnasium's mj_step-based env emits them",
    }
    if layout.palm_obs is not None:
        attrs["recon_max_palm_error_m"] = float(palm_err.max())
        # the same against kinematics at qpos itself, i.e. ignoring the env's one-substep lag (KinematicScene)
        attrs["recon_max_palm_error_nolag_m"] = float(palm_err_fresh.max())
    given = sorted(env_state or {})
    solved = sorted(set(params) - set(given))
    if solved:
        attrs["recon_env_state_solved"] = ",".join(solved)
    return Reconstruction(qpos=qpos, qvel=qvel, env_state=env_rows, goal=goal, attrs=attrs)
