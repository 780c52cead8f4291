"""A frozen image encoder: weights + backbone cut + preprocessing + precision + device, in one object.

The feature cache and the encoder service both build this class from the same EncoderConfig, so the features
a policy is trained on and the features it acts on come from identical code.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torchvision.models import get_model

from pipeline.encoders import timm_nets
from pipeline.encoders.fold import fold_batchnorm
from pipeline.encoders.preprocess import DESCRIPTIONS, PREPROCESSORS
from pipeline.encoders.registry import EncoderSpec, get_encoder_spec
from pipeline.encoders.vml import warm_vml
from pipeline.encoders.weights import ResolvedWeights, resolve_weights
from pipeline.errors import PipelineError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# Batches submitted to an Encoder and not yet collected, at most: one running on the device and one staged behind
# it is what keeps a GPU busy (more would only hold frames back from the batch being assembled), and it is the
# number of pinned slots the CUDA feeder has, so a caller that exceeds it would read a reused buffer.
MAX_OUTSTANDING = 2
_AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class EncoderConfig:
    """Everything that determines the features (plus the device, which must not change them beyond rounding)."""

    model: str = "resnet18"
    weights: str = "auto"  # pretrained (alias imagenet) | random | auto | <file path>
    weights_sha256: str = ""  # for a file: the expected sha256 (empty: only the name's hash prefix is checked)
    layer: str = ""  # empty: the model's default (the final global pool)
    # auto (bf16 where native, else fp32; fp16 on GPUs without bf16) | fp32 | bf16 | fp16. The library's default is
    # fp32, bit-exact everywhere; the user-facing defaults (params.yaml encode.precision, --precision) are auto.
    precision: str = "fp32"
    device: str = "auto"  # auto (cuda when present) | cpu | cuda | cuda:N

    def build(self) -> Encoder:
        """The encoder of this config: how a service builds what it runs (a benchmark's stand-in config has one too)."""
        return Encoder(self)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise PipelineError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise PipelineError(f"device {device!r} requested but no CUDA device is available")
    return dev


def cpu_has_native_bf16() -> bool:
    """AVX512_BF16 or AMX: without them oneDNN emulates bf16, measured ~8x slower than fp32 on an AVX-512 CPU."""
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:  # not Linux: trust torch's coarser report
        return "AMX" in torch.backends.cpu.get_cpu_capability()
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str, device: torch.device, cpu_bf16: bool = True) -> str:
    """The precision an encoder really runs: `auto` is bf16 on a CPU with native bf16 (AMX/avx512_bf16, measured
    ~2.6-3.4x fp32 on ResNets) and on a GPU that has it, fp16 on an older GPU, fp32 on any other CPU (emulated
    bf16 was ~8x slower than fp32) and for a network whose spec says bf16 does not pay on a CPU (`cpu_bf16`). The
    resolved name, never `auto`, goes into store keys and provenance, so a cache and a service on different hardware
    disagree loudly instead of mixing precisions. Refuses what the device cannot run fast (or at all) before any
    work."""
    if precision not in PRECISIONS:
        raise PipelineError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    if precision == "auto":
        if device.type == "cpu":
            return "bf16" if cpu_bf16 and cpu_has_native_bf16() else "fp32"
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device.type == "cpu":
        if precision == "bf16" and not cpu_has_native_bf16():
            raise PipelineError("--precision bf16 needs a CPU with native bf16 (avx512_bf16 or amx_bf16); this one "
                                "would emulate it at a fraction of fp32's speed: use fp32")
        if precision == "fp16":
            raise PipelineError("--precision fp16 runs on CUDA only; on a CPU use bf16 (AVX-512) or fp32")
    elif precision == "bf16" and not torch.cuda.is_bf16_supported():
        raise PipelineError(f"--precision bf16 is not supported on {torch.cuda.get_device_name(device)}: use fp16")
    return precision


class _ResNetTrunk(nn.Module):
    """ResNet up to a stage, then global average pooling (fc removed)."""

    def __init__(self, net: Any, layer: str):
        super().__init__()
        stages = ["layer1", "layer2", "layer3", "layer4"]
        last = stages.index(layer) + 1 if layer in stages else 4
        self.body = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, *(getattr(net, s) for s in stages[:last]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(nn.functional.adaptive_avg_pool2d(self.body(x), 1), 1)


class _MobileNetTrunk(nn.Module):
    def __init__(self, net: Any):
        super().__init__()
        self.features, self.avgpool = net.features, net.avgpool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.avgpool(self.features(x)), 1)


