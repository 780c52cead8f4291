"""Scenes: RRL's fork's cameras and colours (scene rrl) against Gymnasium's scene as shipped; physics the same."""

import mujoco
import numpy as np
import pytest

from pipeline.errors import PipelineError
from pipeline.render.renderer import FrameRenderer
from pipeline.tasks import TASKS, get_task, make_env

# The camera elements of RRL's mj_envs fork (github.com/ShahRutav/mj_envs, branch rrl,
# mj_envs/hand_manipulation_suite/assets/DAPG_<task>.xml), copied verbatim: every one sits in the worldbody.
FORK_CAMERAS = {
    "door": ['<camera name="top" pos="0 0 1.5" euler="0 0 3.14" />'],
    "hammer": ['<camera name="top" pos="0 0 1.1" euler="0 0 3.14" />'],
    "pen": ['<camera name="vil_camera" pos="0 -0.8 0.8" quat="0.92388 0.382683 0 0" />'],
    "relocate": ['<camera name="cam1" pos="0 -0.04 -1.0" euler="-3.14 0 3.14" />',
                 '<camera name="cam2" pos="0 0.8 0.2" euler="-1.57 0 3.14" />',
                 '<camera name="cam3" pos="0.8 0. 0.2" euler="0 1.57 1.57" />'],
}


@pytest.mark.parametrize("task", list(TASKS))
def test_rrl_scene_cameras_are_the_forks(task):
    # the fork's DAPG_assets.xml compiles with angle="radian" and MuJoCo's default euler sequence
    fork = mujoco.MjModel.from_xml_string(
        f'<mujoco><compiler angle="radian"/><worldbody>{"".join(FORK_CAMERAS[task])}</worldbody></mujoco>')
    ours = get_task(task).build_render_model("rrl")
    assert get_task(task).scene_camera_names("rrl") == tuple(fork.camera(i).name for i in range(fork.ncam))
    for i in range(fork.ncam):
        name = fork.camera(i).name
        np.testing.assert_allclose(ours.camera(name).pos, fork.camera(i).pos, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(ours.camera(name).quat, fork.camera(i).quat, atol=1e-9, err_msg=name)


def test_rrl_scene_applies_the_forks_colours_and_gymnasium_keeps_its_own():
    relocate = get_task("relocate")
    rrl, gym = relocate.build_render_model("rrl"), relocate.build_render_model("gymnasium")
    table = [g for g in range(rrl.ngeom) if rrl.geom_bodyid[g] == rrl.body("table").id]
    assert len(table) == 5 and not rrl.geom_rgba[table, 3].any() and gym.geom_rgba[table, 3].all()
    np.testing.assert_array_equal(rrl.geom("sphere").rgba, [1, 0, 0, 1])
    assert rrl.geom("sphere").matid[0] == -1 and gym.geom("sphere").matid[0] >= 0  # Gymnasium: wood
    assert (rrl.site("target").rgba[3], gym.site("target").rgba[3]) == pytest.approx((0.3, 0.125))
    assert not rrl.light_castshadow.any() and gym.light_castshadow.all()
    assert relocate.scene_camera_names("gymnasium") == ("vil_camera", "top", "side")
    pen = get_task("pen")
    rrl, gym = pen.build_render_model("rrl"), pen.build_render_model("gymnasium")
    for geom, alpha in (("pen", 0.6), ("target", 0.3)):
        assert (rrl.geom(geom).rgba[3], gym.geom(geom).rgba[3]) == pytest.approx((1.0, alpha))
    # door and hammer: the fork changed their cameras only, so both scenes compile to the same model
    for task in ("door", "hammer"):
        a, b = get_task(task).build_render_model("rrl"), get_task(task).build_render_model("gymnasium")
        np.testing.assert_array_equal(a.geom_rgba, b.geom_rgba)
        np.testing.assert_array_equal(a.geom_matid, b.geom_matid)


@pytest.mark.parametrize("task", list(TASKS))
def test_physics_is_the_same_in_either_scene(task):
    """The same actions from the same state give the same states: a scene edits only what is drawn (relocate's
    invisible table still holds the ball up)."""
    spec = get_task(task)
    models = [spec.build_render_model(scene) for scene in ("rrl", "gymnasium")]
    datas = [mujoco.MjData(m) for m in models]
    ctrl = np.random.default_rng(0).uniform(-1, 1, (150, models[0].nu))
    for m, d in zip(models, datas):
        for u in ctrl:
            d.ctrl[:] = u
            mujoco.mj_step(m, d)
    np.testing.assert_array_equal(datas[0].qpos, datas[1].qpos)
    np.testing.assert_array_equal(datas[0].qvel, datas[1].qvel)
    if task == "relocate":
        assert datas[0].body("Object").xpos[2] > 0.02  # resting on the table, not fallen through it


def test_relocate_renders_the_red_ball_from_all_three_rrl_cameras():
    env = make_env("relocate")
    env.reset(seed=0)
    env_state = env.get_state()
    with FrameRenderer("relocate", 96, scene="rrl") as renderer:
        assert renderer.cameras == ("cam1", "cam2", "cam3")
        frames = renderer.render(env_state).astype(int)
        assert renderer.attrs()["scene"] == "rrl"
    r, g, b = frames[..., 0], frames[..., 1], frames[..., 2]
    red = (r > 60) & (r > 2.5 * g) & (r > 2.5 * b)  # shaded red: cam1 sees the ball's unlit underside
    # cam1 looks up from under the floor: it sees the ball only because the fork made the table invisible
    assert all(red[i].sum() >= 4 for i in range(3)), [int(red[i].sum()) for i in range(3)]


def test_an_unknown_scene_is_a_clear_error():
    with pytest.raises(PipelineError, match="unknown scene 'mjenvs'; valid: rrl, gymnasium"):
        FrameRenderer("door", 32, scene="mjenvs")
