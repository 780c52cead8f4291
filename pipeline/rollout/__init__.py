"""The rollout system: whole episodes of a policy in the simulator, with rendered and encoded observations or the
state, on worker processes beside one encoder service (sampler.py) or as Ray actors (ray_sampler.py), the same
episodes either way (backends.py); the seed ranges of every episode (seeds.py); and deterministic evaluation,
plain and under visual distractors (evaluate.py).

May import (tests/test_layers.py holds it): errors, cluster, atomic, procs, stats, timings, tasks, formats, encoders,
render, service, rl.
"""
