"""Shared machinery of the scripted experts: a private copy of the scene, IK, and joint targets -> actions.

The Adroit actuators are affine position servos: force = gain * ctrl + b0 + b1 * q (b1 < 0), and the env maps
an action a in [-1, 1] to ctrl = mean + a * half_range. An expert therefore thinks in joint targets and
converts them here. The conversion adds gravity compensation (qfrc_bias of the expert's own copy of the
scene), so a target is where the joint settles rather than where it would settle without load; this matters
for the heavy arm, whose servos are soft (200 Nm/rad) compared with its weight.
"""

from __future__ import annotations

import copy

import mujoco
import numpy as np

from pipeline.tasks.spec import TaskSpec


class Scene:
    """The expert's private model + data, refreshed from the env's state dict at every step."""

    def __init__(self, model: mujoco.MjModel, spec: TaskSpec):
        self.model = copy.deepcopy(model)  # own copy: set_state writes the randomised body params into it
        self.data = mujoco.MjData(self.model)
        self.spec = spec
        m = self.model
        self.act_joint = m.actuator_trnid[:, 0].copy()
        self.act_qadr = m.jnt_qposadr[self.act_joint]
        self.act_dadr = m.jnt_dofadr[self.act_joint]
        self.gain = m.actuator_gainprm[:, 0].copy()
        self.b0 = m.actuator_biasprm[:, 0].copy()
        self.b1 = m.actuator_biasprm[:, 1].copy()
        lo, hi = m.actuator_ctrlrange[:, 0], m.actuator_ctrlrange[:, 1]
        self.ctrl_mean, self.ctrl_rng = 0.5 * (lo + hi), 0.5 * (hi - lo)

    def load(self, state: dict[str, np.ndarray]) -> None:
        """Copy the env's state (qpos, qvel, randomised params) into the private scene; runs mj_forward."""
        self.spec.set_state(self.model, self.data, state)

    def _kin(self) -> None:
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_comPos(self.model, self.data)  # mj_jac* read cdof / subtree_com

    # --- names -> indices ---------------------------------------------------------------------------------

    def qadr(self, joint: str) -> int:
        return int(self.model.jnt_qposadr[self.model.joint(joint).id])

    def site(self, name: str) -> np.ndarray:
        return self.data.site(name).xpos.copy()

    # --- joint targets -> normalised action ----------------------------------------------------------------

    def action(self, q_target: np.ndarray, kd: np.ndarray | float = 0.0) -> np.ndarray:
        """Normalised action that makes each actuated joint settle at q_target[its qpos address].

        ctrl solves gain*ctrl + b0 + b1*q_target = -qfrc_bias (static balance with gravity compensated);
        kd adds velocity damping (per actuator, in N*m*s/rad), useful for the under-damped arm slide.
        """
        d = self.data
        q_t = q_target[self.act_qadr]
        bias = d.qfrc_bias[self.act_dadr]
        ctrl = (-self.b1 * q_t - self.b0 + bias - kd * d.qvel[self.act_dadr]) / self.gain
        return np.clip((ctrl - self.ctrl_mean) / self.ctrl_rng, -1.0, 1.0)

    # --- inverse kinematics --------------------------------------------------------------------------------

    def ik_point(
        self,
        body: str,
        point: np.ndarray,
        joints: list[str],
        target_pos: np.ndarray,
        iters: int = 8,
        damping: float = 1e-2,
        step_limit: float = 0.2,
    ) -> np.ndarray:
        """Like `ik` for a world point rigidly attached to `body` (e.g. the head of a held tool), position only."""
        m, d = self.model, self.data
        qpos0 = d.qpos.copy()
        bid = m.body(body).id
        local = d.xmat[bid].reshape(3, 3).T @ (point - d.xpos[bid])
        jids = [m.joint(j).id for j in joints]
        qadr, dadr = m.jnt_qposadr[jids], m.jnt_dofadr[jids]
        lo, hi = m.jnt_range[jids, 0], m.jnt_range[jids, 1]
        jacp = np.zeros((3, m.nv))
        q = qpos0.copy()
        for _ in range(iters):
            cur = d.xpos[bid] + d.xmat[bid].reshape(3, 3) @ local
            mujoco.mj_jac(m, d, jacp, None, cur, bid)
            J = jacp[:, dadr]
            dq = J.T @ np.linalg.solve(J @ J.T + damping * np.eye(3), target_pos - cur)
            q[qadr] = np.clip(q[qadr] + np.clip(dq, -step_limit, step_limit), lo, hi)
            d.qpos[:] = q
            self._kin()
        d.qpos[:] = qpos0
        self._kin()
        return q

    def ik(
        self,
        site: str,
        joints: list[str],
        target_pos: np.ndarray,
        target_mat: np.ndarray | None = None,
        rot_weight: float = 0.3,
        iters: int = 8,
        damping: float = 1e-2,
        step_limit: float = 0.2,
    ) -> np.ndarray:
        """Damped-least-squares IK from the current qpos: joint values (full qpos) that put `site` at the target.

        Works on a scratch copy of qpos and leaves the scene's data as loaded. Joint limits are enforced by
        clamping after each step; `step_limit` bounds each iteration's joint change (radians / metres).
        """
        m, d = self.model, self.data
        qpos0 = d.qpos.copy()
        sid = m.site(site).id
        jids = [m.joint(j).id for j in joints]
        qadr = m.jnt_qposadr[jids]
        dadr = m.jnt_dofadr[jids]
        lo, hi = m.jnt_range[jids, 0], m.jnt_range[jids, 1]
        jacp, jacr = np.zeros((3, m.nv)), np.zeros((3, m.nv))
        q = qpos0.copy()
        for _ in range(iters):
            err = target_pos - d.site_xpos[sid]
            mujoco.mj_jacSite(m, d, jacp, jacr, sid)
            J = jacp[:, dadr]
            e = err
            if target_mat is not None:
                cur = d.site_xmat[sid].reshape(3, 3)
                # rotation error as an axis-angle vector (small-angle: 0.5 * sum of column cross products)
                erot = 0.5 * sum(np.cross(cur[:, k], target_mat[:, k]) for k in range(3))
                J = np.vstack([J, rot_weight * jacr[:, dadr]])
                e = np.concatenate([err, rot_weight * erot])
            dq = J.T @ np.linalg.solve(J @ J.T + damping * np.eye(J.shape[0]), e)
            dq = np.clip(dq, -step_limit, step_limit)
            q[qadr] = np.clip(q[qadr] + dq, lo, hi)
            d.qpos[:] = q
            self._kin()
        d.qpos[:] = qpos0
        self._kin()  # kinematics only: qfrc_bias from load()'s forward pass stays valid for action()
        return q
