"""Stages `encode` (a matrix over tasks and the frozen encoders), `encode_vae` and `encode_reward` (the encoders
trained here, from their model files), and `rrl-pipe encode`: frames -> data/features/<task>/<encoder>.zarr."""

from __future__ import annotations

import click

from stages._common import CONTEXT, backend_options, echo_result, friendly_errors, given, layout, params_option


@click.command("encode", context_settings=CONTEXT)
@params_option
@click.option("--model", "--encoder", "model", default="resnet18",
              help="resnet18/34/50 | mobilenet_v3_large | shufflenet_v2_x1_0 | rrl18/34/50 | r3m18/34/50 | dinov2_vits14 | "
                   "dinov2_vitb14 | vc1_base | vc1_large | efficientnet_lite0/1/2 | vae | reward")
@click.option("--task", default="door", help="sets the default --frames, --out and --encoder-model")
@click.option("--frames", default=None, type=click.Path(dir_okay=False), help="frames HDF5 [data/frames/<task>.h5]")
@click.option("--out", default=None, type=click.Path(), help="store [data/features/<task>/<model>.zarr]")
@click.option("--encoder-model", "--vae-model", "model_file", default=None, type=click.Path(dir_okay=False),
              help="vae, reward: the model file they were trained into [data/<model>/<task>/model.pt]")
@click.option("--weights", default=None, help="pretrained (alias imagenet) | random | auto | <file path> [encode.weights]")
@click.option("--weights-sha256", default=None, help="expected sha256 of a weight file [encode.weights_sha256]")
@click.option("--layer", default=None, help="empty: final global pool; resnets: layer1 | layer2 | layer3 [encode.layer]")
@click.option("--batch-size", default=None, type=int, help="frames per forward pass [encode.batch_size]")
@click.option("--precision", default=None, help="auto (bf16 where native, else fp32) | fp32 | bf16 | fp16 [encode.precision]")
@click.option("--device", default=None, help="auto | cpu | cuda [encode.device]")
@click.option("--dtype", default=None, help="stored dtype: float32 | float16 [encode.dtype]")
@click.option("--shard-rows", default=0, type=int, hidden=True, help="rows per shard (0: ~8 shards)")
@backend_options
@friendly_errors
def command(params_path: str | None, model: str, task: str, frames: str | None, out: str | None, model_file: str | None,
            shard_rows: int, ray_address: str | None, **options: object) -> None:
    """Encode a frames file into a Zarr feature store."""
    from pipeline.cache.encode import encode_frames
    from pipeline.config import EncodeConfig, load_section
    from pipeline.encoders.registry import get_encoder_spec
    from pipeline.errors import PipelineError
    from stages._services import ray_config

    if options["weights"] is not None and get_encoder_spec(model).trained_here:
        raise PipelineError(f"{model} was trained here: its weights are its model file (--encoder-model FILE), not --weights")
    cfg = load_section(params_path, "encode", EncodeConfig, given=given(options))
    encoder = cfg.encoder_config(model, model_file or layout("model", encoder=model, task=task))
    out = out or layout("features", task=task, encoder=model)
    figures = encode_frames(frames or layout("frames", task=task), out, encoder, cfg.batch_size, cfg.dtype,
                            shard_rows=shard_rows, backend=cfg.backend,
                            ray_config=ray_config(params_path, cfg.backend, ray_address))
    echo_result(out, figures)


if __name__ == "__main__":
    command()
