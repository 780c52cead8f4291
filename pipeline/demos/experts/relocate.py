"""Scripted expert for Adroit relocate: reach over the ball, grasp it, carry it onto the target and hold it there.

Everything is computed from the state dict with the shared control layer's private scene (experts/control.Scene:
its Object body and target site are moved to the state's values on every call), never from the env:
- inverse kinematics of the grasp site 'S_grasp' over the slides and ARRx gives arm joint targets. ARRx (a pitch
  about the forearm base) is needed because ARTy, the vertical slide, cannot go below 0: with a level hand the
  palm stays 0.15 m above the table, tilting it by ~0.2 rad brings the grasp site down to the ball;
- computed torque turns the arm targets into actuator commands. The env's arm servos are soft (kp 200 against a
  5 kg arm, no gravity compensation), so sending the target joints as they are would sag and lag by centimetres;
- the hand is a gravity-compensated position servo (Scene.action) between an open pose and a power grasp.
"""

from __future__ import annotations

import mujoco
import numpy as np

from pipeline.demos.experts.control import Scene
from pipeline.tasks.spec import get_task

_ARM = slice(0, 6)  # ARTx, ARTy, ARTz (slides), ARRx, ARRy, ARRz; dof, joint and actuator indices coincide
_HAND = slice(6, 30)  # wrist, fingers and thumb
_IK_DOFS = np.array([0, 1, 2, 3])  # slides + ARRx; ARRy/ARRz are held at 0

# Hand joint targets (24, actuator order). Found by a scan over seeds with action noise (N(0, 0.05^2) still
# succeeds 25/25): the fingers hook over the front of the ball and pull it back onto the opposed thumb.
_OPEN = np.zeros(24)
# fmt: off
_CLOSED = np.array([
    0.0, 0.0,                   # wrist
    0.0, 1.4, 1.0, 0.5,         # first finger: abduction, MCP, PIP, DIP
    0.0, 1.4, 1.0, 0.5,         # middle
    0.0, 1.4, 1.0, 0.5,         # ring
    0.0, 0.0, 1.4, 1.0, 0.5,    # little: metacarpal, abduction, MCP, PIP, DIP
    0.5, 1.3, 0.26, 0.5, -1.0,  # thumb: rotation, abduction (swings it under the palm), hub, middle, distal
])
# fmt: on
_FLEX = np.zeros(24)
_FLEX[[3, 4, 5, 7, 8, 9, 11, 12, 13, 16, 17, 18]] = 1.0  # finger flexion joints, for squeezing while carrying


