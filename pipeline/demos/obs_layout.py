"""Where each task's Gymnasium state observation puts the simulator state: what reconstruct.py copies verbatim
and what it solves for.

What each task's observation gives (gymnasium-robotics 1.4.2, `envs/adroit_hand/adroit_*.py`, `_get_obs`):

- door (39):  qpos[1:-2], latch = qpos[-1], hinge = qpos[-2], palm(3), handle(3), palm-handle(3), door_open.
  qpos[0] (ARTz, a slide) is solved from the palm: the palm is linear in it, so this is exact. door_body_pos
  (the `frame` body) is solved from the handle position when the source does not give it.
- hammer (46): qpos[:-6], clipped qvel[-6:], palm, object position, object euler, nail-target site, nail impact.
  The hammer's 6 joints are solved from its position and euler angles (exactly determined); board_pos from the
  nail-target site. The object's qvel is the recorded one where it was not clipped at +-1.
- pen (45): qpos[:-6], object position, object qvel (exact), object axis, target axis, two differences. The pen's
  roll about its own axis is not observable: the solve keeps it at its previous value (approximate, but the pen
  and the task's goal are symmetric about that axis). The target orientation is solved as euler (x, y, 0), the
  form the env's reset draws it in.
- relocate (39): qpos[:-6], palm-object, palm-target, object-target. The object's position is solved; its
  orientation is not observable and stays at the source's initial value (approximate). The object's body
  position is taken from the source, else from step 0 assuming the object joints start at zero.
"""

from __future__ import annotations

from dataclasses import dataclass

OBS_DIM = {"door": 39, "hammer": 46, "pen": 45, "relocate": 39}


@dataclass(frozen=True)
class _Layout:
    direct: tuple[tuple[slice, slice], ...]  # (qpos slice, obs slice) copied verbatim
    solve_qpos: slice  # qpos entries solved by least squares
    solve_obs: tuple[int, ...]  # obs entries matched by that solve
    angle_obs: tuple[int, ...]  # the subset of solve_obs that are angles (residual wrapped to [-pi, pi])
    check_obs: tuple[int, ...]  # obs entries that are functions of positions only: the reconstruction error
    palm_obs: slice | None  # where the palm position sits in the obs, when it does
    vel_direct: tuple[slice, slice] | None  # (qvel slice, obs slice) recorded velocities
    vel_clip: float | None  # the recorded velocities were clipped to +-this
    approximate: str  # what the observation cannot tell


def _r(a: int, b: int) -> tuple[int, ...]:
    return tuple(range(a, b))


LAYOUTS: dict[str, _Layout] = {
    "door": _Layout(
        direct=((slice(1, 28), slice(0, 27)), (slice(29, 30), slice(27, 28)), (slice(28, 29), slice(28, 29))),
        solve_qpos=slice(0, 1),
        solve_obs=_r(29, 32),
        angle_obs=(),
        check_obs=_r(0, 39),
        palm_obs=slice(29, 32),
        vel_direct=None,
        vel_clip=None,
        approximate="qvel (finite differences)",
    ),
    "hammer": _Layout(
        direct=((slice(0, 27), slice(0, 27)),),
        solve_qpos=slice(27, 33),
        solve_obs=_r(36, 42),
        angle_obs=_r(39, 42),
        check_obs=_r(0, 27) + _r(33, 45),
        palm_obs=slice(33, 36),
        vel_direct=(slice(27, 33), slice(27, 33)),
        vel_clip=1.0,
        approximate="qvel of the hand (finite differences) and of the hammer where clipped at +-1",
    ),
    "pen": _Layout(
        direct=((slice(0, 24), slice(0, 24)),),
        solve_qpos=slice(24, 30),
        solve_obs=_r(24, 27) + _r(33, 36),
        angle_obs=(),
        check_obs=_r(0, 27) + _r(33, 45),
        palm_obs=None,
        vel_direct=(slice(24, 30), slice(27, 33)),
        vel_clip=None,
        approximate="pen roll about its own axis and target roll (unobservable), hand qvel (finite differences)",
    ),
    "relocate": _Layout(
        direct=((slice(0, 30), slice(0, 30)),),
        solve_qpos=slice(30, 33),
        solve_obs=_r(30, 33),
        angle_obs=(),
        check_obs=_r(0, 39),
        palm_obs=None,
        vel_direct=None,
        vel_clip=None,
        approximate="object orientation (unobservable, kept at its initial value), qvel (finite differences)",
    ),
}
