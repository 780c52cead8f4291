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

from pipeline.errors import PipelineError, brief

if TYPE_CHECKING:
    from pipeline.encoders.encoder import EncoderConfig
    from pipeline.vae.model import VAEConfig

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
    reward_mode: str = "rrl"  # rrl (RRL's staged) | dapg-dense (DAPG's shaped) | dense (gym 1.4.2's) | sparse | gym-sparse
    human_states: str = "replay"  # hand_dapg_human: replay (RRL: actions from init_state_dict) | recorded (DAPG's)

    def __post_init__(self) -> None:
        from pipeline.demos.hand_dapg import HUMAN_STATES
        from pipeline.tasks.spec import REWARD_MODES, TASKS

        _choice("make_demos.task", self.task, tuple(TASKS))
        _choice("make_demos.source", self.source, DEMO_SOURCES)
        _choice("make_demos.reward_mode", self.reward_mode, REWARD_MODES)
        _choice("make_demos.human_states", self.human_states, HUMAN_STATES)
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
    precision: str = "auto"  # auto (bf16 where the CPU/GPU has it natively, else fp32) | fp32 (bit-stable) | bf16 | fp16
    device: str = "auto"  # auto (cuda when present) | cpu | cuda
    batch_size: int = 64  # frames per forward pass
    dtype: str = "float32"  # stored feature dtype: float32 | float16

    def __post_init__(self) -> None:
        from pipeline.encoders.registry import ENCODERS

        for name in self.encoders:
            _choice("encode.encoders", name, tuple(n for n in ENCODERS if n != "vae"))
        _choice("encode.precision", self.precision, ("auto", "fp32", "bf16", "fp16"))
        _choice("encode.dtype", self.dtype, ("float32", "float16"))
        if self.batch_size <= 0:
            raise PipelineError(f"encode.batch_size must be positive, got {self.batch_size}")

    def encoder_config(self, model: str, weights: str = "") -> "EncoderConfig":
        """The encoder this section describes; `weights` overrides for a file the params cannot name (the VAE)."""
        from pipeline.encoders.encoder import EncoderConfig

        if weights:
            return EncoderConfig(model=model, weights=weights, precision=self.precision, device=self.device)
        return EncoderConfig(model=model, weights=self.weights, weights_sha256=self.weights_sha256,
                             layer=self.layer, precision=self.precision, device=self.device)


@dataclass(frozen=True)
class TrainPolicyConfig:
    """params.yaml `train_policy`: BC + DAPG (RRL) or NPG / BC alone, on vision features or the state oracle."""

    encoders: tuple[str, ...] = ("resnet18",)  # feature stores to train on (a DVC matrix); ignored by obs: state
    mode: str = "dapg"  # dapg (BC, then NPG + demo term) | npg (no demos) | bc (behaviour cloning only)
    obs: str = "vision"  # vision ([features of every camera, 24 joints]) | state (Gymnasium's state vector)
    proprio: bool = True  # vision: append the 24 hand joints (False: vision only)
    proprio_noise: float = 0.0  # vision: joint noise std as a fraction of each joint's range (RRL: 0.02)
    iterations: int = 3  # NPG/DAPG iterations (RRL: hundreds)
    episodes: int = 8  # trajectories per iteration (RRL: 200, i.e. 40,000 samples)
    horizon: int = 0  # 0: the task's (200; pen 100)
    reward_mode: str = "rrl"  # rrl (RRL's staged) | dapg-dense (DAPG's shaped) | dense (gym 1.4.2's) | sparse | gym-sparse
    success_rule: str = "rrl"  # rrl (RRL's fork: door > 1.4, pen orientation only) | dapg (mj_envs v0 / Gymnasium)
    bc_epochs: int = 5  # behaviour cloning before RL (mjrl: 5 epochs, batch 32, lr 1e-3)
    bc_batch: int = 32
    bc_lr: float = 1e-3
    hidden: tuple[int, ...] = (256, 256)  # policy MLP (tanh)
    init_log_std: float = 0.0  # npg's exploration log-std (dapg and bc start from the demo actions' std)
    init_std_scale: float = 1.0  # dapg/bc: exploration std = this x the demo actions' std (1: mjrl's job scripts)
    min_log_std: float = -3.0
    vf_hidden: tuple[int, ...] = (128, 128)  # value baseline MLP (ReLU)
    vf_batch: int = 64
    vf_epochs: int = 2
    vf_lr: float = 1e-3
    vf_weight_decay: float = 1e-3
    gamma: float = 0.995
    gae_lambda: float = 0.97
    delta: float = 0.05  # normalised NPG step (KL)
    cg_iters: int = 10
    damping: float = 1e-4
    lam_0: float = 0.01  # DAPG demo weight lam_0 * lam_1^k
    lam_1: float = 0.95
    eval_episodes: int = 0  # deterministic (mean-action) episodes after each iteration (mjrl: evaluation_rollouts)
    stop_at_eval_success: float = 0.0  # > 0: stop once the mean-action success reaches this (0: run every iteration)
    workers: int = 2  # env worker processes (0: everything in this process)
    seed: int = 0  # iteration k samples episodes with seeds seed * 1e6 + k * episodes + i

    def __post_init__(self) -> None:
        from pipeline.tasks.spec import REWARD_MODES, SUCCESS_RULES

        _choice("train_policy.mode", self.mode, ("dapg", "npg", "bc"))
        _choice("train_policy.success_rule", self.success_rule, SUCCESS_RULES)
        _choice("train_policy.obs", self.obs, ("vision", "state"))
        _choice("train_policy.reward_mode", self.reward_mode, REWARD_MODES)
        if self.init_std_scale <= 0:
            raise PipelineError("train_policy.init_std_scale must be positive (1: the demo actions' std, as mjrl)")
        if min(self.iterations, self.workers, self.horizon, self.eval_episodes) < 0 or self.episodes <= 0:
            raise PipelineError("train_policy: iterations, horizon, workers and eval_episodes must be >= 0, episodes > 0")
        if self.stop_at_eval_success and not (0 < self.stop_at_eval_success <= 1 and self.eval_episodes > 0):
            raise PipelineError("train_policy.stop_at_eval_success must be in (0, 1] and needs eval_episodes > 0")


