"""Benchmarks reported as ratios measured in one run (ours / ceiling, ours / naive), medians of repeats.

May import (tests/test_layers.py holds it): errors, cluster, procs, tasks, formats, encoders, demos, render, cache, service,
rl, rollout.
"""
