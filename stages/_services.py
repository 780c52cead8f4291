"""What the stages that run an encoder or Ray actors share (encode, train_policy, evaluate): the encoder of the
rollout service and params `ray`. Imported inside their commands: it loads torch."""

from __future__ import annotations

import dataclasses
import os

from pipeline.cluster import RayConfig
from pipeline.config import EncodeConfig, load_section
from pipeline.encoders.encoder import EncoderConfig
from stages._common import layout


def service_encoder(params_path: str | os.PathLike | None, encoder: str, task: str,
                    model_file: str | None = None) -> EncoderConfig:
    """The encoder a policy's rollout service runs: exactly what the encode stage cached (params `encode`); an
    encoder trained here (vae, reward) takes its weights from its model file (the layout's for the task by default)."""
    model_file = model_file or layout("model", encoder=encoder, task=task)
    return load_section(params_path, "encode", EncodeConfig).encoder_config(encoder, model_file)


def ray_config(params_path: str | os.PathLike | None, backend: str, address: str | None = None) -> RayConfig | None:
    """params `ray` (its defaults where the file has no such section) for backend ray, else None; `address`
    (--ray-address) overrides ray.address."""
    if backend != "ray":
        return None
    cfg = load_section(params_path, "ray", RayConfig, optional=True)
    return dataclasses.replace(cfg, address=address) if address is not None else cfg
