"""Scripted door expert: grasp the handle, turn the latch, yank the door open, let go, push it from behind if needed.

Strategy (modelled on how the DAPG expert opens the door; no learned weights, only geometric rules):
1. Reach: the grasp site goes to waypoints in the latch frame: in front of and above the handle bar, then over
   it with straight fingers, then down onto it; each phase ends on arrival (or at a time limit). Curl the
   fingers and thumb around the bar.
2. Turn the latch to ~1.7 rad: the hand target is a fixed grasp pose in the latch frame taken at the desired
   latch angle, so the arm rolls (mostly ARRz) with the handle. Past 1.0 rad the bolt is clear and the pull
   starts: the target is the grasp pose at hinge + 0.3 rad, i.e. a hard yank along the door's arc that keeps
   the door accelerating (the arm mostly swings ARRy and retracts ARTz).
3. At 0.8 rad the door swings at several rad/s; the arm cannot follow it much further (it runs out of reach
   near 1.1 rad), so the hand lets go and moves out past the door's free edge, and the door coasts to its
   1.57 stop. If the swing dies short of the goal (or the bar slipped out of the hand mid-pull), the hand goes
   round the free edge and pushes the door's back face, which is the strongest push the arm has. If the bar
   slips before the door has moved, the hand grasps again.

The arm (ARTz, ARRx, ARRy, ARRz, WRJ1, WRJ0) is solved by damped-least-squares IK in the expert's private copy
of the scene (control.Scene); fingers are position targets. Seeds 0..24: 24/25 successes (see the tests).
"""

from __future__ import annotations

import mujoco
import numpy as np

from pipeline.demos.experts.control import Scene
from pipeline.tasks.spec import get_task

ARM = ["ARTz", "ARRx", "ARRy", "ARRz", "WRJ1", "WRJ0"]
FINGERS = [f"{f}J{k}" for f in ("FF", "MF", "RF", "LF") for k in (2, 1, 0)]

# Grasp geometry, in the latch body frame (the handle bar runs along latch x at y=-0.15, z=0). The grasp height
# (z) matters: 1 cm higher or lower and the fingers close on the bar's edge and slip off when the pull starts.
GRASP = np.array([0.13, -0.17, -0.0225])  # S_grasp just in front of and below the bar's axis: fingers wrap it
GRASP_IN, PRE_UP = -0.12, 0.05  # approach: straight fingers pass over the bar (above it), then the palm drops
APPROACH_Y = -0.30  # first waypoint: this far in front of the door, at the pre-grasp height
# Phase time limits (env steps since the attempt began; a phase ends earlier once its waypoint is reached).
T_ABOVE, T_DESCEND, T_CURL, T_GRIP = 14, 22, 28, 4
LATCH_RATE, LATCH_MAX, LATCH_OPEN = 0.1, 1.7, 1.0  # turn to ~1.7 rad; start pulling once past 1.0 (bolt clear)
HINGE_LEAD = 0.3  # the pull target leads the actual door by this angle: a hard, steady yank along the arc
RELEASE = 0.8  # let go here, with the door swinging at ~3-4 rad/s: it coasts to the 1.57 stop on its own
GRIP_LOST = 0.06  # hand this far (m) from its grasp pose while pulling: the bar slipped out
REGRASP_BELOW, RETRIES = 0.15, 2  # slipped with the door still shut: grasp again (at most twice)
# After letting go (door frame: x along the door from the hinge side, free edge at x=-0.25, y<0 the robot's side).
CLEAR = np.array([-0.38, -0.15, -0.15])  # out past the free edge, on the robot's side, so the door swings by
BEHIND = np.array([-0.38, 0.12, -0.15])  # past the free edge, behind the door
PUSH = np.array([-0.2, 0.1, -0.15])  # palm on the door's back face near its free edge
EDGE_CLEAR = -0.32  # hand is past the free edge once its door-frame x is below this
CLEAR_LEAD, PUSH_LEAD = 0.2, 0.3  # those door-frame targets are taken at the hinge angle + lead (keep ahead)
PUSH_V, PUSH_UNTIL = 0.5, 1.45  # the swing died (rad/s) short of this angle: go round the edge and push
# Arm and hand.
ROT_WEIGHT = 0.3  # IK weight of the grasp orientation while holding the handle (none after letting go)
KP_MULT, KP_PULL, KD_ARM = 4.0, 3.0, 20.0  # stiffen the soft arm servos (200 Nm/rad); damp the slide/rotations
CURL_OPEN, CURL_CLOSED = 0.0, 2.5  # a closed target beyond the joint range saturates the weak finger servos
THUMB_OPEN = np.array([0.2, 0.6, 0.2, 0.0, -0.2])  # THJ4..THJ0
THUMB_CLOSED = np.array([0.4, 1.3, 0.3, -0.1, -1.2])  # opposes the fingers around the bar
THUMB_FREE = np.zeros(5)


