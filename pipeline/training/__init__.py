"""The scaffolding every encoder trained here shares (the VAE, the reward encoder): seeds, deterministic kernels,
byte-stable output files and per-epoch checkpoints that resume exactly (checkpoints.py), and the streamed image
batches of a render_vae_data file with its validation split (images.py).

May import (tests/test_layers.py holds it): errors, atomic, timings, prefetch, formats, encoders.
"""

IMAGE_SIZE = 64  # the trainers' input, the VAE's architecture: RRL's VAE reads 64x64 images
