"""The scaffolding of what is trained here: the one checkpoint/resume scheme of the policy, the VAE and the reward
encoder (checkpoints.py); the encoders' seeds, deterministic kernels and byte-stable output files (scaffold.py); and
the streamed image batches of a render_vae_data file with its validation split (images.py).

May import (tests/test_layers.py holds it): errors, atomic, timings, prefetch, formats, encoders.
"""

IMAGE_SIZE = 64  # the trainers' input, the VAE's architecture: RRL's VAE reads 64x64 images
