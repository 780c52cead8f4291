"""Benchmarks reported as ratios measured in one run (ours / ceiling, ours / naive), medians of repeats."""
