"""DVC stages `evaluate` (a matrix over tasks, encoders, seeds) and `evaluate_oracle` (`--encoder state`):
policy -> data/eval/<task>/<encoder>/seed<k>.json."""

from __future__ import annotations

import argparse
import json

from pipeline.config import EvaluateConfig, RenderDemosConfig, TrainPolicyConfig, load_section, ray_config, service_encoder
from pipeline.rl.evaluate import evaluate_policy
from pipeline.rl.policy import GaussianMLPPolicy
from stages._common import stage_main


def _args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--encoder", required=True)
    parser.add_argument("--policy", required=True, help="policy.pt of a run")
    parser.add_argument("--encoder-model", default="",
                        help="model file of an encoder trained here (vae, reward); ignored for pretrained ones")
    parser.add_argument("--out", required=True, help="metrics JSON to write")


def _run(args: argparse.Namespace) -> None:
    cfg = load_section(args.params, "evaluate", EvaluateConfig)
    train = load_section(args.params, "train_policy", TrainPolicyConfig)
    render = load_section(args.params, "render_demos", RenderDemosConfig)
    # what the policy itself was trained on decides (the oracle is a state policy whatever train_policy.obs says)
    vision = GaussianMLPPolicy.load(args.policy).obs_layout.get("obs") == "vision"
    encoder = service_encoder(args.params, args.encoder, args.encoder_model) if vision else None
    metrics = evaluate_policy(args.policy, cfg, args.out, train.reward_mode, encoder, render.size, render.quality,
                              render.scene, train.success_rule, ray_config=ray_config(args.params, cfg.backend))
    print(f"{args.out}: {json.dumps({c: r['success_rate'] for c, r in metrics['conditions'].items()})}")


if __name__ == "__main__":
    stage_main(__doc__, _args, _run)
