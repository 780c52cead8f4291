"""The VAE baseline of RRL (paper appendix 7.4): a conv VAE trained on 64x64 task images, served as encoder `vae`
(a plug-in of the encoder registry: vae/encoder.py, named in pyproject.toml).

May import (tests/test_layers.py holds it): errors, atomic, checksum, prefetch, timings, formats, encoders, training.
"""
