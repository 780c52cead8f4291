"""Adroit task layer: specs (cameras, proprioception, rewards and success rules, state) and the physics env wrapper.

May import (tests/test_layers.py holds it): errors.
"""

from pipeline.tasks.env import TaskEnv
from pipeline.tasks.spec import REWARD_MODES, SUCCESS_RULES, TASKS, CameraSpec, TaskSpec, get_task

__all__ = ["REWARD_MODES", "SUCCESS_RULES", "TASKS", "CameraSpec", "TaskEnv", "TaskSpec", "get_task", "make_env"]


def make_env(task: str, reward_mode: str = "rrl", horizon: int | None = None, success_rule: str = "rrl") -> TaskEnv:
    """The physics env of a task by name."""
    return TaskEnv(get_task(task), reward_mode=reward_mode, horizon=horizon, success_rule=success_rule)
