"""Tiny synthetic VAE image files (coloured squares on grey) in the render_vae_data layout."""

import numpy as np

from pipeline.formats.hdf5 import create_hdf5, seal
from pipeline.render.vae_data import PARTS
from pipeline.vae.train import TrainVaeConfig

TINY = dict(channels=(4, 8, 8, 8, 8), latent=512, block=32, buffer_blocks=2)  # a fast stand-in for the default widths


def tiny_config(**overrides) -> TrainVaeConfig:
    return TrainVaeConfig(
        **{**dict(epochs=2, batch_size=16, lr=3e-3, kl_weight=0.01, val_fraction=0.25, seed=0, **TINY), **overrides}
    )


def make_images(path, n_episodes=16, per_episode=20, seed=0):
    """n_episodes episodes (parts round-robin) of squares whose colour and position drift within an episode."""
    rng = np.random.default_rng(seed)
    n = n_episodes * per_episode
    images = np.full((n, 64, 64, 3), 96, np.uint8)
    part = np.repeat(np.arange(n_episodes) % len(PARTS), per_episode).astype(np.uint8)
    order = np.argsort(part, kind="stable")  # part-major like render_vae_data
    episode = np.repeat(np.arange(n_episodes), per_episode)[order]
    for i in range(n):
        colour = rng.integers(0, 256, 3)
        x, y = rng.integers(0, 48, 2)
        images[i, y : y + 16, x : x + 16] = colour
    with create_hdf5(path) as f:
        f.attrs["format"] = "rrl-pipe/vae-images"
        f.attrs["task"] = "synthetic"
        f.attrs["parts"] = list(PARTS)
        f.create_dataset("images", data=images, chunks=(32, 64, 64, 3))
        f.create_dataset("part", data=part[order])
        f.create_dataset("episode_seed", data=(1000 + episode).astype(np.int64))
        f.create_dataset("step", data=np.tile(np.arange(per_episode), n_episodes).astype(np.int32))
        f.create_dataset("camera", data=np.zeros(n, np.uint8))
    seal(path)
    return path
