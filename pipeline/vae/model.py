"""The baseline conv VAE (RRL appendix 7.4) and its model file.

Encoder: 64x64x3 -> five convs (kernel 4, stride 2, padding 1; channels 32-64-128-256-512), each followed by
BatchNorm and LeakyReLU(0.2) -> 2x2x512 -> flatten -> two linear heads: mu and logvar (latent 512).
Decoder (mirrored): linear -> 512x2x2 -> five transposed convs (kernel 4, stride 2, padding 1; 256-128-64-32-3),
BatchNorm + LeakyReLU between them, sigmoid output: images in [0, 1].

Model file (torch.save, read back with weights_only=True):
    {"format": "rrl-pipe/vae", "config": {"latent": int, "channels": [int, ...]}, "state_dict": {...}}
Served as encoder `vae`: the mean of q(z|x) on inputs preprocessed by `vae64` ((N, 3, 64, 64) float in [0, 1]).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pipeline.checksum import file_sha256
from pipeline.encoders.weights import ResolvedWeights
from pipeline.errors import PipelineError
from pipeline.training import IMAGE_SIZE
from pipeline.training.scaffold import check_state_dict

FORMAT = "rrl-pipe/vae"
ENCODER_PREFIXES = ("encoder.", "fc_mu.")  # the parameters the served encoder needs (logvar and decoder are not)
SERVED_DIM = 512  # encoder `vae` serves the 512-d mean of q(z|x) (RRL); a model file with another latent is refused


@dataclass(frozen=True)
class VAEConfig:
    """The architecture: everything a model file needs besides its parameters."""

    latent: int = 512  # size of z (RRL: 512; the `vae` encoder serves 512-d features)
    channels: tuple[int, ...] = (32, 64, 128, 256, 512)  # encoder conv widths; each conv halves the image size

    def __post_init__(self) -> None:
        if self.latent <= 0 or not self.channels or any(c <= 0 for c in self.channels):
            raise PipelineError(f"VAE config: latent and channels must be positive, got {self.latent}, {self.channels}")
        if IMAGE_SIZE % (1 << len(self.channels)) or IMAGE_SIZE >> len(self.channels) < 1:
            raise PipelineError(f"VAE config: {len(self.channels)} stride-2 convs do not fit a {IMAGE_SIZE}x{IMAGE_SIZE} image")

    @property
    def bottleneck(self) -> int:
        """Side of the last feature map (2 for five convs on 64x64)."""
        return IMAGE_SIZE >> len(self.channels)

    def to_dict(self) -> dict[str, Any]:
        return {"latent": self.latent, "channels": list(self.channels)}

    @classmethod
    def from_dict(cls, values: Any, where: str) -> VAEConfig:
        if not isinstance(values, dict) or set(values) != {"latent", "channels"}:
            raise PipelineError(f"{where}: config {values!r} is not a VAE config (keys latent, channels)")
        try:
            return cls(latent=int(values["latent"]), channels=tuple(int(c) for c in values["channels"]))
        except (TypeError, ValueError):
            raise PipelineError(f"{where}: config {values!r} is not a VAE config") from None


def _block(conv: nn.Module, channels: int) -> nn.Sequential:
    return nn.Sequential(conv, nn.BatchNorm2d(channels), nn.LeakyReLU(0.2))


class VAEEncoder(nn.Module):
    """x (N, 3, 64, 64) in [0, 1] -> the conv trunk (N, C*b*b) flattened."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        widths = (3, *cfg.channels)
        self.convs = nn.Sequential(*(_block(nn.Conv2d(i, o, 4, 2, 1), o) for i, o in zip(widths[:-1], widths[1:])))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.convs(x), 1)


class VAEDecoder(nn.Module):
    """z (N, latent) -> images (N, 3, 64, 64) in [0, 1]."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.cfg = cfg
        top = cfg.channels[-1]
        self.fc = nn.Linear(cfg.latent, top * cfg.bottleneck**2)
        widths = (*reversed(cfg.channels), 3)
        layers: list[nn.Module] = []
        for k, (i, o) in enumerate(zip(widths[:-1], widths[1:])):
            conv = nn.ConvTranspose2d(i, o, 4, 2, 1)
            layers.append(conv if k == len(widths) - 2 else _block(conv, o))
        self.deconvs = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(-1, self.cfg.channels[-1], self.cfg.bottleneck, self.cfg.bottleneck)
        return torch.sigmoid(self.deconvs(h))


class VAE(nn.Module):
    def __init__(self, cfg: VAEConfig = VAEConfig()):
        super().__init__()
        self.cfg = cfg
        flat = cfg.channels[-1] * cfg.bottleneck**2
        self.encoder = VAEEncoder(cfg)
        self.fc_mu = nn.Linear(flat, cfg.latent)
        self.fc_logvar = nn.Linear(flat, cfg.latent)
        self.decoder = VAEDecoder(cfg)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        # Bounded log-variance: an unbounded exp(logvar) let single batches blow the KL up to ~800 (seen in
        # epochs 5-9 of a 10-epoch run); sigma in [e^-5, e^2] is far wider than a trained VAE uses.
        return self.fc_mu(h), self.fc_logvar(h).clamp(-10.0, 4.0)

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(reconstruction, mu, logvar); z = mu + sigma * eps with eps drawn from `generator`."""
        mu, logvar = self.encode(x)
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
        return self.decoder(mu + torch.exp(0.5 * logvar) * eps), mu, logvar


