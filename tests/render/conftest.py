import pytest

from pipeline.demos.rollout import RandomPolicy, rollout
from pipeline.formats.demos import write_demos
from pipeline.tasks import make_env


def make_demo_file(path, task="door", n=2, horizon=12):
    env = make_env(task, horizon=horizon)
    episodes = [rollout(env, RandomPolicy(env.action_dim), seed=s) for s in range(n)]
    write_demos(path, task, "test", episodes, "sparse")
    return episodes


@pytest.fixture(scope="session")
def door_demos(tmp_path_factory):
    path = tmp_path_factory.mktemp("demos") / "door.h5"
    return path, make_demo_file(path)
