"""BC + DAPG training of a policy, as RRL ran it: the demonstrations in the policy's observation layout
(demo_data.py), the stage's config (config.py) and the loop (train.py) that samples with pipeline/rollout, updates
with pipeline/rl, checkpoints every iteration (pipeline/training's scheme) and resumes.

May import (tests/test_layers.py holds it): errors, cluster, atomic, procs, stats, timings, tasks, formats, encoders,
render, service, rl, rollout, training.
"""