class VAEMeanEncoder(nn.Module):
    """What encoder `vae` serves: x (N, 3, 64, 64) in [0, 1] -> the mean of q(z|x), (N, latent)."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        flat = cfg.channels[-1] * cfg.bottleneck**2
        self.encoder = VAEEncoder(cfg)
        self.fc_mu = nn.Linear(flat, cfg.latent)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != (3, IMAGE_SIZE, IMAGE_SIZE):
            raise PipelineError(f"the VAE encoder takes (N, 3, {IMAGE_SIZE}, {IMAGE_SIZE}) inputs, got {tuple(x.shape)}")
        return self.fc_mu(self.encoder(x))


# ----------------------------------------------------------------------------------------------- the model file


def model_bytes(model: VAE) -> bytes:
    """The model file's content. Saved through a buffer: torch names the zip's root after the file otherwise,
    and the content must not depend on the (temporary) name it is written under."""
    buffer = io.BytesIO()
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    torch.save({"format": FORMAT, "config": model.cfg.to_dict(), "state_dict": state}, buffer)
    return buffer.getvalue()


def read_tagged_file(path: Path, fmt: str, command: str) -> dict[str, Any]:
    """The dict a trained encoder's model file holds, refused in one line unless its "format" is `fmt` (`command`:
    the one that writes such files) and it has a state_dict."""
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's bad input
        raise PipelineError(f"{path}: not a loadable torch file ({exc.__class__.__name__})") from None
    if not isinstance(loaded, dict) or loaded.get("format") != fmt:
        what = loaded.get("format", "no format key") if isinstance(loaded, dict) else type(loaded).__name__
        raise PipelineError(f"{path}: not an {fmt} model file ({what}); train one with `rrl-pipe {command}`")
    if not isinstance(loaded.get("state_dict"), dict):
        raise PipelineError(f"{path}: has no state_dict")
    return loaded


def _read_model_file(path: Path) -> tuple[VAEConfig, dict[str, torch.Tensor]]:
    loaded = read_tagged_file(path, FORMAT, "train-vae")
    cfg = VAEConfig.from_dict(loaded.get("config"), str(path))
    state_dict = loaded["state_dict"]
    check_state_dict(VAE(cfg).state_dict(), state_dict, f"{path} (config latent={cfg.latent}, channels={list(cfg.channels)})")
    return cfg, state_dict


def load_vae(path: str | Path) -> VAE:
    """The whole VAE (encoder and decoder) from a model file, in eval mode."""
    cfg, state_dict = _read_model_file(Path(path))
    model = VAE(cfg)
    model.load_state_dict(state_dict)
    return model.eval()


def checked_model_file(path: Path, expected_sha256: str, what: str) -> str:
    """The sha256 of a trained encoder's model file that exists and has the expected hash (if one is given)."""
    if not path.is_file():
        raise PipelineError(f"{path}: no such {what}")
    sha = file_sha256(path)
    if expected_sha256 and sha != expected_sha256.strip().lower():
        raise PipelineError(f"{path}: sha256 {sha[:16]}... does not match the expected {expected_sha256.strip()[:16]}...")
    return sha


def resolve_vae_weights(path: str | Path, expected_sha256: str = "") -> ResolvedWeights:
    """A train_vae model file, checked (exists, hash, format, config) before any work; holds the encoder's parameters."""
    path = Path(path)
    sha = checked_model_file(path, expected_sha256, "VAE model file (written by `rrl-pipe train-vae` as <out>/model.pt)")
    cfg, state_dict = _read_model_file(path)
    dim = SERVED_DIM
    if cfg.latent != dim:
        raise PipelineError(
            f"{path}: a VAE with latent {cfg.latent}; encoder `vae` serves {dim}-d features (train with latent {dim})"
        )
    encoder_state = {k: v for k, v in state_dict.items() if k.startswith(ENCODER_PREFIXES)}
    return ResolvedWeights(f"file:{path.name}", sha, encoder_state)


def _config_from_encoder_state(state_dict: dict[str, torch.Tensor]) -> VAEConfig:
    """The architecture of an encoder state dict, read off its parameter shapes."""
    channels, k = [], 0
    while f"encoder.convs.{k}.0.weight" in state_dict:
        channels.append(int(state_dict[f"encoder.convs.{k}.0.weight"].shape[0]))
        k += 1
    if not channels or "fc_mu.weight" not in state_dict:
        raise PipelineError("VAE weights hold no encoder parameters (encoder.convs.*, fc_mu.*)")
    return VAEConfig(latent=int(state_dict["fc_mu.weight"].shape[0]), channels=tuple(channels))


def load_vae_encoder(weights: ResolvedWeights) -> nn.Module:
    """The served module: (N, 3, 64, 64) in [0, 1] -> mu (N, latent), eval mode."""
    cfg = _config_from_encoder_state(weights.state_dict)
    module = VAEMeanEncoder(cfg)
    check_state_dict(module.state_dict(), weights.state_dict, f"VAE weights {weights.source}")
    module.load_state_dict(weights.state_dict)
    return module.eval()

