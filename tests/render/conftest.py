import numpy as np
import pytest

from pipeline.demos.rollout import rollout
from pipeline.demos.store import write_demos
from pipeline.tasks import make_env


class RandomPolicy:
    def __init__(self, action_dim):
        self.action_dim = action_dim

    def reset(self, seed):
        self.rng = np.random.default_rng(seed)

    def act(self, obs, state):
        return self.rng.uniform(-1, 1, self.action_dim)


def make_demo_file(path, task="door", n=2, horizon=12):
    env = make_env(task, horizon=horizon)
    episodes = [rollout(env, RandomPolicy(env.action_dim), seed=s) for s in range(n)]
    write_demos(path, task, "test", episodes, "sparse")
    return episodes


@pytest.fixture(scope="session")
def door_demos(tmp_path_factory):
    path = tmp_path_factory.mktemp("demos") / "door.h5"
    return path, make_demo_file(path)