class RelocateExpert:
    """Phase machine: approach above the ball, descend onto it, close the hand, carry the ball to the target."""

    # Tunables, class attributes so that experiments can override them on an instance.
    grasp_tilt = 0.2  # preferred ARRx (rad) while grasping: lowers the palm to the ball
    carry_tilt = 0.0  # level hand while carrying: with a tilt the palm cannot rise to targets at z = 0.35
    grasp_offset = np.array([0.0, -0.02, 0.0])  # S_grasp minus ball centre when the hand closes
    approach_height = 0.10  # S_grasp this far above the grasp point before descending
    carry_step = 0.3  # cap (m) on the grasp-site goal's lead over the site while carrying
    squeeze = 0.3  # extra finger flexion (rad) while carrying: the finger servos are weak (kp = 1)
    kp, kd = 300.0, 22.0  # arm acceleration gains (1/s^2, 1/s)
    k_rot = 200.0  # extra stiffness (Nm/rad) on the rotations, whose inertia is small (ARRz: 0.01 kg m^2)

    def __init__(self, model: mujoco.MjModel):
        self.scene = Scene(model, get_task("relocate"))  # private model + data, the actuator maps
        m = self.scene.model
        self._ik_data = mujoco.MjData(m)
        self._site = m.site("S_grasp").id
        self._ball = m.body("Object").id
        self._target = m.site("target").id
        self._jlo, self._jhi = m.jnt_range[self.scene.act_joint].T
        self._M = np.zeros((m.nv, m.nv))
        self._jacp = np.zeros((3, m.nv))
        self.reset(0)

    @property
    def model(self) -> mujoco.MjModel:
        """The expert's private copy of the scene's model (the state's placement is written into it, never the env's)."""
        return self.scene.model

    def reset(self, seed: int) -> None:
        """Start a new episode. The expert is deterministic: the seed is accepted for the Policy API only."""
        self.phase, self.phase_t = "approach", 0
        self._close_goal = np.zeros(3)

    def act(self, obs: np.ndarray, state: dict[str, np.ndarray]) -> np.ndarray:
        """Action in [-1, 1]^30 for the scene in `state` (obs is not used: the state has everything)."""
        self.scene.load(state)  # joints and the randomised ball/target placement, then mj_forward
        d = self.scene.data
        ball, target, site = d.xpos[self._ball].copy(), d.site_xpos[self._target].copy(), d.site_xpos[self._site].copy()
        grasp = ball + self.grasp_offset
        hand, tilt = _OPEN, self.grasp_tilt
        if self.phase == "approach":  # open hand, grasp site above the ball (keeps the fingers off it)
            goal = grasp + np.array([0.0, 0.0, self.approach_height])
            if np.linalg.norm(site - goal) < 0.03 or self.phase_t > 60:
                self._next("descend")
        elif self.phase == "descend":  # straight down onto the ball
            goal = grasp
            if np.linalg.norm(site - goal) < 0.015 or self.phase_t > 40:
                self._next("close")
        elif self.phase == "close":  # power grasp with the arm held on the ball
            goal, hand = grasp, _CLOSED
            if self.phase_t > 20:
                self._next("carry")
        else:  # carry: steer the BALL (not the palm) onto the target, then hold it there
            hand, tilt = _CLOSED + self.squeeze * _FLEX, self.carry_tilt
            offset = _clip_norm(site - ball, 0.08)  # bounded, so a dropped ball cannot send the arm away
            goal = site + _clip_norm(target + offset - site, self.carry_step)
        q_start = d.qpos[_ARM].copy()
        q_start[4:6] = 0.0
        q_des = self._ik(goal, q_start, tilt)
        q_target = d.qpos.copy()
        q_target[self.scene.act_qadr[_HAND]] = hand
        action = self.scene.action(q_target)  # the hand: gravity-compensated position servo
        sc = self.scene
        action[_ARM] = np.clip((self._arm_ctrl(q_des) - sc.ctrl_mean[_ARM]) / sc.ctrl_rng[_ARM], -1.0, 1.0)
        self.phase_t += 1
        return action

    def _next(self, phase: str) -> None:
        self.phase, self.phase_t = phase, 0

    def _ik(self, site_goal: np.ndarray, q: np.ndarray, tilt: float) -> np.ndarray:
        """Arm joints (6) that put S_grasp at `site_goal`: damped least squares over the slides and ARRx.

        ARRx is pulled toward `tilt` so that the slides do most of the work; a slide that hits its limit drops out
        of the later iterations, so that ARRx takes over its share (ARTy at 0 below, at 0.2 above).
        """
        m, d, jacp = self.scene.model, self._ik_data, self._jacp
        d.qpos[:] = self.scene.data.qpos
        q = q.copy()
        reg = np.array([1e-4, 1e-4, 1e-4, 2e-2])
        lo, hi = self._jlo[_IK_DOFS], self._jhi[_IK_DOFS]
        free = np.ones(4, dtype=bool)
        for _ in range(4):
            d.qpos[_ARM] = q
            mujoco.mj_kinematics(m, d)
            mujoco.mj_comPos(m, d)
            mujoco.mj_jacSite(m, d, jacp, None, self._site)
            J = jacp[:, _IK_DOFS] * free
            rhs = J.T @ (site_goal - d.site_xpos[self._site])
            rhs[3] += reg[3] * (tilt - q[3])
            q[_IK_DOFS] = np.clip(q[_IK_DOFS] + free * np.linalg.solve(J.T @ J + np.diag(reg), rhs), lo, hi)
            free &= (q[_IK_DOFS] > lo + 1e-6) & (q[_IK_DOFS] < hi - 1e-6)
            free[3] = True
        return q

    def _arm_ctrl(self, q_des: np.ndarray) -> np.ndarray:
        """Computed torque: the actuator commands that make the arm follow q_des as a damped spring.

        Gravity and inertia coupling come from the private model. The joints' own damping is left in place (it
        steadies the light roll joint), and the rotations get a stiffness floor so that action noise or the
        ball's weight cannot twist the hand.
        """
        sc = self.scene
        d = sc.data
        q, qd = d.qpos[_ARM], d.qvel[_ARM]
        mujoco.mj_fullM(sc.model, d, self._M)
        err = q_des - q
        tau = self._M[_ARM, _ARM] @ (self.kp * err - self.kd * qd) + d.qfrc_bias[_ARM]
        tau[3:] += self.k_rot * err[3:]
        return (tau - sc.b0[_ARM] - sc.b1[_ARM] * q) / sc.gain[_ARM]  # affine actuators: f = gain*ctrl + b0 + b1*q


def _clip_norm(v: np.ndarray, limit: float) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v * (limit / n) if n > limit else v
