"""Demonstrations: the scripted experts, the readers of hand_dapg and Minari files, state reconstruction and
replay, and the make_demos config.

May import (tests/test_layers.py holds it): errors, atomic, checksum, tasks, formats.
"""
