"""Task specs for the four Adroit hand tasks, with RRL's cameras, proprioception and success rules.

Everything here is a pure function of a MuJoCo (model, data) pair, so the same code scores the physics env,
a kinematic replay and a renderer's private copy of the scene. The rewards, success rules and scenes are those of
RRL's mj_envs fork (github.com/ShahRutav/mj_envs, branch rrl), which trained and scored the paper.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import mujoco
import numpy as np

from pipeline.errors import PipelineError
from pipeline.tasks.scene import CameraSpec, Look, apply_camera, check_scene

REWARD_MODES = ("rrl", "dapg-dense", "dense", "sparse", "gym-sparse")
SUCCESS_RULES = ("rrl", "dapg")


@dataclass(frozen=True)
class StateParam:
    """A model parameter that a reset randomises and that therefore belongs to the simulator state."""

    key: str  # name in the state dict and in the demo file's env_state group
    kind: str  # "body_pos" | "body_quat" | "site_pos"
    element: str  # body or site name in the MJCF

    @property
    def width(self) -> int:
        return 4 if self.kind.endswith("quat") else 3


@dataclass(frozen=True)
class TaskSpec:
    """Everything task-specific the pipeline needs; one instance per Adroit task."""

    name: str
    env_id: str
    horizon: int
    action_dim: int
    nq: int  # qpos size; nv equals nq for every Adroit task (hinges, slides, and free joints split in 6)
    cameras: tuple[CameraSpec, ...]  # RRL's rig (scene rrl)
    proprio_slice: slice  # 24 hand joint positions inside qpos (RRL's observation)
    success_min_steps: int  # success = the goal holds on MORE than this many steps
    state_params: tuple[StateParam, ...]
    goal_fn: Callable[[mujoco.MjModel, mujoco.MjData], bool] = field(repr=False)  # RRL's fork (the paper's numbers)
    rrl_reward_fn: Callable[[mujoco.MjModel, mujoco.MjData], float] = field(repr=False)
    dapg_goal_fn: Callable[[mujoco.MjModel, mujoco.MjData], bool] | None = field(default=None, repr=False)
    # the episode ends early when this holds (pen: the pen dropped), as in mj_envs v0 and RRL's fork
    failed_fn: Callable[[mujoco.MjModel, mujoco.MjData], bool] | None = field(default=None, repr=False)
    # (site, "site"|"body", name): the hand-to-object distance whose sign gymnasium-robotics 1.2.1+ flipped
    approach: tuple[str, str, str] | None = None
    rrl_look: Look = Look()  # RRL's fork's colour and shadow edits (scene rrl)
    gymnasium_cameras: tuple[CameraSpec, ...] | None = None  # scene gymnasium's rig; None: the same as RRL's

    @property
    def camera_names(self) -> tuple[str, ...]:
        """The default scene's (rrl) camera rig."""
        return self.scene_camera_names("rrl")

    def scene_cameras(self, scene: str) -> tuple[CameraSpec, ...]:
        check_scene(scene)
        if scene == "gymnasium" and self.gymnasium_cameras is not None:
            return self.gymnasium_cameras
        return self.cameras

    def scene_camera_names(self, scene: str) -> tuple[str, ...]:
        return tuple(c.name for c in self.scene_cameras(scene))

    def goal_achieved(self, model: mujoco.MjModel, data: mujoco.MjData, rule: str = "rrl") -> bool:
        """The per-step goal, computed from the simulator (positions must be up to date: mj_forward).

        rule "rrl": RRL's mj_envs fork, which scored the paper (door hinge > 1.4, pen orientation only);
        rule "dapg": DAPG's mj_envs v0 and Gymnasium-Robotics v1 (door hinge >= 1.35, pen position and orientation).
        """
        if rule == "rrl":
            return bool(self.goal_fn(model, data))
        if rule == "dapg":
            return bool((self.dapg_goal_fn or self.goal_fn)(model, data))
        raise PipelineError(f"unknown success rule {rule!r}; valid: {', '.join(SUCCESS_RULES)}")

    def failed(self, model: mujoco.MjModel, data: mujoco.MjData) -> bool:
        """True when the episode must end now (pen: dropped below z 0.075); False for tasks without such a state."""
        return self.failed_fn is not None and bool(self.failed_fn(model, data))

    def is_success(self, goal_flags: np.ndarray) -> bool:
        """RRL/DAPG rule: an episode succeeds when the goal holds on more than `success_min_steps` steps."""
        return int(np.count_nonzero(goal_flags)) > self.success_min_steps

    def proprio(self, qpos: np.ndarray) -> np.ndarray:
        """The 24 hand joint positions the policy sees, from one qpos (nq,) or a batch (T, nq)."""
        out = np.asarray(qpos)[..., self.proprio_slice]
        assert out.shape[-1] == 24, f"{self.name}: proprio slice gave {out.shape[-1]} joints, expected 24"
        return out

    def dapg_dense(self, dense_reward: float, model: mujoco.MjModel, data: mujoco.MjData) -> float:
        """mj_envs v0's shaped reward, which DAPG and RRL's dense runs used. Gymnasium-Robotics 1.4.2's v1 door,
        hammer and relocate rewards equal it but for the hand-to-object term: +0.1*d (rewarding the hand for
        moving away) where mj_envs had -0.1*d. Subtracting 0.2*d from the same post-step data restores it."""
        if self.approach is None:  # pen: unchanged
            return float(dense_reward)
        site, kind, name = self.approach
        target = data.site(name).xpos if kind == "site" else data.body(name).xpos
        return float(dense_reward) - 0.2 * float(np.linalg.norm(data.site(site).xpos - target))

    def reward(self, mode: str, goal: bool, gym_dense: float, model: mujoco.MjModel, data: mujoco.MjData) -> float:
        """Reward of one step under a named mode, from the simulator state after the step (see the module docstring).

        rrl:        RRL's fork (USE_SPARSE_REWARDS): each task's staged reward, what the paper trained with.
        dapg-dense: DAPG's mj_envs v0 shaped reward (see dapg_dense).
        dense:      Gymnasium-Robotics 1.4.2's v1 shaped reward, as that env returns it (sign of the hand term flipped).
        sparse:     1 when the per-step goal holds, else 0 (this project's indicator reward).
        gym-sparse: Gymnasium-Robotics' sparse variant, +10 / -0.1.
        """
        if mode == "rrl":
            return float(self.rrl_reward_fn(model, data))
        if mode == "dapg-dense":
            return self.dapg_dense(gym_dense, model, data)
        if mode == "dense":
            return float(gym_dense)
        if mode == "sparse":
            return 1.0 if goal else 0.0
        if mode == "gym-sparse":
            return 10.0 if goal else -0.1
        raise PipelineError(f"unknown reward mode {mode!r}; valid: {', '.join(REWARD_MODES)}")

    # --- full simulator state, for exact replay -------------------------------------------------------------

    def get_state(self, model: mujoco.MjModel, data: mujoco.MjData) -> dict[str, np.ndarray]:
        """qpos, qvel and every randomised model parameter: enough to re-create the scene exactly."""
        state = {"qpos": data.qpos.copy(), "qvel": data.qvel.copy()}
        for p in self.state_params:
            state[p.key] = _param_view(model, p).copy()
        return state

    def set_state(self, model: mujoco.MjModel, data: mujoco.MjData, state: dict[str, np.ndarray]) -> None:
        """Inverse of get_state; runs mj_forward so positions, sites and sensors are current."""
        missing = [k for k in self.state_keys if k not in state]
        if missing:
            raise PipelineError(f"{self.name}: state lacks {', '.join(missing)}")
        qpos, qvel = np.asarray(state["qpos"]), np.asarray(state["qvel"])
        if qpos.shape != (model.nq,) or qvel.shape != (model.nv,):
            raise PipelineError(
                f"{self.name}: state qpos/qvel shapes {qpos.shape}/{qvel.shape}, model needs ({model.nq},)/({model.nv},)"
            )
        self.set_params(model, {p.key: state[p.key] for p in self.state_params})
        data.qpos[:] = qpos
        data.qvel[:] = qvel
        mujoco.mj_forward(model, data)

    def set_params(self, model: mujoco.MjModel, params: dict[str, np.ndarray]) -> None:
        """Write randomised model parameters (the non-qpos part of a state) into `model`."""
        by_key = {p.key: p for p in self.state_params}
        for key, value in params.items():
            _param_view(model, by_key[key])[:] = value

    @property
    def state_keys(self) -> tuple[str, ...]:
        return ("qpos", "qvel") + tuple(p.key for p in self.state_params)

    # --- models ---------------------------------------------------------------------------------------------

    @property
    def xml_path(self) -> str:
        # find_spec locates the package without importing it (its import prints a notice and is slow)
        spec = importlib.util.find_spec("gymnasium_robotics")
        if spec is None or spec.origin is None:
            raise PipelineError("gymnasium-robotics is not installed; its Adroit models are the scenes (make setup)")
        base = os.path.dirname(spec.origin)
        return os.path.join(base, "envs", "assets", "adroit_hand", f"adroit_{self.name}.xml")

    def build_render_model(
        self,
        scene: str = "rrl",
        edit: Callable[[mujoco.MjSpec], None] | None = None,
    ) -> mujoco.MjModel:
        """The task's scene compiled with the scene's cameras added or moved (Gymnasium ships only fixed/vil_camera)
        and, for scene rrl, RRL's fork's colour and shadow edits.

        Used for kinematic rendering: the physics env keeps the stock model, whose actuator gains it edits.
        `edit` may add render-only elements (the distractor object) before compiling.
        """
        spec = mujoco.MjSpec.from_file(self.xml_path)
        for cam in self.scene_cameras(scene):
            apply_camera(spec, cam)
        if scene == "rrl":
            self.rrl_look.apply(spec)
        if edit is not None:
            edit(spec)
        return spec.compile()


