"""The `rrl-pipe` command line: one subcommand per stage (the very commands dvc.yaml runs, from stages/), the
benchmarks, and doctor."""

from __future__ import annotations

import sys

import click

from stages import (
    encode,
    evaluate,
    export,
    make_demos,
    render_demos,
    render_vae_data,
    report,
    train_policy,
    train_reward_encoder,
    train_vae,
)
from stages._common import CONTEXT, friendly_errors


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="rrl-pipe")
def main() -> None:
    """rrl-pipe: frozen-encoder feature caching and BC + DAPG on the Adroit hand tasks (after RRL)."""


for stage in (make_demos, render_demos, render_vae_data, encode, train_vae, train_reward_encoder, train_policy, evaluate,
              report, export):
    main.add_command(stage.command)


@main.group()
def bench() -> None:
    """Benchmarks: ours vs the ceiling and the naive way."""


@bench.command("render")
@click.option("--task", default="door", help="task whose scene is rendered")
@click.option("--size", default=256, type=int, help="image size")
@click.option("--frames", default=0, type=int, help="frames per measurement (0: 600 fast, 120 paper)")
@click.option("--repeats", default=3, type=int, help="measurements per cell; the median is reported")
@click.option("--quality", "qualities", multiple=True, default=("fast", "paper"), help="presets to measure")
@click.option("--workers", "worker_counts", multiple=True, type=int, default=(1, 2), help="process counts")
@friendly_errors
def bench_render_cmd(
    task: str, size: int, frames: int, repeats: int, qualities: tuple[str, ...], worker_counts: tuple[int, ...]
) -> None:
    """Render stage frames/s vs a bare mujoco.Renderer loop."""
    from pipeline.bench.render import bench_render

    bench_render(task, size, frames, repeats, qualities, worker_counts, echo=click.echo)


@bench.command("encode")
@click.option("--model", "models", multiple=True, default=("resnet34",),
              help="encoder to measure; repeat for several (a table compares them)")
@click.option("--weights", default="random", help="weights (speed does not depend on their values)")
@click.option("--frames", "n_frames", default=1024, type=int, help="frames for the full path")
@click.option("--naive-frames", default=100, type=int, help="frames for the naive path")
@click.option("--repeats", default=3, type=int, help="measurements per cell; the median is reported")
@click.option("--device", default="auto", help="auto | cpu | cuda")
@click.option("--batch-size", "batch_sizes", multiple=True, type=int, default=(16, 32, 64), help="batch sizes to sweep")
@click.option("--precision", default="", help="sweep only this precision (fp32 | bf16 | fp16) [every one the device runs]")
@friendly_errors
def bench_encode_cmd(models: tuple[str, ...], weights: str, n_frames: int, naive_frames: int, repeats: int, device: str,
                     batch_sizes: tuple[int, ...], precision: str) -> None:
    """Encode path img/s vs bare forward and the naive way, per encoder."""
    from pipeline.bench.encode import bench_families

    bench_families(models, weights, n_frames, naive_frames, repeats, device, batch_sizes, precision, echo=click.echo)


@bench.command("sample")
@click.option("--task", default="door", help="task")
@click.option("--model", default="resnet18", help="encoder the service runs")
@click.option("--workers", default=2, type=int, help="env worker processes")
@click.option("--episodes", default=4, type=int, help="episodes per measurement")
@click.option("--horizon", default=50, type=int, help="steps per episode")
@click.option("--size", default=256, type=int, help="image size")
@click.option("--quality", default="fast", help="render preset (the same for every measurement)")
@click.option("--repeats", default=3, type=int, help="measurements per cell; the median is reported")
@click.option("--envs-per-worker", default=4, type=int, help="envs each worker steps in lockstep (ours)")
@click.option("--double-buffer/--no-double-buffer", default=False,
              help="two env groups per worker alternate: one renders while the service encodes the other")
@click.option("--synthetic-encoder", default="", metavar="BASE_MS,PER_FRAME_MS",
              help="a modelled GPU instead of --model (e.g. 2,0.1): answers after that latency, using no CPU")
@friendly_errors
def bench_sample_cmd(task: str, model: str, workers: int, episodes: int, horizon: int, size: int, quality: str, repeats: int,
                     envs_per_worker: int, double_buffer: bool, synthetic_encoder: str) -> None:
    """Sampler steps/s vs its parts, one env per worker and the reference way."""
    from pipeline.bench.sample import bench_sample

    bench_sample(task, model, workers, episodes, horizon, size, quality, repeats, echo=click.echo,
                 envs_per_worker=envs_per_worker, double_buffer=double_buffer, synthetic=synthetic_encoder)


@bench.command("ray")
@click.option("--task", default="door", help="task")
@click.option("--model", default="resnet18", help="encoder of the real-encoder row")
@click.option("--workers", default=2, type=int, help="env workers, processes or actors alike")
@click.option("--envs-per-worker", default=4, type=int, help="envs each worker steps in lockstep")
@click.option("--episodes", default=8, type=int, help="episodes per measurement")
@click.option("--horizon", default=50, type=int, help="steps per episode")
@click.option("--size", default=256, type=int, help="image size")
@click.option("--quality", default="fast", help="render preset")
@click.option("--repeats", default=3, type=int, help="measurements per cell, backends interleaved; medians")
@click.option("--gpu", default="2,0.1", metavar="BASE_MS,PER_FRAME_MS", help="the modelled GPU (synthetic row and model)")
@click.option("--cores", default=16, type=int, help="cores per node of the modelled cluster")
@click.option("--network-gbit", default=10.0, type=float, help="bandwidth into the service's node")
@click.option("--nodes", "node_counts", multiple=True, type=int, default=(1, 2, 4, 8, 16), help="cluster sizes to model")
@click.option(
    "--encoder-cpus", default=0.0, type=float, help="CPUs the service actor reserves (0: every core, as the local service uses)"
)
@friendly_errors
def bench_ray_cmd(task: str, model: str, workers: int, envs_per_worker: int, episodes: int, horizon: int, size: int,
                  quality: str, repeats: int, gpu: str, cores: int, network_gbit: float,
                  node_counts: tuple[int, ...], encoder_cpus: float) -> None:
    """Ray vs local sampler steps/s, and a cluster on paper."""
    from pipeline.bench.ray_backend import bench_ray

    bench_ray(task, model, workers, envs_per_worker, episodes, horizon, size, quality, repeats, gpu, cores,
              network_gbit, node_counts, echo=click.echo, encoder_cpus=encoder_cpus)


@main.command()
def doctor() -> None:
    """Check rendering, torch, devices, weights, Ray."""
    from pipeline.doctor import run_checks

    checks = run_checks()
    for check in checks:
        click.echo(f"[{'ok' if check.ok else '!!'}] {check.name}: {check.detail}")
    essential = [c for c in checks if c.name in ("offscreen rendering", "torch + torchvision")]
    sys.exit(0 if all(c.ok for c in essential) else 1)


if __name__ == "__main__":
    main()
