"""DVC stage `train_vae`: params `train_vae` + data/vae_images/<task>.h5 -> data/vae/<task>/ (model.pt, metrics, curves)."""

from __future__ import annotations

import argparse
import json

from pipeline.config import TrainVaeConfig, load_section
from pipeline.vae.train import train_vae
from stages._common import stage_main


def _args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="image HDF5 file written by render_vae_data")
    parser.add_argument(
        "--out", required=True, help="output folder (model.pt, model.sha256, metrics.json, curves.csv, reconstructions.png)"
    )
    parser.add_argument("--checkpoints", default=None, help="per-epoch checkpoint folder to resume from [<out>/checkpoints]")


def _run(args: argparse.Namespace) -> None:
    cfg = load_section(args.params, "train_vae", TrainVaeConfig)
    print(f"{args.out}: {json.dumps(train_vae(args.data, args.out, cfg, checkpoints=args.checkpoints))}")


if __name__ == "__main__":
    stage_main(__doc__, _args, _run)
