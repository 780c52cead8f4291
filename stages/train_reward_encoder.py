"""Stage `train_reward_encoder` (a matrix over tasks) and `rrl-pipe train-reward-encoder`: the reward-induced encoder
(CLVR's reward prediction, on the VAE's images) -> data/reward/<task>/; rerunning resumes."""

from __future__ import annotations

import click

from stages._common import (
    CONTEXT,
    echo_result,
    friendly_errors,
    given,
    params_option,
    training_path_options,
    training_paths,
)


@click.command("train-reward-encoder", context_settings=CONTEXT)
@params_option
@training_path_options("reward")
@click.option("--epochs", default=None, type=int, help="passes over the training images [train_reward_encoder.epochs]")
@click.option("--horizon", default=None, type=int, help="steps ahead each signal's head predicts [train_reward_encoder.horizon]")
@click.option("--batch-size", default=None, type=int, help="images per Adam step [train_reward_encoder.batch_size]")
@click.option("--lr", default=None, type=float, help="Adam learning rate [train_reward_encoder.lr]")
@click.option("--val-fraction", default=None, type=float, help="share held out [train_reward_encoder.val_fraction]")
@click.option("--seed", default=None, type=int, help="seed of init, split and shuffles [train_reward_encoder.seed]")
@friendly_errors
def command(params_path: str | None, task: str, dataset: str | None, out: str | None, checkpoints: str | None,
            **options: object) -> None:
    """Train the reward encoder; rerunning resumes."""
    from pipeline.config import TrainRewardEncoderConfig, load_section
    from pipeline.reward.train import train_reward_encoder

    cfg = load_section(params_path, "train_reward_encoder", TrainRewardEncoderConfig, given=given(options))
    dataset, out, checkpoints = training_paths("reward", task, dataset, out, checkpoints)
    metrics = train_reward_encoder(dataset, out, cfg, checkpoints=checkpoints)
    echo_result(out, {k: metrics[k] for k in ("val_loss", "val_constant_loss", "constant_over_model")})


if __name__ == "__main__":
    command()
