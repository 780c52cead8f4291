"""Stages `evaluate` and `evaluate_oracle` (a matrix over tasks, policy encoders and seeds) and `rrl-pipe evaluate`:
deterministic episodes of a trained policy, plain and under each visual distractor ->
data/eval/<task>/<encoder>/seed<k>.json."""

from __future__ import annotations

import click

from stages._common import CONTEXT, backend_options, echo_result, friendly_errors, given, layout, params_option


@click.command("evaluate", context_settings=CONTEXT)
@params_option
@click.option("--task", default="door", help="sets the default --policy, --out and --encoder-model")
@click.option("--encoder", default="resnet18", help="encoder the policy was trained on (state: the oracle)")
@click.option("--policy-seed", default=0, type=int, help="seed of the run, for the default --policy and --out")
@click.option("--policy", default=None, type=click.Path(dir_okay=False),
              help="policy.pt of a run [data/runs/<task>/<encoder>/seed<policy-seed>/policy.pt]")
@click.option("--encoder-model", "--vae-model", "model_file", default=None,
              help="model file of an encoder trained here (vae, reward) [data/<encoder>/<task>/model.pt]")
@click.option("--out", default=None, type=click.Path(dir_okay=False),
              help="metrics JSON to write [data/eval/<task>/<encoder>/seed<policy-seed>.json]")
@click.option("--episodes", default=None, type=int, help="episodes per condition [evaluate.episodes]")
@backend_options
@friendly_errors
def command(params_path: str | None, task: str, encoder: str, policy_seed: int, policy: str | None, model_file: str | None,
            out: str | None, ray_address: str | None, **options: object) -> None:
    """Deterministic episodes, plain and with distractors."""
    from pipeline.config import EvaluateConfig, RenderDemosConfig, TrainPolicyConfig, load_section
    from pipeline.rl.policy import GaussianMLPPolicy
    from pipeline.rollout.evaluate import evaluate_policy
    from stages._services import ray_config, service_encoder

    cfg = load_section(params_path, "evaluate", EvaluateConfig, given=given(options))
    train = load_section(params_path, "train_policy", TrainPolicyConfig)
    policy = policy or f"{layout('run', task=task, encoder=encoder, seed=policy_seed)}/policy.pt"
    # what the policy itself was trained on decides (the oracle is a state policy whatever train_policy.obs says,
    # and a state policy renders nothing: its params need no render_demos section)
    vision = GaussianMLPPolicy.load(policy).obs_layout.get("obs") == "vision"
    render = load_section(params_path, "render_demos", RenderDemosConfig) if vision else RenderDemosConfig()
    service = service_encoder(params_path, encoder, task, model_file) if vision else None
    out = out or layout("eval", task=task, encoder=encoder, seed=policy_seed)
    metrics = evaluate_policy(policy, cfg, out, train.reward_mode, service, render.size, render.quality, render.scene,
                              train.success_rule, ray_config=ray_config(params_path, cfg.backend, ray_address))
    echo_result(out, {c: r["success_rate"] for c, r in metrics["conditions"].items()})


if __name__ == "__main__":
    command()
