"""DVC stages `encode_vae` and `encode_reward`: frames + an encoder trained here (its model file,
data/<encoder>/<task>/model.pt) -> data/features/<task>/<encoder>.zarr.

The weight file is a path argument (dvc.yaml owns paths), so `stages.encode`'s params-driven weights do not
apply; precision, device, batch_size and dtype come from the `encode` section like every other encoder's.
"""

from __future__ import annotations

import argparse
import json

from pipeline.cache.encode import encode_frames
from pipeline.config import EncodeConfig, load_section, ray_config
from stages._common import stage_main


def _args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--encoder", required=True, help="an encoder trained here: vae | reward")
    parser.add_argument("--frames", required=True, help="frames HDF5 file")
    parser.add_argument("--model", required=True, help="its model file (model.pt of train_vae, train_reward_encoder)")
    parser.add_argument("--out", required=True, help="feature store (.zarr folder) to write")


def _run(args: argparse.Namespace) -> None:
    cfg = load_section(args.params, "encode", EncodeConfig)
    encoder = cfg.encoder_config(args.encoder, weights=args.model)
    figures = encode_frames(args.frames, args.out, encoder, cfg.batch_size, cfg.dtype, backend=cfg.backend,
                            ray_config=ray_config(args.params, cfg.backend))
    print(f"{args.out}: {json.dumps(figures)}")


if __name__ == "__main__":
    stage_main(__doc__, _args, _run)
