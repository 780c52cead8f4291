"""Plots and tables of runs: the paper's Figures 3-5 for this project's experiments.

May import (tests/test_layers.py holds it): errors, atomic, stats, timings, formats.
"""
