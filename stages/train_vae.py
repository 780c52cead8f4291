"""Stage `train_vae` (a matrix over tasks) and `rrl-pipe train-vae`: the baseline VAE on the task's images ->
data/vae/<task>/ (model.pt, model.sha256, metrics.json, curves.csv, reconstructions.png); rerunning resumes."""

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


@click.command("train-vae", context_settings=CONTEXT)
@params_option
@training_path_options("vae")
@click.option("--epochs", default=None, type=int, help="passes over the training images; raising it resumes [train_vae.epochs]")
@click.option("--batch-size", default=None, type=int, help="images per Adam step [train_vae.batch_size]")
@click.option("--lr", default=None, type=float, help="Adam learning rate [train_vae.lr]")
@click.option("--kl-weight", default=None, type=float, help="weight of the KL term (beta) [train_vae.kl_weight]")
@click.option("--val-fraction", default=None, type=float, help="share held out, as whole episodes [train_vae.val_fraction]")
@click.option("--seed", default=None, type=int, help="seed of init, split, shuffles and noise [train_vae.seed]")
@friendly_errors
def command(params_path: str | None, task: str, dataset: str | None, out: str | None, checkpoints: str | None,
            **options: object) -> None:
    """Train the baseline VAE; rerunning resumes."""
    from pipeline.config import TrainVaeConfig, load_section
    from pipeline.vae.train import train_vae

    cfg = load_section(params_path, "train_vae", TrainVaeConfig, given=given(options))
    dataset, out, checkpoints = training_paths("vae", task, dataset, out, checkpoints)
    echo_result(out, train_vae(dataset, out, cfg, checkpoints=checkpoints))


if __name__ == "__main__":
    command()
