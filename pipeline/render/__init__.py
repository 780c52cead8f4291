"""Rendering: the offscreen renderer and its presets, distractors, the render worker pool, demos -> frames and the
VAE image dataset.

May import (tests/test_layers.py holds it): errors, atomic, checksum, procs, tasks, formats, demos.
"""