def _param_view(model: mujoco.MjModel, p: StateParam) -> np.ndarray:
    if p.kind == "body_pos":
        return model.body(p.element).pos
    if p.kind == "body_quat":
        return model.body(p.element).quat
    if p.kind == "site_pos":
        return model.site(p.element).pos
    raise ValueError(p.kind)


# --- per-step goals, rewards and failures, from the sim (RRL's mj_envs fork, branch rrl, *_v0.py step()) ----------


def _door_hinge(data: mujoco.MjData) -> float:
    return float(data.joint("door_hinge").qpos[0])


def _door_goal(model: mujoco.MjModel, data: mujoco.MjData) -> bool:
    return _door_hinge(data) > 1.4


def _door_goal_dapg(model: mujoco.MjModel, data: mujoco.MjData) -> bool:
    return _door_hinge(data) >= 1.35


def _door_reward(model: mujoco.MjModel, data: mujoco.MjData) -> float:
    d = _door_hinge(data)
    return -0.1 * (d - 1.57) ** 2 + 2.0 * (d > 0.2) + 8.0 * (d > 1.0) + 10.0 * (d > 1.35)


def _nail_distance(data: mujoco.MjData) -> float:
    return float(np.linalg.norm(data.site("S_target").xpos - data.site("nail_goal").xpos))


