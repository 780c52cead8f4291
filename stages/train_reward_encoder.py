"""DVC stage `train_reward_encoder`: params `train_reward_encoder` + data/vae_images/<task>.h5 ->
data/reward/<task>/ (model.pt, metrics, curves, predictions.png)."""

from __future__ import annotations

import argparse
import json

from pipeline.config import TrainRewardEncoderConfig, load_section
from pipeline.reward.train import train_reward_encoder
from stages._common import stage_main


def _args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="image HDF5 file written by render_vae_data")
    parser.add_argument(
        "--out", required=True, help="output folder (model.pt, model.sha256, metrics.json, curves.csv, predictions.png)"
    )
    parser.add_argument("--checkpoints", default=None, help="per-epoch checkpoint folder to resume from [<out>/checkpoints]")


def _run(args: argparse.Namespace) -> None:
    cfg = load_section(args.params, "train_reward_encoder", TrainRewardEncoderConfig)
    metrics = train_reward_encoder(args.data, args.out, cfg, checkpoints=args.checkpoints)
    print(f"{args.out}: {json.dumps({k: metrics[k] for k in ('val_loss', 'val_constant_loss', 'constant_over_model')})}")


if __name__ == "__main__":
    stage_main(__doc__, _args, _run)
