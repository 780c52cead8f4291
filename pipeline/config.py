"""Typed, frozen configs: one dataclass per params.yaml section; defaults equal params.yaml's defaults.

`pipeline/` never reads params.yaml itself: stages call `load_section` and hand the typed config in.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml

from pipeline.errors import PipelineError

if TYPE_CHECKING:
    from pipeline.encoders.encoder import EncoderConfig

T = TypeVar("T")

DEMO_SOURCES = ("scripted", "hand_dapg_human", "hand_dapg_expert", "minari")


@dataclass(frozen=True)
class MakeDemosConfig:
    """params.yaml `make_demos`: where demonstrations come from."""

    task: str = "door"  # door | hammer | pen | relocate
    source: str = "scripted"  # scripted | hand_dapg_human | hand_dapg_expert | minari
    path: str = ""  # the source file or folder (hand_dapg pickle, Minari dataset dir); empty for scripted
    episodes: int = 25  # rollouts to make (scripted, hand_dapg_expert); file sources take at most this many
    seed: int = 0  # episode i is reset with seed + i
    reward_mode: str = "sparse"  # sparse (RRL) | dense | gym-sparse (Gymnasium's +10/-0.1)

    def __post_init__(self) -> None:
        from pipeline.tasks.spec import REWARD_MODES, TASKS

        _choice("make_demos.task", self.task, tuple(TASKS))
        _choice("make_demos.source", self.source, DEMO_SOURCES)
        _choice("make_demos.reward_mode", self.reward_mode, REWARD_MODES)
        if self.episodes <= 0:
            raise PipelineError(f"make_demos.episodes must be positive, got {self.episodes}")
        if self.source != "scripted" and not self.path:
            raise PipelineError(f"make_demos.path is required for source {self.source!r}")


@dataclass(frozen=True)
class RenderDemosConfig:
    """params.yaml `render_demos`: how demonstrations become frames."""

    size: int = 256  # square image size in pixels (RRL: 256, then centre-cropped to 224 by the encoder)
    quality: str = "fast"  # fast (no shadows, no multisampling) | paper (the model's own: ~7x slower on CPU)
    cameras: tuple[str, ...] = ()  # empty: the task's RRL camera rig
    workers: int = 2  # render processes (1: render in the stage's own process)
    chunk: int = 25  # frames per job sent to a worker

    def __post_init__(self) -> None:
        from pipeline.render.quality import PRESETS

        _choice("render_demos.quality", self.quality, tuple(PRESETS))
        if self.size <= 0:
            raise PipelineError(f"render_demos.size must be positive, got {self.size}")
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
    workers: int = 2  # render processes

    def __post_init__(self) -> None:
        from pipeline.render.quality import PRESETS

        _choice("render_vae_data.quality", self.quality, tuple(PRESETS))
        if self.n_images < 4 or self.size <= 0 or self.workers <= 0:
            raise PipelineError("render_vae_data: n_images must be >= 4, size and workers positive")
        if not 0 <= self.small_noise <= self.large_noise:
            raise PipelineError("render_vae_data: need 0 <= small_noise <= large_noise")


@dataclass(frozen=True)
class EncodeConfig:
    """params.yaml `encode`: the frozen ImageNet encoders whose features are cached (a DVC matrix over `encoders`)."""

    encoders: tuple[str, ...] = ("resnet18",)  # resnet18 | resnet34 | resnet50 | mobilenet_v3_large | shufflenet_v2_x1_0
    weights: str = "auto"  # imagenet (fail when not cached) | auto (imagenet, else random + warning) | random | <file>
    weights_sha256: str = ""  # with a weight file: its expected sha256
    layer: str = ""  # empty: the final global pool; resnets also layer1 | layer2 | layer3 (pooled)
    precision: str = "fp32"  # fp32 (bit-stable on CPU) | bf16 (AVX-512 CPU or GPU) | fp16 (GPU)
    device: str = "auto"  # auto (cuda when present) | cpu | cuda
    batch_size: int = 64  # frames per forward pass
    dtype: str = "float32"  # stored feature dtype: float32 | float16

    def __post_init__(self) -> None:
        from pipeline.encoders.registry import ENCODERS

        for name in self.encoders:
            _choice("encode.encoders", name, tuple(n for n in ENCODERS if n != "vae"))
        _choice("encode.precision", self.precision, ("fp32", "bf16", "fp16"))
        _choice("encode.dtype", self.dtype, ("float32", "float16"))
        if self.batch_size <= 0:
            raise PipelineError(f"encode.batch_size must be positive, got {self.batch_size}")

    def encoder_config(self, model: str) -> "EncoderConfig":
        from pipeline.encoders.encoder import EncoderConfig

        return EncoderConfig(model=model, weights=self.weights, weights_sha256=self.weights_sha256,
                             layer=self.layer, precision=self.precision, device=self.device)


def _choice(key: str, value: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise PipelineError(f"{key}: {value!r} is not one of {', '.join(valid)}")


def load_section(params_path: str | os.PathLike, section: str, cls: type[T]) -> T:
    """Read one section of params.yaml into `cls`, refusing unknown keys (typos) and wrong types."""
    path = Path(params_path)
    try:
        params = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise PipelineError(f"{path}: no such params file") from None
    except yaml.YAMLError as exc:
        raise PipelineError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
    if section not in params:
        raise PipelineError(f"{path}: no section {section!r}")
    return from_dict(cls, params[section] or {}, where=f"{path}: {section}")


def from_dict(cls: type[T], values: dict[str, Any], where: str) -> T:
    """Build a config dataclass from a mapping with a one-line error for each kind of mistake."""
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in values:
        if key not in fields:
            hint = difflib.get_close_matches(key, fields, n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else f"; known keys: {', '.join(fields)}"
            raise PipelineError(f"{where}.{key} is not a known key{suggestion}")
    hints = typing.get_type_hints(cls)
    for key, value in values.items():
        if not _type_ok(value, hints[key]):
            raise PipelineError(f"{where}.{key}: {value!r} is not of type {_type_name(hints[key])}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def _type_ok(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is tuple:
        args = typing.get_args(hint)
        return isinstance(value, (list, tuple)) and all(_type_ok(v, args[0]) for v in value)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", str(hint))


def config_dict(cfg: Any) -> dict[str, Any]:
    """A config as plain data (for provenance attributes and metrics)."""
    return {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}


__all__ = ["DEMO_SOURCES", "MakeDemosConfig", "RenderDemosConfig", "RenderVaeDataConfig", "EncodeConfig", "config_dict", "from_dict", "load_section"]
