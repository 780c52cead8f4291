"""Stages `train_policy` (a matrix over tasks, policy encoders and seeds: demos + features ->
data/runs/<task>/<encoder>/seed<k>/) and `train_oracle` (`--encoder state`: the simulator state instead of features,
on params `train_oracle`'s schedule -> data/runs/<task>/state/seed<k>/), and `rrl-pipe train-policy`."""

from __future__ import annotations

import click

from stages._common import CONTEXT, backend_options, echo_result, friendly_errors, given, layout, params_option


@click.command("train-policy", context_settings=CONTEXT)
@params_option
@click.option("--task", default="door", help="task")
@click.option("--encoder", default="resnet18",
              help="feature store name (resnet18, vae, ...), or state: the oracle (params train_oracle over train_policy)")
@click.option("--encoder-model", "--vae-model", "model_file", default=None,
              help="model file of an encoder trained here (vae, reward) [data/<encoder>/<task>/model.pt]")
@click.option("--demos", default=None, help="obs state: demo file [data/demos/<task>.h5]")
@click.option("--features", default=None, help="obs vision: feature store [data/features/<task>/<encoder>.zarr]")
@click.option("--frames", default=None, help="obs vision: the frames file the store encodes (its joints) [data/frames/<task>.h5]")
@click.option("--seed", type=int, default=None, help="policy seed, one run per seed [train_policy.seed]")
@click.option("--mode", default=None, help="dapg | npg | bc [train_policy.mode]")
@click.option("--obs", default=None, help="vision | state [train_policy.obs]")
@click.option("--out", default=None, help="run folder [data/runs/<task>/<encoder>/seed<seed>]")
@backend_options
@friendly_errors
def command(params_path: str | None, task: str, encoder: str, model_file: str | None, demos: str | None,
            features: str | None, frames: str | None, out: str | None, ray_address: str | None, **options: object) -> None:
    """BC + DAPG (or NPG, BC) on cached features or state."""
    from pipeline.config import TrainPolicyConfig, load_section
    from pipeline.dapg.demo_data import state_demos, vision_demos
    from pipeline.dapg.train import train_policy
    from pipeline.timings import read_timings
    from stages._services import ray_config, service_encoder

    oracle = encoder == "state"  # beside every vision encoder; cheap (no rendering or encoding): a longer schedule
    overrides = {**given(options), **({"obs": "state"} if oracle else {})}
    cfg = load_section(params_path, "train_policy", TrainPolicyConfig, over="train_oracle" if oracle else None,
                       given=overrides)
    if cfg.obs == "state":
        data, service = state_demos(demos or layout("demos", task=task)), None
    else:
        data = vision_demos(features or layout("features", task=task, encoder=encoder),
                            frames or layout("frames", task=task), cfg.proprio)
        service = service_encoder(params_path, encoder, task, model_file)
    out = out or layout("run", task=task, encoder=encoder, seed=cfg.seed)
    metrics = train_policy(task, cfg, data, out, service, ray_config=ray_config(params_path, cfg.backend, ray_address))
    echo_result(out, {**{k: metrics[k] for k in ("success_rate", "eval_success_rate", "return_mean", "weights_source")},
                      **read_timings(out)["seconds"]})


if __name__ == "__main__":
    command()