class _ShuffleNetTrunk(nn.Module):
    def __init__(self, net: Any):
        super().__init__()
        self.body = nn.Sequential(net.conv1, net.maxpool, net.stage2, net.stage3, net.stage4, net.conv5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).mean([2, 3])  # torchvision's own pooling before fc


def build_trunk(spec: EncoderSpec, weights: ResolvedWeights, layer: str) -> nn.Module:
    if spec.build_trunk is not None:  # a plug-in (trained here): its own module from its own file format
        return spec.build_trunk(weights, layer)
    if spec.family in timm_nets.FAMILIES:
        try:
            return timm_nets.TimmTrunk(spec.family, spec.name, weights.state_dict)  # already in the network's layout
        except RuntimeError as exc:  # missing keys or shapes: another network's file
            raise PipelineError(f"weights {weights.source} do not fit {spec.name}: {str(exc).splitlines()[0]}") from None
    net: Any = get_model(spec.backbone, weights=None)  # typed nn.Module; the trunks read its family's own layers
    try:
        missing, unexpected = net.load_state_dict(weights.state_dict, strict=False)
    except RuntimeError as exc:  # a shape mismatch
        first = str(exc).splitlines()[0]
        raise PipelineError(f"weights {weights.source} do not fit {spec.name}: {first}") from None
    missing = [k for k in missing if not k.startswith("fc.")]  # the classifier is cut off (R3M saves none)
    if missing or unexpected:
        detail = f"missing {missing[:3]}" if missing else f"unexpected {list(unexpected)[:3]}"
        raise PipelineError(f"weights {weights.source} do not fit {spec.name}: {detail}")
    if spec.family == "resnet":
        return _ResNetTrunk(net, layer)
    if spec.family == "mobilenet":
        return _MobileNetTrunk(net)
    return _ShuffleNetTrunk(net)


