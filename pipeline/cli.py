"""The `rrl-pipe` command line: one subcommand per stage, plus doctor. Options mirror params.yaml keys."""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click

from pipeline.errors import PipelineError, user_error_line


def _friendly_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a PipelineError into one line on stderr and exit code 2 (click's usage-error code)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (PipelineError, OSError, UnicodeEncodeError) as exc:
            line = user_error_line(exc)
            if line is None:
                raise
            click.echo(f"error: {line}", err=True)
            sys.exit(2)

    return wrapper


def _backend_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--backend and --ray-address: where the work runs (the same results either way)."""
    fn = click.option("--ray-address", default=None,
                      help="overrides ray.address: empty starts a local Ray instance, auto joins this machine's cluster, "
                           "host:port or ray://host:10001 a remote one")(fn)
    return click.option("--backend", default=None, type=click.Choice(["local", "ray"]),
                        help="overrides the section's backend: local (processes here) | ray (Ray actors)")(fn)


def _ray_config(params_path: str, backend: str, address: str | None) -> Any:
    """params `ray` for backend ray (its defaults without a params file), else None."""
    import os

    from pipeline.cluster import RayConfig
    from pipeline.config import ray_config

    if backend == "ray" and not os.path.exists(params_path):
        return RayConfig(address=address or "")
    return ray_config(params_path, backend, address)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(package_name="rrl-pipe")
def main() -> None:
    """rrl-pipe: frozen-encoder feature caching and BC + DAPG on the Adroit hand tasks (after RRL)."""


@main.command("make-demos")
@click.option("--task", default="door", help="door | hammer | pen | relocate")
@click.option("--source", default="scripted", help="scripted | hand_dapg_human | hand_dapg_expert | minari")
@click.option("--path", default="", help="source file or dataset folder (not for scripted)")
@click.option("--episodes", default=25, type=int, help="rollouts to make / demos to take")
@click.option("--seed", default=0, type=int, help="episode i resets with seed + i")
@click.option(
    "--reward-mode",
    default="rrl",
    help="rrl (RRL's staged) | dapg-dense (DAPG's shaped) | dense (gym 1.4.2's) | sparse | gym-sparse",
)
@click.option("--human-states", default="replay", help="hand_dapg_human: replay (RRL's) | recorded (DAPG's)")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="demo HDF5 file to write")
@_friendly_errors
def make_demos_cmd(task: str, source: str, path: str, episodes: int, seed: int, reward_mode: str, human_states: str,
                   out: str) -> None:
    """Make demonstrations into a demo HDF5 file."""
    from pipeline.config import MakeDemosConfig
    from pipeline.demos.sources import make_demos

    cfg = MakeDemosConfig(task=task, source=source, path=path, episodes=episodes, seed=seed, reward_mode=reward_mode,
                          human_states=human_states)
    figures = make_demos(cfg, out)
    click.echo(f"{out}: {json.dumps(figures)}")


@main.command("render-demos")
@click.option("--demos", required=True, type=click.Path(dir_okay=False), help="demo HDF5 file")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="frames HDF5 file to write")
@click.option("--size", default=256, type=int, help="square image size in pixels")
@click.option("--quality", default="fast", help="fast | paper")
@click.option("--scene", default="rrl", help="rrl (RRL's cameras and colours) | gymnasium (Gymnasium's scene as shipped)")
@click.option("--camera", "cameras", multiple=True, help="camera name (repeatable); default: the scene's camera rig")
@click.option("--workers", default=2, type=int, help="render processes")
@click.option("--chunk", default=25, type=int, help="frames per job")
@_friendly_errors
def render_demos_cmd(demos: str, out: str, size: int, quality: str, scene: str, cameras: tuple[str, ...], workers: int,
                     chunk: int) -> None:
    """Render every demo state into a frames HDF5 file."""
    from pipeline.config import RenderDemosConfig
    from pipeline.render.stage import render_demos

    cfg = RenderDemosConfig(size=size, quality=quality, scene=scene, cameras=cameras, workers=workers, chunk=chunk)
    click.echo(f"{out}: {json.dumps(render_demos(demos, out, cfg))}")


@main.command("render-vae-data")
@click.option("--task", default="door", help="task whose scene is rendered")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="image HDF5 file to write")
@click.option("--n-images", default=8000, type=int, help="images in all, four equal parts")
@click.option("--size", default=64, type=int, help="square image size")
@click.option("--small-noise", default=0.1, type=float, help="action noise std, small-noise part")
@click.option("--large-noise", default=0.5, type=float, help="action noise std, large-noise part")
@click.option("--seed", default=0, type=int, help="first episode seed")
@click.option("--quality", default="fast", help="fast | paper")
@click.option("--scene", default="rrl", help="rrl | gymnasium")
@click.option("--workers", default=2, type=int, help="render processes")
@_friendly_errors
def render_vae_data_cmd(task: str, out: str, **options: Any) -> None:
    """Render the VAE images and their reward signals."""
    from pipeline.config import RenderVaeDataConfig
    from pipeline.render.vae_data import render_vae_data

    click.echo(f"{out}: {json.dumps(render_vae_data(task, out, RenderVaeDataConfig(**options)))}")


@main.command()
@click.option("--model", default="resnet18", help="resnet18/34/50 | mobilenet_v3_large | shufflenet_v2_x1_0 | rrl18/34/50 | "
              "r3m18/34/50 | dinov2_vits14 | dinov2_vitb14 | vc1_base | vc1_large | efficientnet_lite0/1/2 | vae | reward")
@click.option("--weights", default="auto", help="pretrained (alias imagenet) | random | auto | <file path> "
              "(vae, reward: their model.pt)")
@click.option("--weights-sha256", default="", help="expected sha256 of a weight file")
@click.option("--layer", default="", help="empty: final global pool; resnets: layer1 | layer2 | layer3")
@click.option("--task", default="door", help="sets the default --frames and --out paths")
@click.option("--frames", default=None, type=click.Path(dir_okay=False), help="frames HDF5 [data/frames/<task>.h5]")
@click.option("--out", default=None, type=click.Path(), help="store [data/features/<task>/<model>.zarr]")
@click.option("--batch-size", default=64, type=int, help="frames per forward pass")
@click.option("--precision", default="auto", help="auto (bf16 where native, else fp32) | fp32 | bf16 | fp16")
@click.option("--device", default="auto", help="auto | cpu | cuda")
@click.option("--dtype", default="float32", help="stored dtype: float32 | float16")
@click.option("--shard-rows", default=0, type=int, hidden=True, help="rows per shard (0: ~8 shards)")
@click.option("--params", "params_path", default="params.yaml", help="params file: its section ray, for --backend ray")
@_backend_options
@_friendly_errors
def encode(model: str, weights: str, weights_sha256: str, layer: str, task: str, frames: str | None, out: str | None,
           batch_size: int, precision: str, device: str, dtype: str, shard_rows: int, backend: str | None,
           ray_address: str | None, params_path: str) -> None:
    """Encode a frames file into a Zarr feature store."""
    from pipeline.cache.encode import encode_frames
    from pipeline.encoders import EncoderConfig

    frames = frames or f"data/frames/{task}.h5"
    out = out or f"data/features/{task}/{model}.zarr"
    config = EncoderConfig(
        model=model, weights=weights, weights_sha256=weights_sha256, layer=layer, precision=precision, device=device
    )
    backend = backend or "local"
    figures = encode_frames(frames, out, config, batch_size, dtype, shard_rows=shard_rows, backend=backend,
                            ray_config=_ray_config(params_path, backend, ray_address))
    click.echo(f"{out}: {json.dumps(figures)}")


@main.command("train-vae")
@click.option("--data", "dataset", required=True, type=click.Path(dir_okay=False), help="image HDF5 from render-vae-data")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="output folder (model.pt, metrics.json, ...)")
@click.option("--checkpoints", default=None, type=click.Path(file_okay=False), help="checkpoint folder [<out>/checkpoints]")
@click.option("--epochs", default=10, type=int, help="passes over the training images; raising it resumes")
@click.option("--batch-size", default=64, type=int, help="images per Adam step")
@click.option("--lr", default=1e-3, type=float, help="Adam learning rate")
@click.option("--kl-weight", default=0.1, type=float, help="weight of the KL term (beta)")
@click.option("--val-fraction", default=0.1, type=float, help="share held out, as whole episodes")
@click.option("--seed", default=0, type=int, help="seed of init, split, shuffles and noise")
@_friendly_errors
def train_vae_cmd(dataset: str, out: str, checkpoints: str | None, **options: Any) -> None:
    """Train the baseline VAE; rerunning resumes."""
    from pipeline.config import TrainVaeConfig
    from pipeline.vae.train import train_vae

    click.echo(f"{out}: {json.dumps(train_vae(dataset, out, TrainVaeConfig(**options), checkpoints=checkpoints))}")


@main.command("train-reward-encoder")
@click.option("--data", "dataset", required=True, type=click.Path(dir_okay=False), help="image HDF5 from render-vae-data")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="output folder (model.pt, metrics.json, ...)")
@click.option("--checkpoints", default=None, type=click.Path(file_okay=False), help="checkpoint folder [<out>/checkpoints]")
@click.option("--epochs", default=4, type=int, help="passes over the training images; raising it resumes")
@click.option("--horizon", default=10, type=int, help="steps ahead each signal's head predicts")
@click.option("--batch-size", default=64, type=int, help="images per Adam step")
@click.option("--lr", default=1e-3, type=float, help="Adam learning rate")
@click.option("--val-fraction", default=0.1, type=float, help="share held out, as whole episodes")
@click.option("--seed", default=0, type=int, help="seed of init, split and shuffles")
@_friendly_errors
def train_reward_encoder_cmd(dataset: str, out: str, checkpoints: str | None, **options: Any) -> None:
    """Train the reward encoder; rerunning resumes."""
    from pipeline.config import TrainRewardEncoderConfig
    from pipeline.reward.train import train_reward_encoder

    metrics = train_reward_encoder(dataset, out, TrainRewardEncoderConfig(**options), checkpoints=checkpoints)
    click.echo(f"{out}: {json.dumps({k: metrics[k] for k in ('val_loss', 'val_constant_loss', 'constant_over_model')})}")


@main.command("train-policy")
@click.option("--task", default="door", help="task")
@click.option("--encoder", default="resnet18", help="feature store name: data/features/<task>/<encoder>.zarr")
@click.option(
    "--params",
    "params_path",
    default="params.yaml",
    type=click.Path(dir_okay=False),
    help="params file (sections train_policy, encode)",
)
@click.option("--encoder-model", "--vae-model", "model_file", default="",
              help="model file of an encoder trained here (vae, reward) [data/<encoder>/<task>/model.pt]")
@click.option("--demos", "demos_path", default=None, help="obs state: demo file [data/demos/<task>.h5]")
@click.option("--features", "features_path", default=None, help="obs vision: feature store [data/features/<task>/<encoder>.zarr]")
@click.option("--frames", "frames_path", default=None, help="obs vision: the frames file the store encodes (its joints) "
              "[data/frames/<task>.h5]")
@click.option("--seed", type=int, default=None, help="overrides train_policy.seed (one run per seed)")
@click.option("--mode", default=None, help="overrides train_policy.mode: dapg | npg | bc")
@click.option("--obs", default=None, help="overrides train_policy.obs: vision | state")
@click.option("--out", default=None, help="run folder [data/runs/<task>/<encoder>/seed<seed>]")
@_backend_options
@_friendly_errors
def train_policy_cmd(task: str, encoder: str, params_path: str, model_file: str, demos_path: str | None,
                     features_path: str | None, frames_path: str | None, seed: int | None, mode: str | None, obs: str | None,
                     out: str | None, backend: str | None, ray_address: str | None) -> None:
    """BC + DAPG (or NPG, BC) on cached features or state."""
    from pipeline.config import TrainPolicyConfig, load_section, service_encoder
    from pipeline.rl.demo_data import state_demos, vision_demos
    from pipeline.rl.train import train_policy

    cfg = load_section(params_path, "train_policy", TrainPolicyConfig)
    overrides = {k: v for k, v in {"seed": seed, "mode": mode, "obs": obs, "backend": backend}.items() if v is not None}
    cfg = dataclasses.replace(cfg, **overrides)  # re-validated by the config's __post_init__
    if cfg.obs == "state":
        demos, enc = state_demos(demos_path or f"data/demos/{task}.h5"), None
    else:
        demos = vision_demos(features_path or f"data/features/{task}/{encoder}.zarr",
                             frames_path or f"data/frames/{task}.h5", cfg.proprio)
        enc = service_encoder(params_path, encoder, model_file or f"data/{encoder}/{task}/model.pt")
    out = out or f"data/runs/{task}/{encoder}/seed{cfg.seed}"  # where the DVC stage puts it
    metrics = train_policy(task, cfg, demos, out, enc, ray_config=_ray_config(params_path, cfg.backend, ray_address))
    from pipeline.timings import read_timings

    click.echo(json.dumps({**{k: metrics[k] for k in ("success_rate", "eval_success_rate", "return_mean",
                                                      "weights_source")}, **read_timings(out)["seconds"]}))


@main.command()
@click.option("--policy", required=True, type=click.Path(dir_okay=False), help="policy.pt of a run")
@click.option("--encoder", default="resnet18", help="encoder the policy was trained on")
@click.option("--params", "params_path", default="params.yaml", type=click.Path(dir_okay=False), help="params file")
@click.option("--encoder-model", "--vae-model", "model_file", default="",
              help="model file of an encoder trained here (vae, reward)")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="metrics JSON to write")
@_backend_options
@_friendly_errors
def evaluate(policy: str, encoder: str, params_path: str, model_file: str, out: str, backend: str | None,
             ray_address: str | None) -> None:
    """Deterministic episodes, plain and with distractors."""
    from pipeline.config import EvaluateConfig, RenderDemosConfig, TrainPolicyConfig, load_section, service_encoder
    from pipeline.rl.evaluate import evaluate_policy
    from pipeline.rl.policy import GaussianMLPPolicy

    train = load_section(params_path, "train_policy", TrainPolicyConfig)
    # what the policy itself was trained on decides (train-policy --obs may have overridden the params)
    vision = GaussianMLPPolicy.load(policy).obs_layout.get("obs") == "vision"  # state renders nothing
    render = load_section(params_path, "render_demos", RenderDemosConfig) if vision else RenderDemosConfig()
    enc = service_encoder(params_path, encoder, model_file) if vision else None
    cfg = load_section(params_path, "evaluate", EvaluateConfig)
    cfg = dataclasses.replace(cfg, backend=backend) if backend else cfg
    metrics = evaluate_policy(policy, cfg, out, train.reward_mode, enc, render.size, render.quality, render.scene,
                              train.success_rule, ray_config=_ray_config(params_path, cfg.backend, ray_address))
    click.echo(json.dumps({c: r["success_rate"] for c, r in metrics["conditions"].items()}))


@main.command()
@click.option("--runs", default="data/runs", type=click.Path(file_okay=False), help="folder of run folders (searched below)")
@click.option("--evals", default="data/eval", type=click.Path(file_okay=False), help="folder of evaluation files")
@click.option("--out", default="reports/latest", type=click.Path(file_okay=False), help="report folder")
@_friendly_errors
def report(runs: str, evals: str, out: str) -> None:
    """Markdown report of runs and evaluations."""
    from pathlib import Path

    from pipeline.report.report import folder_runs, write_report

    click.echo(write_report(folder_runs(Path(runs), Path(evals)), Path(out)))


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
@_friendly_errors
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
@_friendly_errors
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
@_friendly_errors
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
@_friendly_errors
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
