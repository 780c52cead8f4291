"""The reward-induced encoder (the CLVR study's reward prediction): the VAE encoder's conv trunk trained to predict
the task's reward signals over the next steps from one 64x64 image, served as encoder `reward` (a plug-in of the
encoder registry: reward/encoder.py, named in pyproject.toml).

May import (tests/test_layers.py holds it): errors, atomic, checksum, prefetch, timings, formats, encoders, training, vae.
"""
