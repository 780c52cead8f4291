"""Tiny synthetic VAE image files whose reward signals are readable off the image: a square moving right at one
pixel per step (signal `x`, its column; `bright`, its colour), on grey, in the render_vae_data layout."""

import numpy as np

from pipeline.formats.hdf5 import create_hdf5, seal
from pipeline.render.vae_data import PARTS
from pipeline.reward.config import TrainRewardEncoderConfig

# block x buffer_blocks covers a whole test file (up to 32 episodes of 24 images), so that each batch mixes many
# episodes as the real default's 4,096-image buffer mixes its 40: a buffer of two or three episodes left BatchNorm's
# batch statistics to one square's colour, and whether `bright` was learnt depended on the CPU's rounding
TINY = dict(channels=(8, 16, 16, 16, 16), latent=512, hidden=16, horizon=4, block=8, buffer_blocks=96)


def tiny_config(**overrides) -> TrainRewardEncoderConfig:
    return TrainRewardEncoderConfig(**{**dict(epochs=3, batch_size=16, lr=1e-3, val_fraction=0.25, seed=0, **TINY),
                                       **overrides})


def make_signal_images(path, n_episodes=16, per_episode=24, seed=0, signals=True):
    rng = np.random.default_rng(seed)
    n = n_episodes * per_episode
    images = np.full((n, 64, 64, 3), 96, np.uint8)
    x = np.zeros(n, np.float32)
    bright = np.zeros(n, np.float32)
    for e in range(n_episodes):
        x0, y, colour = rng.integers(0, 16), rng.integers(0, 48), rng.integers(128, 256)
        for t in range(per_episode):
            i = e * per_episode + t
            images[i, y : y + 16, x0 + t : x0 + t + 16] = colour
            x[i], bright[i] = x0 + t, colour / 255.0
    part = np.repeat(np.arange(n_episodes) % len(PARTS), per_episode).astype(np.uint8)
    order = np.argsort(part, kind="stable")  # part-major like render_vae_data, episodes kept whole
    with create_hdf5(path) as f:
        f.attrs["format"] = "rrl-pipe/vae-images"
        f.attrs["task"] = "synthetic"
        f.attrs["parts"] = list(PARTS)
        f.create_dataset("images", data=images[order], chunks=(32, 64, 64, 3))
        f.create_dataset("part", data=part[order])
        f.create_dataset("episode_seed", data=(1000 + np.repeat(np.arange(n_episodes), per_episode)[order]).astype(np.int64))
        f.create_dataset("step", data=np.tile(np.arange(per_episode), n_episodes)[order].astype(np.int32))
        f.create_dataset("camera", data=np.zeros(n, np.uint8))
        if signals:
            f.attrs["reward_signals"] = ["x", "bright"]
            f.create_dataset("reward_signals", data=np.stack([x, bright], 1)[order])
    seal(path)
    return path
