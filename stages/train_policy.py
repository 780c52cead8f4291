"""DVC stages `train_policy` (a matrix over tasks, encoders, seeds): demos/features ->
data/runs/<task>/<encoder>/seed<k>/, and `train_oracle` (`--encoder state`: the simulator state instead of
features) -> data/runs/<task>/state/seed<k>/."""

from __future__ import annotations

import argparse
import dataclasses
import json

from pipeline.config import TrainPolicyConfig, load_section, ray_config, service_encoder
from pipeline.rl.demo_data import state_demos, vision_demos
from pipeline.rl.train import train_policy
from stages._common import stage_main


def _args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", required=True)
    parser.add_argument("--encoder", required=True, help="feature store name (resnet18, vae, ...) or state (the oracle)")
    parser.add_argument("--demos", required=True, help="demo HDF5 (state observations)")
    parser.add_argument("--frames", default="", help="frames HDF5 (joints of each demo step); vision only")
    parser.add_argument("--features", default="", help="feature store of the demos; vision only")
    parser.add_argument("--encoder-model", default="",
                        help="model file of an encoder trained here (vae, reward); ignored for pretrained ones")
    parser.add_argument("--seed", type=int, default=None, help="policy seed [train_policy.seed] (the `seeds` matrix)")
    parser.add_argument("--out", required=True, help="run folder")


def _run(args: argparse.Namespace) -> None:
    oracle = args.encoder == "state"  # beside every vision encoder, whatever train_policy.obs says
    # the oracle is cheap (no rendering, no encoding): params `train_oracle` gives it a longer schedule
    cfg = load_section(args.params, "train_policy", TrainPolicyConfig, overrides="train_oracle" if oracle else None)
    overrides = {k: v for k, v in {"seed": args.seed, "obs": "state" if oracle else None}.items() if v is not None}
    cfg = dataclasses.replace(cfg, **overrides)  # re-validated by the config's __post_init__
    if cfg.obs == "state":
        demos, encoder = state_demos(args.demos), None
    else:
        demos, encoder = (
            vision_demos(args.features, args.frames, cfg.proprio),
            service_encoder(args.params, args.encoder, args.encoder_model),
        )
    metrics = train_policy(args.task, cfg, demos, args.out, encoder, ray_config=ray_config(args.params, cfg.backend))
    print(f"{args.out}: {json.dumps({k: metrics[k] for k in ('success_rate', 'return_mean', 'weights_source')})}")


if __name__ == "__main__":
    stage_main(__doc__, _args, _run)