@dataclass(frozen=True)
class EvaluateConfig:
    """params.yaml `evaluate`: deterministic (mean-action) episodes, plain and under each visual distractor."""

    episodes: int = 10  # episodes per condition
    seed: int = 10_000  # episode i uses seed + i (disjoint from training seeds for seed < 1e4)
    distractors: tuple[str, ...] = ("light_position", "light_direction", "object_colour", "extra_object")
    horizon: int = 0  # 0: the task's (200; pen 100)
    workers: int = 2  # env worker processes (0: in-process)

    def __post_init__(self) -> None:
        from pipeline.render.distractors import DISTRACTOR_KINDS

        for kind in self.distractors:
            _choice("evaluate.distractors", kind, DISTRACTOR_KINDS)
        if self.episodes <= 0 or self.workers < 0:
            raise PipelineError("evaluate: episodes must be positive and workers >= 0")


@dataclass(frozen=True)
class TrainVaeConfig:
    """params.yaml `train_vae`: the VAE baseline's training (RRL appendix 7.4)."""

    epochs: int = 10  # passes over the training images (RRL: 10); raising it resumes from the last checkpoint
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
        from pipeline.vae.model import VAEConfig

        VAEConfig(self.latent, tuple(self.channels))  # refuses a bad architecture with its own message

    @property
    def vae_config(self) -> "VAEConfig":
        from pipeline.vae.model import VAEConfig

        return VAEConfig(self.latent, tuple(self.channels))

    def resume_key(self) -> dict[str, Any]:
        """What a checkpoint must share with this config to be continued (epochs may differ)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items() if k != "epochs"}




def _choice(key: str, value: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise PipelineError(f"{key}: {value!r} is not one of {', '.join(valid)}")


def load_matrix(params_path: str | os.PathLike) -> tuple[list[str], list[int]]:
    """params.yaml's top-level `tasks` and `seeds`: the DVC matrices every stage runs over."""
    from pipeline.tasks.spec import TASKS

    params = _load_params(Path(params_path))
    tasks, seeds = params.get("tasks", ["door"]), params.get("seeds", [0])
    if not isinstance(tasks, list) or not tasks or any(t not in TASKS for t in tasks):
        raise PipelineError(f"{params_path}: tasks must be a non-empty list of {', '.join(TASKS)}, got {brief(tasks)}")
    if not isinstance(seeds, list) or not seeds or any(not isinstance(s, int) or isinstance(s, bool) for s in seeds):
        raise PipelineError(f"{params_path}: seeds must be a non-empty list of integers, got {brief(seeds)}")
    return tasks, seeds


def load_section(params_path: str | os.PathLike, section: str, cls: type[T], overrides: str | None = None) -> T:
    """Read one section of params.yaml into `cls`, refusing unknown keys (typos) and wrong types. With
    `overrides`, that section's keys (if it is there) replace the section's: `train_oracle` over `train_policy`."""
    path = Path(params_path)
    params = _load_params(path)
    if section not in params:
        raise PipelineError(f"{path}: no section {section!r}")
    values = dict(_mapping(path, params, section))
    if overrides and overrides in params:
        replaced = _mapping(path, params, overrides)
        _check_keys(cls, replaced, f"{path}: {overrides}")
        values.update(replaced)
    return from_dict(cls, values, where=f"{path}: {section}")


def _mapping(path: Path, params: dict, section: str) -> dict:
    values = params[section] or {}
    if not isinstance(values, dict):
        raise PipelineError(f"{path}: section {section!r} is {brief(values)}, expected a mapping of keys")
    return values


def _load_params(path: Path) -> dict:
    try:
        params = yaml.load(path.read_text(), Loader=_UniqueKeyLoader) or {}
    except (FileNotFoundError, IsADirectoryError):
        raise PipelineError(f"{path}: no such params file") from None
    except yaml.YAMLError as exc:
        raise PipelineError(f"{path}: not valid YAML ({str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__})") from None
    if not isinstance(params, dict):
        raise PipelineError(f"{path}: expected a mapping of sections at the top, found {brief(params)}")
    return params


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.safe_load, except that a key given twice in one mapping is an error (YAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, (str, int, float, bool, type(None))):
                continue  # an unhashable key: SafeLoader's own error follows
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (line {key_node.start_mark.line + 1})", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def from_dict(cls: type[T], values: dict[str, Any], where: str) -> T:
    """Build a config dataclass from a mapping with a one-line error for each kind of mistake."""
    _check_keys(cls, values, where)
    hints = typing.get_type_hints(cls)
    for key, value in values.items():
        if not _type_ok(value, hints[key]):
            raise PipelineError(f"{where}.{key}: {brief(value)} is not of type {_type_name(hints[key])}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def _check_keys(cls: type, values: dict[str, Any], where: str) -> None:
    fields = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    for key in values:
        if key not in fields:
            hint = difflib.get_close_matches(key, fields, n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else f"; known keys: {', '.join(fields)}"
            raise PipelineError(f"{where}.{key} is not a known key{suggestion}")


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


__all__ = ["DEMO_SOURCES", "MakeDemosConfig", "RenderDemosConfig", "RenderVaeDataConfig", "EncodeConfig", "TrainPolicyConfig", "EvaluateConfig", "TrainVaeConfig", "config_dict", "from_dict", "load_section"]
