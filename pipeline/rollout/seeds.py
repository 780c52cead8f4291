"""Episode seeds, in three streams that cannot meet: training rollouts, the mean-action episodes after each
training iteration (mjrl's evaluation_rollouts), and `evaluate`'s episodes.

    training      seed * 10^6 + k * episodes + i      (iteration k, episode i; below 10^12 by the checks)
    training eval 10^12 + i                           (the same seeds after every iteration, as mjrl's)
    evaluate      2 * 10^12 + evaluate.seed + i

An offset inside one stream (evaluate's seeds were 10,000 + i) is reached by a long enough run: at RRL's 300
iterations of 200 episodes, training seed 0 used 0-59,999. The configs refuse values that would leave a stream.
"""

from __future__ import annotations

STREAM = 10**12  # width of each stream
PER_POLICY_SEED = 10**6  # training episodes one policy seed may draw (iterations x episodes)


def training_seeds(seed: int, iteration: int, episodes: int) -> list[int]:
    """Seeds of iteration `iteration`'s (0-based) on-policy episodes."""
    return [seed * PER_POLICY_SEED + iteration * episodes + i for i in range(episodes)]


def training_eval_seeds(episodes: int) -> list[int]:
    return [STREAM + i for i in range(episodes)]


def evaluation_seeds(seed: int, episodes: int) -> list[int]:
    return [2 * STREAM + seed + i for i in range(episodes)]


def training_budget_error(seed: int, iterations: int, episodes: int) -> str:
    """Why these training seeds would leave their stream (or another policy seed's range), or ''."""
    if not 0 <= seed < STREAM // PER_POLICY_SEED:
        return f"seed must be in [0, {STREAM // PER_POLICY_SEED})"
    if iterations * episodes > PER_POLICY_SEED:
        return (f"iterations x episodes = {iterations * episodes:,} exceeds the {PER_POLICY_SEED:,} episode seeds of "
                f"one policy seed")
    return ""


def evaluation_budget_error(seed: int, episodes: int) -> str:
    if seed < 0 or seed + episodes > STREAM:
        return f"seed + episodes must lie in [0, {STREAM:,}]"
    return ""
