"""Visual distractors (RRL appendix 7.5): they change pixels, never the simulated state, and travel to workers."""

import pickle

import numpy as np
import pytest

from pipeline.errors import PipelineError
from pipeline.render.distractors import (
    DISTRACTOR_FIELDS,
    DISTRACTOR_KINDS,
    ExtraObject,
    LightDirection,
    LightPosition,
    ObjectColours,
    sample_distractor,
)
from pipeline.render.pool import RendererConfig, RenderJob, render_jobs
from pipeline.render.renderer import FrameRenderer
from pipeline.tasks import TASKS, make_env

SIZE = 48
CLASSES = {
    "light_position": LightPosition,
    "light_direction": LightDirection,
    "object_colour": ObjectColours,
    "extra_object": ExtraObject,
}


def _states(task, n=3):
    """A physics env and a few states of it, past the reset pose (random actions, fixed seed)."""
    env = make_env(task, horizon=20)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    states = []
    for _ in range(n):
        env.step(rng.uniform(-1, 1, env.action_dim))
        states.append(env.get_state())
    return env, states


@pytest.fixture(scope="module", params=list(TASKS))
def scene(request):
    task = request.param
    env, states = _states(task)
    with FrameRenderer(task, SIZE) as renderer:
        yield task, env, states[-1], renderer


def _model_arrays(model):
    out = {}
    for name in dir(model):
        if name.startswith("_"):
            continue
        value = getattr(model, name, None)
        if isinstance(value, np.ndarray):
            out[name] = value.copy()
    return out


@pytest.mark.parametrize("kind", DISTRACTOR_KINDS)
def test_distractor_changes_pixels_but_not_the_state(scene, kind):
    task, env, state, renderer = scene
    renderer.set_distractor(None)
    plain = renderer.render(state).copy()
    env_state = env.get_state()
    env_model = _model_arrays(env.model)

    distractor = sample_distractor(kind, task, 0)
    assert isinstance(distractor, CLASSES[kind]) and distractor.name == kind
    renderer.set_distractor(distractor)
    frames = renderer.render(state).copy()

    assert not np.array_equal(frames[0], plain[0]), f"{task}/{kind}: the first camera did not change"
    # the renderer shows the requested state, and the physics env is untouched (state and model)
    np.testing.assert_array_equal(renderer.data.qpos, state["qpos"])
    np.testing.assert_array_equal(renderer.data.qvel, state["qvel"])
    for key, value in env.get_state().items():
        np.testing.assert_array_equal(value, env_state[key], err_msg=key)
    for name, value in _model_arrays(env.model).items():
        np.testing.assert_array_equal(value, env_model[name], err_msg=f"physics model field {name}")

    # back to the plain scene, exactly
    renderer.set_distractor(None)
    np.testing.assert_array_equal(renderer.render(state), plain)


@pytest.mark.parametrize("kind", DISTRACTOR_KINDS)
def test_apply_edits_only_the_listed_render_fields(kind):
    task = "hammer"  # has material-less and material geoms, a nail, a board and the hammer
    with FrameRenderer(task, 16) as renderer:
        before = _model_arrays(renderer.model)
        sample_distractor(kind, task, 1).apply(renderer.model)
        after = _model_arrays(renderer.model)
    changed = {name for name in before if not np.array_equal(before[name], after[name])}
    assert changed and changed <= set(DISTRACTOR_FIELDS), changed


def test_extra_object_is_seen_by_every_camera(scene):
    task, _, state, renderer = scene
    renderer.set_distractor(None)
    plain = renderer.render(state).copy()
    for seed in range(5):
        renderer.set_distractor(sample_distractor("extra_object", task, seed))
        frames = renderer.render(state)
        for cam, name in enumerate(renderer.cameras):
            assert not np.array_equal(frames[cam], plain[cam]), f"{task}: seed {seed} object not in camera {name}"
    renderer.set_distractor(None)


def test_object_colours_touch_only_task_objects():
    with FrameRenderer("door", 16) as renderer:
        model = renderer.model
        rgba = model.geom_rgba.copy()
        sample_distractor("object_colour", "door", 0).apply(model)
        changed = {
            model.body(model.geom_bodyid[g]).name
            for g in range(model.ngeom)
            if not np.array_equal(rgba[g], model.geom_rgba[g])
        }
    assert changed == {"frame", "door", "latch"}


@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("kind", DISTRACTOR_KINDS)
def test_sampling_is_reproducible_and_varies_with_the_seed(kind, task):
    assert sample_distractor(kind, task, 7) == sample_distractor(kind, task, 7)
    draws = {sample_distractor(kind, task, seed) for seed in range(10)}
    assert len(draws) == 10


def test_sampled_ranges_are_sensible():
    for task in TASKS:
        for seed in range(50):
            light = sample_distractor("light_position", task, seed)
            assert light.pos[2] > 0.8  # above the table, the door and the hand
            direction = np.asarray(sample_distractor("light_direction", task, seed).dir)
            assert abs(np.linalg.norm(direction) - 1) < 1e-9 and direction[2] < -0.4  # aimed down at the scene
            obj = sample_distractor("extra_object", task, seed)
            assert obj.pos[2] >= max(obj.size)  # on or above the table top (z = 0)
            assert max(obj.size) <= 0.07 and abs(obj.pos[0]) <= 0.4 and abs(obj.pos[1]) <= 0.4


def test_unknown_kind_or_task_is_a_clear_error():
    with pytest.raises(PipelineError, match="light_position, light_direction, object_colour, extra_object"):
        sample_distractor("fog", "door", 0)
    with pytest.raises(PipelineError, match="door"):
        sample_distractor("extra_object", "drawer", 0)


@pytest.mark.parametrize("kind", DISTRACTOR_KINDS)
def test_distractor_survives_pickling(kind):
    distractor = sample_distractor(kind, "relocate", 3)
    copy = pickle.loads(pickle.dumps(distractor))
    assert copy == distractor and type(copy) is type(distractor) and copy.name == kind


@pytest.mark.slow
def test_pool_renders_distractors_the_same_with_one_and_two_workers():
    task = "door"
    _, states = _states(task, n=4)
    sampled = [pickle.loads(pickle.dumps(sample_distractor(k, task, 5))) for k in DISTRACTOR_KINDS]
    distractors = [None, *sampled, None]

    def jobs():
        return [RenderJob(key=i, states=states[i % 2 : i % 2 + 2], distractor=d) for i, d in enumerate(distractors)]

    config = RendererConfig(task, SIZE, "fast", None)
    one = [frames for _, frames in render_jobs(config, jobs(), workers=1)]
    two = [frames for _, frames in render_jobs(config, jobs(), workers=2)]
    assert len(one) == len(two) == len(distractors)
    for i, (a, b) in enumerate(zip(one, two)):
        np.testing.assert_array_equal(a, b, err_msg=f"job {i}")
    # each distractor job differs from the plain job of the same states; plain jobs match a direct render
    for i in range(1, len(distractors) - 1):
        plain = one[0] if i % 2 == 0 else one[-1]
        assert not np.array_equal(one[i], plain)
    with FrameRenderer(task, SIZE) as renderer:
        np.testing.assert_array_equal(one[0][0], renderer.render(states[0]))