def _hammer_goal(model: mujoco.MjModel, data: mujoco.MjData) -> bool:
    return _nail_distance(data) < 0.01


def _hammer_reward(model: mujoco.MjModel, data: mujoco.MjData) -> float:
    d = _nail_distance(data)
    return -10.0 * d + 25.0 * (d < 0.02) + 75.0 * (d < 0.01)


def _pen_distance_similarity(data: mujoco.MjData) -> tuple[float, float]:
    distance = np.linalg.norm(data.body("Object").xpos - data.site("eps_ball").xpos)
    pen_axis = data.site("object_top").xpos - data.site("object_bottom").xpos
    target_axis = data.site("target_top").xpos - data.site("target_bottom").xpos
    similarity = np.dot(pen_axis, target_axis) / (np.linalg.norm(pen_axis) * np.linalg.norm(target_axis))
    return float(distance), float(similarity)


def _pen_goal(model: mujoco.MjModel, data: mujoco.MjData) -> bool:
    return _pen_distance_similarity(data)[1] > 0.95  # RRL's fork: the position test is commented out


def _pen_goal_dapg(model: mujoco.MjModel, data: mujoco.MjData) -> bool:
    distance, similarity = _pen_distance_similarity(data)
    return distance < 0.075 and similarity > 0.95


def _pen_reward(model: mujoco.MjModel, data: mujoco.MjData) -> float:
    return 50.0 if _pen_goal_dapg(model, data) else 0.0  # the reward keeps the position test


def _pen_dropped(model: mujoco.MjModel, data: mujoco.MjData) -> bool:
    return float(data.body("Object").xpos[2]) < 0.075


def _object_target_distance(data: mujoco.MjData) -> float:
    return float(np.linalg.norm(data.body("Object").xpos - data.site("target").xpos))


def _relocate_goal(model: mujoco.MjModel, data: mujoco.MjData) -> bool:
    return _object_target_distance(data) < 0.1


def _relocate_reward(model: mujoco.MjModel, data: mujoco.MjData) -> float:
    d = _object_target_distance(data)
    return 10.0 * (d < 0.1) + 20.0 * (d < 0.05)