class Encoder:
    """uint8 frames (N, H, W, 3) in, float32 features (N, D) out; frozen, eval mode, batch norm folded, channels_last."""

    def __init__(self, config: EncoderConfig):
        self.config = config
        self.spec = get_encoder_spec(config.model)
        self.layer = config.layer or self.spec.default_layer
        self.dim = self.spec.feature_dim(self.layer)
        self.device = resolve_device(config.device)
        self.precision = resolve_precision(config.precision, self.device, self.spec.cpu_bf16)
        if self.spec.trained_here and config.weights in ("pretrained", "imagenet", "random", "auto"):
            raise PipelineError(f"model {self.spec.name} needs --weights PATH: {self.spec.weights_hint}")
        warm_vml()  # before the first big float op: a seeded init and every forward give the same bytes in any process
        self.weights = self._resolve_weights()
        self.preprocess = PREPROCESSORS[self.spec.preprocessing]
        # `trunk` holds the weights as loaded; `module`, what runs, has its batch norms folded into the convolutions
        self.trunk = build_trunk(self.spec, self.weights, self.layer).eval().requires_grad_(False)
        self.module = fold_batchnorm(self.trunk).to(self.device).to(memory_format=torch.channels_last)
        self._feeder: _CudaFeeder | None = None  # pinned buffers and a stream, made on the first CUDA batch

    def _resolve_weights(self) -> ResolvedWeights:
        if self.spec.load_weights is not None:
            return self.spec.load_weights(self.config.weights, self.config.weights_sha256)
        return resolve_weights(self.spec, self.config.weights, self.config.weights_sha256)

    def key(self) -> dict[str, str]:
        """What the features depend on: part of every feature store's key and of every run's provenance."""
        return {
            "model": self.spec.name,
            "layer": self.layer,
            "weights_source": self.weights.source,
            "weights_sha256": self.weights.sha256,
            "preprocessing": DESCRIPTIONS[self.spec.preprocessing],
            "precision": self.precision,  # resolved: never `auto`
        }

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=_AUTOCAST[self.precision])

    @staticmethod
    def check_frames(frames: np.ndarray | torch.Tensor) -> None:
        shape, dtype = tuple(frames.shape), frames.dtype
        if len(shape) != 4 or shape[-1] != 3 or dtype not in (np.uint8, torch.uint8):
            raise PipelineError(f"frames of shape {shape} and dtype {dtype}: the encoder takes (N, H, W, 3) uint8")

    def encode(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Features of a batch, float32 on the CPU."""
        return self.submit(frames).result()

    @torch.inference_mode()
    def submit(self, frames: np.ndarray | torch.Tensor) -> PendingFeatures:
        """Start encoding a batch. On a CPU the work is done here; on CUDA it is queued on the encoder's own stream
        behind the previous batch, so the caller can assemble the next one meanwhile. At most MAX_OUTSTANDING batches
        may be outstanding: collect a batch's `result()` before submitting the one after next."""
        self.check_frames(frames)
        if self.device.type != "cuda":
            return PendingFeatures(self._forward(torch.as_tensor(frames)).cpu())
        if self._feeder is None:
            self._feeder = _CudaFeeder(self.device, self.dim)
        return self._feeder.submit(frames, self._forward)

    def _forward(self, frames: torch.Tensor) -> torch.Tensor:
        """(N, H, W, 3) uint8, on the host or already on the device -> (N, D) float32 on the device."""
        x = frames.to(self.device, non_blocking=True).permute(0, 3, 1, 2)
        x = self.preprocess(x).contiguous(memory_format=torch.channels_last)
        with self._autocast():
            return self.module(x).float()

    def describe(self) -> dict[str, str]:
        return {**self.key(), "device": str(self.device), **{f"config.{k}": str(v) for k, v in asdict(self.config).items()}}


class PendingFeatures:
    """The features of a submitted batch: there at once on a CPU; on CUDA once the batch's event has fired."""

    def __init__(self, features: torch.Tensor, event: torch.cuda.Event | None = None):
        self._features, self._event = features, event

    def done(self) -> bool:
        return self._event is None or self._event.query()

    def poll_after_s(self) -> float:
        """When to look again (the service's event loop sleeps at most this long while a batch runs)."""
        return 0.0 if self.done() else 2e-4

    def result(self) -> torch.Tensor:
        """(N, D) float32 on the CPU; waits for the device if it is still working on the batch."""
        if self._event is None:
            return self._features
        self._event.synchronize()
        return self._features.clone()  # the pinned buffer is reused MAX_OUTSTANDING batches later


class _CudaFeeder:
    """Feeds a CUDA encoder without waiting on it: frames go into one of two pinned host buffers (the DMA engine
    reads pinned memory directly, and `non_blocking` copies from it return at once), the copy, the preprocessing
    and the forward pass run on a stream of their own, and the features come back into a pinned buffer, also
    without blocking. Two slots alternate, so batch k+1 is staged while batch k runs; a slot is reused only after
    its previous batch's event has fired."""

    SLOTS = MAX_OUTSTANDING

    def __init__(self, device: torch.device, dim: int):
        self.device, self.dim = device, dim
        self.stream = torch.cuda.Stream(device)
        self.frames: list[torch.Tensor | None] = [None] * self.SLOTS
        self.features: list[torch.Tensor | None] = [None] * self.SLOTS
        self.events: list[torch.cuda.Event | None] = [None] * self.SLOTS
        self.next = 0

    def _buffers(self, slot: int, shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        frames, features = self.frames[slot], self.features[slot]
        if frames is None or features is None or frames.shape[1:] != shape[1:] or len(frames) < shape[0]:
            frames = self.frames[slot] = torch.empty(shape, dtype=torch.uint8, pin_memory=True)
            features = self.features[slot] = torch.empty((shape[0], self.dim), dtype=torch.float32, pin_memory=True)
        return frames[: shape[0]], features[: shape[0]]

    def submit(self, frames: np.ndarray | torch.Tensor, forward) -> PendingFeatures:
        slot, self.next = self.next, (self.next + 1) % self.SLOTS
        previous = self.events[slot]
        if previous is not None:
            previous.synchronize()  # that slot's previous batch has left its buffers
        host_frames, host_features = self._buffers(slot, tuple(frames.shape))
        host_frames.copy_(torch.as_tensor(frames))
        # work queued on the default stream (the weights' upload) comes first: our stream does not sync with it
        self.stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(self.stream):
            host_features.copy_(forward(host_frames), non_blocking=True)
            event = torch.cuda.Event()
            event.record(self.stream)
        self.events[slot] = event
        return PendingFeatures(host_features, event)
