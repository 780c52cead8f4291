"""Each task's reward signals: named, one value per name, and the `rrl` one is the task's staged reward."""

import numpy as np
import pytest

from pipeline.tasks import TASKS, make_env
from pipeline.tasks.signals import reward_signals, signal_names


@pytest.mark.parametrize("task", sorted(TASKS))
def test_signals_are_named_finite_and_start_with_the_rrl_reward(task):
    env = make_env(task)
    env.reset(seed=0)
    values = reward_signals(task, env.model, env.data)
    names = signal_names(task)
    assert names[0] == "rrl" and len(names) == len(set(names)) == len(values) >= 3
    assert np.isfinite(values).all()
    assert values[0] == env.spec.rrl_reward_fn(env.model, env.data)


def test_door_signals_follow_the_hinge():
    env = make_env("door")
    env.reset(seed=0)
    closed = dict(zip(signal_names("door"), reward_signals("door", env.model, env.data)))
    assert closed["hinge"] == 0.0 and closed["rrl"] == pytest.approx(-0.1 * 1.57**2)
    state = env.get_state()
    state["qpos"][env.model.joint("door_hinge").qposadr[0]] = 1.5  # opened past RRL's 1.35 and 1.0 stages
    env.set_state(state)
    opened = dict(zip(signal_names("door"), reward_signals("door", env.model, env.data)))
    assert opened["hinge"] == pytest.approx(1.5) and opened["rrl"] == pytest.approx(-0.1 * 0.07**2 + 20.0)
    assert opened["palm_handle"] != closed["palm_handle"]  # the handle moved with the door
