"""Scripted hammer expert: pick the hammer up by its handle, bring the head behind the nail, strike, repeat.

Strategy (geometric rules; no learned weights):
1. Grasp: the grasp site goes above the handle, then down to a fixed offset from the hammer body (just in front
   of and below the handle's axis, a little towards the handle's free end), fingers and thumb curl round it,
   and the arm lifts. If the hammer has not come up with the hand, the grasp is tried again.
2. Aim: the hammer head (a point rigidly attached to the palm, taken where the head is now: closed loop on the
   real, slightly slipping grip) is carried slowly to a point BACK behind the nail head along the nail's axis.
3. Strike: alternate 'swing through' (target THROUGH past the nail head) and 'draw back' (to the aim point).
   The arm is solved by IK on the head point (ARRx, ARRy, WRJ1, WRJ0). Each blow drives the nail a few mm to
   cm (sliding friction 2.5 N); the goal (nail head within 1 cm of its goal site) needs ~8.1 of its 9 cm.

The hammer always starts at the same place (only the board height is randomised), so the grasp is the same in
every episode. Caveat: the grasp is sensitive to its offset (about +-5 mm works); the reach is close to the
arm's limit (the nail ends at ~8 mm from the goal, threshold 10 mm).
"""

from __future__ import annotations

import mujoco
import numpy as np

from pipeline.demos.experts.control import Scene
from pipeline.tasks.spec import get_task

ARM = ["ARRx", "ARRy", "WRJ1", "WRJ0"]
FINGERS = [f"{f}J{k}" for f in ("FF", "MF", "RF", "LF") for k in (2, 1, 0)]

# Grasp: S_grasp relative to the hammer body origin (handle centre; handle along world x, head at -x).
GRASP = np.array([0.02, -0.05, -0.01])
ABOVE = np.array([0.02, 0.0, 0.06])  # pre-grasp, fingers open
LIFT = np.array([0.0, 0.0, 0.15])
LIFTED = 0.06  # hammer body height (m) that shows it came up with the hand
T_ABOVE, T_DOWN, T_GRIP, T_LIFT = 15, 25, 33, 45  # steps since the grasp attempt began
LIFT_STEPS, RETRIES = 6, 2
# Aim and strike (metres along the nail's drive axis, from the nail head).
HEAD = np.array([-0.24, 0.0, 0.0])  # head centre in the hammer body frame
BACK, THROUGH = 0.07, 0.08
T_CARRY, AIM_TOL, T_AIM_MAX = 25, 0.02, 60  # carry the head to the aim point over T_CARRY steps
T_SWING, T_DRAW = 6, 8  # steps per swing-through and per draw-back
# Arm and hand.
KP_GRASP, KP_STRIKE, KD_ARM = 3.0, 1.5, 10.0  # stiffen the soft arm servos; gentler once the hammer is held
CURL_OPEN, CURL_CLOSED = 0.0, 2.5  # a closed target beyond the joint range saturates the weak finger servos
THUMB_OPEN = np.array([0.0, 0.3, 0.0, 0.0, 0.0])  # THJ4..THJ0
THUMB_CLOSED = np.array([0.4, 1.3, 0.2, 0.0, -1.2])


class HammerExpert:
    """Closed-loop phase machine. Everything it needs comes from `state`, read through its own scene copy."""

    def __init__(self, model: mujoco.MjModel):
        self.scene = Scene(model, get_task("hammer"))
        self.fingers = [self.scene.qadr(j) for j in FINGERS]
        self.thumb = [self.scene.qadr(f"THJ{k}") for k in (4, 3, 2, 1, 0)]
        self.kd = np.zeros(self.scene.model.nu)
        self.kd[:2] = KD_ARM  # ARRx, ARRy
        self.reset(0)

    def reset(self, seed: int) -> None:
        """Restart the phase clock; the controller has no randomness, so the seed is not needed."""
        self.t = 0
        self.t0 = 0  # start of the current grasp attempt
        self.retries = 0
        self.strike = 0  # 0: carry to the aim point, 1: swing through, 2: draw back
        self.t_strike = 0
        self.head0: np.ndarray | None = None

    def act(self, obs: np.ndarray, state: dict[str, np.ndarray]) -> np.ndarray:
        sc = self.scene
        sc.load(state)
        d = sc.data
        q = d.qpos.copy()
        t, self.t = self.t, self.t + 1
        obj = d.body("Object")
        hpos, hrot = obj.xpos.copy(), obj.xmat.reshape(3, 3)
        if t - self.t0 >= T_LIFT and hpos[2] < LIFTED and self.retries < RETRIES:
            self.retries += 1  # the hammer stayed on the table: open the hand and grasp again
            self.t0, self.strike, self.head0 = t, 0, None
        k = t - self.t0
        curl, thumb, kp = CURL_CLOSED, THUMB_CLOSED, KP_GRASP
        if k < T_DOWN:  # above the handle, then down onto it, hand open
            q_t = sc.ik("S_grasp", ARM, hpos + (ABOVE if k < T_ABOVE else GRASP))
            curl, thumb = CURL_OPEN, THUMB_OPEN
        elif k < T_GRIP:  # close the hand round the handle
            q_t = sc.ik("S_grasp", ARM, hpos + GRASP)
        elif k < T_LIFT:  # lift
            q_t = sc.ik("S_grasp", ARM, hpos + GRASP + LIFT * min(1.0, (k - T_GRIP) / LIFT_STEPS))
        else:
            kp = KP_STRIKE
            head = hpos + hrot @ HEAD
            nail = d.site("S_target").xpos.copy()
            axis = d.site("nail_goal").xpos - nail
            axis /= np.linalg.norm(axis) + 1e-9  # the nail's drive direction (horizontal, mostly +x)
            aim = nail - BACK * axis
            if self.strike == 0:  # carry the head to the aim point, slowly so the hammer stays in hand
                if self.head0 is None:
                    self.head0 = head.copy()
                alpha = min(1.0, (k - T_LIFT) / T_CARRY)
                target = self.head0 + alpha * (aim - self.head0)
                if (alpha >= 1.0 and np.linalg.norm(head - aim) < AIM_TOL) or k - T_LIFT > T_AIM_MAX:
                    self.strike, self.t_strike = 1, t
            elif self.strike == 1:  # swing through the nail head
                target = nail + THROUGH * axis
                if t - self.t_strike >= T_SWING:
                    self.strike, self.t_strike = 2, t
            else:  # draw back
                target = aim
                if t - self.t_strike >= T_DRAW:
                    self.strike, self.t_strike = 1, t
            q_t = sc.ik_point("palm", head, ARM, target)
        arm = slice(0, len(ARM))  # hammer's arm + wrist joints are qpos[0:4]
        q_t[arm] = q[arm] + kp * (q_t[arm] - q[arm])
        q_t[self.fingers] = curl
        q_t[self.thumb] = thumb
        return sc.action(q_t, self.kd)
