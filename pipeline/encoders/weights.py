"""Where an encoder's weights come from: torchvision's weights API / the torch hub cache, a file, or a seed.

`imagenet` fails before any work when the file cannot be had, naming the file and where to put it. `auto`
falls back to random initialisation with one line on stderr saying so; the source is recorded either way (store provenance,
metrics), so a random-init result can never pass for an ImageNet one.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torchvision.models import get_model, get_model_weights

from pipeline.checksum import file_sha256
from pipeline.errors import PipelineError

RANDOM_SEED = 0


@dataclass(frozen=True)
class ResolvedWeights:
    source: str  # "imagenet:<enum name>" | "random:seed=0" | "file:<basename>"
    sha256: str  # of the weight file; of the parameters themselves for random init
    state_dict: dict[str, torch.Tensor]


def imagenet_url(model: str) -> str:
    """torchvision's download URL of a model's default ImageNet weights (the file name carries a hash prefix)."""
    return get_model_weights(model).DEFAULT.url


def hub_checkpoint_path(model: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(imagenet_url(model))


def state_dict_sha256(state_dict: dict[str, torch.Tensor]) -> str:
    """A content hash of parameters (names, shapes, bytes in key order), for weights that have no file."""
    digest = hashlib.sha256()
    for name, tensor in state_dict.items():
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _hash_prefix(path: Path) -> str | None:
    """torch hub's convention: name-<first hex digits of the sha256>.pth."""
    match = re.search(r"-([a-f0-9]{6,})\.", path.name)
    return match.group(1) if match else None


def _load_file(path: Path, expected_sha256: str = "") -> tuple[dict[str, torch.Tensor], str]:
    if not path.is_file():
        raise PipelineError(f"{path}: no such weight file")
    sha = file_sha256(path)
    if expected_sha256 and sha != expected_sha256.lower():
        raise PipelineError(f"{path}: sha256 {sha[:16]}... does not match the expected {expected_sha256[:16]}...")
    prefix = _hash_prefix(path)
    if prefix and not sha.startswith(prefix):
        raise PipelineError(f"{path}: sha256 {sha[:16]}... does not match the hash prefix {prefix!r} in its name (corrupt or foreign file)")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's bad input
        raise PipelineError(f"{path}: not a loadable torch weight file ({exc.__class__.__name__})") from None
    if isinstance(loaded, dict) and "state_dict" in loaded:
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict):
        raise PipelineError(f"{path}: holds a {type(loaded).__name__}, expected a state dict")
    return loaded, sha


def _imagenet(model: str) -> ResolvedWeights:
    enum = get_model_weights(model).DEFAULT
    cached = hub_checkpoint_path(model)
    if not cached.exists():
        # torchvision's own downloader fills the hub cache and checks the hash prefix; its "Downloading: ..." banner
        # (stdout in torch 2.13, stderr in older releases) is held back, so that offline (the common case here) the
        # user reads one line, ours, not two
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                enum.get_state_dict(progress=False, check_hash=True)
        except Exception as exc:  # noqa: BLE001 - offline, proxy, disk: all mean "not available"
            raise PipelineError(
                f"ImageNet weights for {model} are not available ({exc.__class__.__name__}): put "
                f"{cached.name} (from {enum.url}) into {cached.parent}/, or pass a file with --weights PATH"
            ) from None
        print(f"weights: downloaded {cached.name} from {enum.url} into {cached.parent}/", file=sys.stderr)
    state_dict, sha = _load_file(cached)
    return ResolvedWeights(f"imagenet:{enum.name}", sha, state_dict)


def _random(model: str) -> ResolvedWeights:
    torch.manual_seed(RANDOM_SEED)  # same seed, same parameters: random-init features are reproducible too
    state_dict = get_model(model, weights=None).state_dict()
    return ResolvedWeights(f"random:seed={RANDOM_SEED}", state_dict_sha256(state_dict), state_dict)


def resolve_weights(model: str, weights: str, expected_sha256: str = "") -> ResolvedWeights:
    """Resolve `imagenet | random | auto | <file path>` for a torchvision model name."""
    if weights == "imagenet":
        return _imagenet(model)
    if weights == "random":
        return _random(model)
    if weights == "auto":
        try:
            return _imagenet(model)
        except PipelineError as exc:
            print(f"weights auto: {exc}; using RANDOM initialisation (recorded as random:seed={RANDOM_SEED})",
                  file=sys.stderr)
            return _random(model)
    state_dict, sha = _load_file(Path(weights), expected_sha256)
    return ResolvedWeights(f"file:{Path(weights).name}", sha, state_dict)