_TOP_EULER = (0.0, 0.0, 3.14)

TASKS: dict[str, TaskSpec] = {
    "door": TaskSpec(
        name="door",
        env_id="AdroitHandDoor-v1",
        horizon=200,
        action_dim=28,
        nq=30,
        cameras=(CameraSpec("top", pos=(0.0, 0.0, 1.5), euler=_TOP_EULER),),
        proprio_slice=slice(4, -2),
        success_min_steps=25,
        state_params=(StateParam("door_body_pos", "body_pos", "frame"),),
        goal_fn=_door_goal,
        rrl_reward_fn=_door_reward,
        dapg_goal_fn=_door_goal_dapg,
        approach=("S_grasp", "site", "S_handle"),
    ),
    "hammer": TaskSpec(
        name="hammer",
        env_id="AdroitHandHammer-v1",
        horizon=200,
        action_dim=26,
        nq=33,
        cameras=(CameraSpec("top", pos=(0.0, 0.0, 1.1), euler=_TOP_EULER),),
        proprio_slice=slice(2, -7),
        success_min_steps=25,
        state_params=(StateParam("board_pos", "body_pos", "nail_board"),),
        goal_fn=_hammer_goal,
        rrl_reward_fn=_hammer_reward,
        approach=("S_grasp", "body", "Object"),
    ),
    "pen": TaskSpec(
        name="pen",
        env_id="AdroitHandPen-v1",
        horizon=100,  # RRL's horizon for pen; Gymnasium registers 200
        action_dim=24,
        nq=30,
        cameras=(CameraSpec("vil_camera", pos=(0.0, -0.8, 0.8)),),  # RRL's fork moved it closer
        proprio_slice=slice(None, -6),
        success_min_steps=20,
        state_params=(StateParam("desired_orien", "body_quat", "target"),),
        goal_fn=_pen_goal,
        rrl_reward_fn=_pen_reward,
        dapg_goal_fn=_pen_goal_dapg,
        failed_fn=_pen_dropped,
        # Gymnasium: the pen at alpha 0.6, the target pen (the only cue of the goal) at 0.3; RRL's fork: both opaque
        rrl_look=Look(geom_rgba=(("pen", (0.6, 0.6, 0.6, 1.0)), ("target", (0.6, 0.6, 0.6, 1.0)))),
    ),
    "relocate": TaskSpec(
        name="relocate",
        env_id="AdroitHandRelocate-v1",
        horizon=200,
        action_dim=30,
        nq=36,
        # RRL's fork's DAPG_relocate.xml; its logs name them bottom (cam1, under the see-through table), top and
        # left_cross
        cameras=(
            CameraSpec("cam1", pos=(0.0, -0.04, -1.0), euler=(-3.14, 0.0, 3.14)),
            CameraSpec("cam2", pos=(0.0, 0.8, 0.2), euler=(-1.57, 0.0, 3.14)),
            CameraSpec("cam3", pos=(0.8, 0.0, 0.2), euler=(0.0, 1.57, 1.57)),
        ),
        gymnasium_cameras=(  # the project's own rig from before RRL's poses were found
            CameraSpec("vil_camera"),
            CameraSpec("top", pos=(0.0, 0.05, 1.3), euler=_TOP_EULER),
            CameraSpec("side", pos=(-1.0, 0.05, 0.6), lookat=(0.0, 0.05, 0.15)),
        ),
        proprio_slice=slice(6, -6),
        success_min_steps=25,
        state_params=(
            StateParam("obj_body_pos", "body_pos", "Object"),
            StateParam("target_site_pos", "site_pos", "target"),
        ),
        goal_fn=_relocate_goal,
        rrl_reward_fn=_relocate_reward,
        approach=("S_grasp", "body", "Object"),
        # RRL's fork: the table invisible (cam1 looks up through it), the ball red, the target less faint, no shadows
        rrl_look=Look(geom_rgba=(("sphere", (1.0, 0.0, 0.0, 1.0)),), body_rgba=(("table", (0.0, 0.0, 0.0, 0.0)),),
                      site_rgba=(("target", (0.0, 1.0, 0.0, 0.3)),), shadows=False),
    ),
}


def get_task(name: str) -> TaskSpec:
    """The spec of a task by name, with a clear error listing the valid names."""
    try:
        return TASKS[name]
    except KeyError:
        raise PipelineError(f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}") from None
