"""The train_reward_encoder stage's config (params.yaml `train_reward_encoder`)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.errors import PipelineError
from pipeline.vae.model import VAEConfig


@dataclass(frozen=True)
class TrainRewardEncoderConfig:
    """params.yaml `train_reward_encoder`: the reward-induced encoder's training, on the VAE image dataset."""

    epochs: int = 4  # passes over the training images; raising it resumes from the last checkpoint
    batch_size: int = 64  # images per Adam step
    lr: float = 1e-3  # Adam learning rate
    horizon: int = 10  # each head predicts its signal at steps t .. t + horizon - 1 of the image's episode
    hidden: int = 64  # width of each head's one hidden layer
    val_fraction: float = 0.1  # share of images held out, as whole episodes (the VAE's split rule)
    seed: int = 0  # initialisation, split and shuffles derive from it
    latent: int = 512  # the served feature size (the VAE's: encoder `reward` serves 512-d features)
    channels: tuple[int, ...] = (32, 64, 128, 256, 512)  # the VAE encoder's conv widths, stride 2 each
    block: int = 256  # contiguous images read at once
    buffer_blocks: int = 16  # blocks shuffled together (bounded memory)

    def __post_init__(self) -> None:
        if self.epochs <= 0 or self.batch_size < 2:
            raise PipelineError("train_reward_encoder: epochs must be positive and batch_size at least 2 (BatchNorm)")
        if self.lr <= 0 or self.horizon <= 0 or self.hidden <= 0:
            raise PipelineError("train_reward_encoder: lr, horizon and hidden must be positive")
        if not 0 < self.val_fraction < 1:
            raise PipelineError(f"train_reward_encoder.val_fraction must lie in (0, 1), got {self.val_fraction}")
        if self.block <= 0 or self.buffer_blocks <= 0:
            raise PipelineError("train_reward_encoder: block and buffer_blocks must be positive")
        VAEConfig(self.latent, tuple(self.channels))  # refuses a bad trunk with its own message

    @property
    def trunk_config(self) -> VAEConfig:
        return VAEConfig(self.latent, tuple(self.channels))