class DoorExpert:
    """Closed-loop phase machine. Everything it needs comes from `state`, read through its own scene copy."""

    def __init__(self, model: mujoco.MjModel):
        self.scene = Scene(model, get_task("door"))
        m, d = self.scene.model, self.scene.data
        d.qpos[:] = 0.0
        mujoco.mj_kinematics(m, d)
        self.rest_rot = d.site("S_grasp").xmat.reshape(3, 3).copy()  # palm down, fingers toward the door
        self.hinge = self.scene.qadr("door_hinge")
        self.latch = self.scene.qadr("latch")
        self.fingers = [self.scene.qadr(j) for j in FINGERS]
        self.thumb = [self.scene.qadr(f"THJ{k}") for k in (4, 3, 2, 1, 0)]
        # grasp orientation in the latch frame: the hand's rest orientation (palm down, fingers to the door)
        lrot = d.body("latch").xmat.reshape(3, 3)
        self.grasp_rot = lrot.T @ self.rest_rot
        self.kd = np.zeros(m.nu)
        self.kd[:4] = KD_ARM
        self.reset(0)

    def reset(self, seed: int) -> None:
        """Restart the phase clock; the controller has no randomness, so the seed is not needed."""
        self.t = 0
        self.t_pull: int | None = None
        self.phase, self.t_phase = 0, 0
        self.released = False
        self.t0, self.latch0, self.retries = 0, 0.0, 0
        self.push = 0

    def _latch_pose(self, hinge: float, latch: float) -> tuple[np.ndarray, np.ndarray]:
        """World pose of the latch body if the door and latch were at the given angles (kinematics only)."""
        return self._body_pose("latch", {self.hinge: hinge, self.latch: latch})

    def _door_pose(self, hinge: float) -> tuple[np.ndarray, np.ndarray]:
        return self._body_pose("door", {self.hinge: hinge})

    def _body_pose(self, body: str, joints: dict[int, float]) -> tuple[np.ndarray, np.ndarray]:
        """(position, rotation) of `body` with the given qpos entries set; the scene is restored afterwards."""
        m, d = self.scene.model, self.scene.data
        q0 = d.qpos.copy()
        for adr, value in joints.items():
            d.qpos[adr] = value
        mujoco.mj_kinematics(m, d)
        pos, rot = d.body(body).xpos.copy(), d.body(body).xmat.reshape(3, 3).copy()
        d.qpos[:] = q0
        mujoco.mj_kinematics(m, d)
        mujoco.mj_comPos(m, d)
        return pos, rot

    def act(self, obs: np.ndarray, state: dict[str, np.ndarray]) -> np.ndarray:
        sc = self.scene
        sc.load(state)
        q = sc.data.qpos.copy()
        t, self.t = self.t, self.t + 1
        offset, curl, thumb = GRASP.copy(), CURL_CLOSED, THUMB_CLOSED
        hinge_des = latch_des = 0.0
        if self.retries:  # a second try approaches the handle where it is now
            hinge_des, latch_des = q[self.hinge], q[self.latch]
        # where the grasp site is, in the latch frame (phases advance on arrival, with time limits as fallback)
        lpos, lrot = sc.data.body("latch").xpos, sc.data.body("latch").xmat.reshape(3, 3)
        g = lrot.T @ (sc.data.site("S_grasp").xpos - lpos)
        waypoints = (
            np.array([GRASP[0], APPROACH_Y, PRE_UP]),  # in front of and above the bar, fingers straight
            np.array([GRASP[0], GRASP_IN, PRE_UP]),  # straight fingers pass over the bar
            np.array([GRASP[0], GRASP_IN, GRASP[2]]),  # drop the palm onto the bar
        )
        tols, limits = (0.05, 0.025, 0.015), (T_ABOVE, T_DESCEND, T_CURL)
        while self.phase < 3 and (
            np.linalg.norm(g - waypoints[self.phase]) < tols[self.phase] or t - self.t0 >= limits[self.phase]
        ):
            self.phase += 1
            self.t_phase = t
            self.latch0 = q[self.latch]
        if self.phase < 3:
            offset = waypoints[self.phase]
            curl, thumb = CURL_OPEN, THUMB_OPEN
        elif t - self.t_phase < T_GRIP:  # curl the fingers and thumb around the bar
            offset = waypoints[2]
        else:  # turn the latch, then pull: the hand follows the handle, so the targets come from its frame
            latch_des = min(LATCH_MAX, self.latch0 + LATCH_RATE * (t - self.t_phase - T_GRIP + 1))
            if self.t_pull is None and q[self.latch] > LATCH_OPEN:
                self.t_pull = t
            if self.t_pull is not None:
                hinge_des = q[self.hinge] + HINGE_LEAD
        pos, rot = self._latch_pose(hinge_des, latch_des)
        target = pos + rot @ offset
        w = ROT_WEIGHT
        if self.released:  # let go and get the hand off the door's path: out past its free edge
            dpos, drot = sc.data.body("door").xpos, sc.data.body("door").xmat.reshape(3, 3)
            gd = drot.T @ (sc.data.site("S_grasp").xpos - dpos)  # grasp site in the door frame
            v = sc.data.qvel[self.hinge]
            if self.push == 0 and v < PUSH_V and q[self.hinge] < PUSH_UNTIL:
                self.push = 1  # the swing died short of the goal: go round the free edge and push from behind
            if self.push == 1 and np.linalg.norm(gd - BEHIND) < 0.04:
                self.push = 2
            if self.push == 0:
                dpos, drot = self._door_pose(q[self.hinge] + CLEAR_LEAD)
                target = dpos + drot @ CLEAR
            elif self.push == 1:  # first out past the free edge, then round behind the door
                target = dpos + drot @ (BEHIND if gd[0] < EDGE_CLEAR or gd[1] > 0.0 else CLEAR)
            else:
                dpos, drot = self._door_pose(q[self.hinge] + PUSH_LEAD)
                target = dpos + drot @ PUSH
            w = 0.0
        q_t = sc.ik("S_grasp", ARM, target, rot @ self.grasp_rot if w > 0 else None, rot_weight=w)
        arm = slice(0, len(ARM))  # door's arm + wrist joints are qpos[0:6]
        kp = KP_PULL if self.t_pull is not None else KP_MULT
        q_t[arm] = q[arm] + kp * (q_t[arm] - q[arm])
        lost = self.t_pull is not None and not self.released and np.linalg.norm(g - GRASP) > GRIP_LOST
        if lost and q[self.hinge] < REGRASP_BELOW and self.retries < RETRIES:
            self.retries += 1  # slipped off before the door got going: open the hand and grasp again
            self.phase, self.t0, self.t_pull = 0, t, None
            curl, thumb = CURL_OPEN, THUMB_OPEN
        elif q[self.hinge] > RELEASE or lost:
            self.released = True
        if self.released:
            curl, thumb = 0.0, THUMB_FREE
        q_t[self.fingers] = curl
        q_t[self.thumb] = thumb
        return sc.action(q_t, self.kd)
