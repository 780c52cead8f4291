"""The train_vae stage's config: the VAE baseline's training (params.yaml `train_vae`, RRL appendix 7.4)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.errors import PipelineError
from pipeline.vae.model import VAEConfig


@dataclass(frozen=True)
class TrainVaeConfig:
    """params.yaml `train_vae`: the VAE baseline's training (RRL appendix 7.4)."""

    epochs: int = 4  # passes over the training images (RRL: 10 on 1M images); raising it resumes
    batch_size: int = 64  # images per Adam step
    lr: float = 1e-3  # Adam learning rate
    kl_weight: float = 0.1  # weight of the KL term against the per-image summed squared error (beta)
    val_fraction: float = 0.1  # share of images held out for validation, as whole episodes
    seed: int = 0  # initialisation, split, shuffles and sampling noise all derive from it
    latent: int = 512  # size of z; encoder `vae` serves 512-d features (RRL: 512)
    channels: tuple[int, ...] = (32, 64, 128, 256, 512)  # encoder conv widths, stride 2 each (RRL: 32..512)
    block: int = 256  # contiguous images read at once (the render_vae_data chunk size)
    buffer_blocks: int = 16  # blocks shuffled together: memory ~ block * buffer_blocks * 12 KiB

    def __post_init__(self) -> None:
        if self.epochs <= 0 or self.batch_size < 2:
            raise PipelineError("train_vae: epochs must be positive and batch_size at least 2 (BatchNorm)")
        if self.lr <= 0 or self.kl_weight < 0:
            raise PipelineError("train_vae: lr must be positive and kl_weight non-negative")
        if not 0 < self.val_fraction < 1:
            raise PipelineError(f"train_vae.val_fraction must lie in (0, 1), got {self.val_fraction}")
        if self.block <= 0 or self.buffer_blocks <= 0:
            raise PipelineError("train_vae: block and buffer_blocks must be positive")
        VAEConfig(self.latent, tuple(self.channels))  # refuses a bad architecture with its own message

    @property
    def vae_config(self) -> VAEConfig:
        return VAEConfig(self.latent, tuple(self.channels))
