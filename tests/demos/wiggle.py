"""A test policy for importer tests: smooth, deterministic actions that move every joint (and the arm)."""

import numpy as np


class Wiggle:
    def __init__(self, action_dim: int):
        self.phase = np.linspace(0, 2 * np.pi, action_dim, endpoint=False)

    def reset(self, seed):
        self.t = 0

    def act(self, obs, state):
        self.t += 1
        return 0.3 * np.sin(0.05 * self.t + self.phase)
