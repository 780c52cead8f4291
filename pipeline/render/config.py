"""The render stages' configs: demonstrations to frames, and the VAE's image dataset (params.yaml `render_demos`,
`render_vae_data`)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.errors import PipelineError, check_choice, check_image_size, check_seed
from pipeline.render.quality import PRESETS
from pipeline.tasks.scene import SCENES


@dataclass(frozen=True)
class RenderDemosConfig:
    """params.yaml `render_demos`: how demonstrations become frames."""

    size: int = 256  # square image size in pixels (RRL: 256, then centre-cropped to 224 by the encoder)
    quality: str = "fast"  # fast (no shadows, no multisampling) | paper (the model's own: ~7x slower on CPU)
    scene: str = "rrl"  # rrl (RRL's fork's cameras and colours) | gymnasium (Gymnasium's scene as shipped)
    cameras: tuple[str, ...] = ()  # empty: the scene's camera rig
    workers: int = 2  # render processes (1: render in the stage's own process)
    chunk: int = 25  # frames per job sent to a worker

    def __post_init__(self) -> None:
        check_choice("render_demos.quality", self.quality, tuple(PRESETS))
        check_choice("render_demos.scene", self.scene, SCENES)
        check_image_size("render_demos.size", self.size)
        if self.workers <= 0 or self.chunk <= 0:
            raise PipelineError("render_demos.workers and render_demos.chunk must be positive")


@dataclass(frozen=True)
class RenderVaeDataConfig:
    """params.yaml `render_vae_data`: the VAE baseline's image dataset (RRL appendix 7.4)."""

    n_images: int = 8000  # total images, split equally over the four parts (RRL used 1,000,000)
    size: int = 64  # square image size (RRL: 64)
    small_noise: float = 0.1  # action noise std of the 'expert + small noise' part (actions live in [-1, 1])
    large_noise: float = 0.5  # action noise std of the 'expert + large noise' part
    seed: int = 0  # first episode seed; every part's episodes are seeded from it
    quality: str = "fast"  # render preset, as render_demos
    scene: str = "rrl"  # as render_demos
    workers: int = 2  # render processes

    def __post_init__(self) -> None:
        check_choice("render_vae_data.quality", self.quality, tuple(PRESETS))
        check_choice("render_vae_data.scene", self.scene, SCENES)
        check_image_size("render_vae_data.size", self.size)
        check_seed("render_vae_data.seed", self.seed, 100000 * 4)  # part p's episodes: seed + 100000 p + i
        if self.n_images < 4 or self.workers <= 0:
            raise PipelineError("render_vae_data: n_images must be >= 4, workers positive")
        if not 0 <= self.small_noise <= self.large_noise:
            raise PipelineError("render_vae_data: need 0 <= small_noise <= large_noise")
