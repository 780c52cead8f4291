"""DVC stage `encode` (a matrix over encode.encoders): frames + encoder -> data/features/<task>/<encoder>.zarr."""

from __future__ import annotations

import argparse
import json

from pipeline.cache.encode import encode_frames
from pipeline.config import EncodeConfig, load_section, ray_config
from stages._common import stage_main


def _args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--encoder", required=True, help="one entry of encode.encoders")
    parser.add_argument("--frames", required=True, help="frames HDF5 file")
    parser.add_argument("--out", required=True, help="feature store (.zarr folder) to write")


def _run(args: argparse.Namespace) -> None:
    cfg = load_section(args.params, "encode", EncodeConfig)
    figures = encode_frames(args.frames, args.out, cfg.encoder_config(args.encoder), cfg.batch_size, cfg.dtype,
                            backend=cfg.backend, ray_config=ray_config(args.params, cfg.backend))
    print(f"{args.out}: {json.dumps(figures)}")


if __name__ == "__main__":
    stage_main(__doc__, _args, _run)
