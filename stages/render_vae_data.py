"""Stage `render_vae_data` (a matrix over tasks) and `rrl-pipe render-vae-data`: the VAE's images and their reward
signals -> data/vae_images/<task>.h5."""

from __future__ import annotations

import click

from stages._common import CONTEXT, echo_result, friendly_errors, given, layout, params_option


@click.command("render-vae-data", context_settings=CONTEXT)
@params_option
@click.option("--task", default="door", help="task whose scene is rendered")
@click.option("--out", default=None, type=click.Path(dir_okay=False), help="image HDF5 file to write [data/vae_images/<task>.h5]")
@click.option("--n-images", default=None, type=int, help="images in all, four equal parts [render_vae_data.n_images]")
@click.option("--size", default=None, type=int, help="square image size [render_vae_data.size]")
@click.option("--small-noise", default=None, type=float, help="action noise std, small-noise part [render_vae_data.small_noise]")
@click.option("--large-noise", default=None, type=float, help="action noise std, large-noise part [render_vae_data.large_noise]")
@click.option("--seed", default=None, type=int, help="first episode seed [render_vae_data.seed]")
@click.option("--quality", default=None, help="fast | paper [render_vae_data.quality]")
@click.option("--scene", default=None, help="rrl | gymnasium [render_vae_data.scene]")
@click.option("--workers", default=None, type=int, help="render processes [render_vae_data.workers]")
@friendly_errors
def command(params_path: str | None, task: str, out: str | None, **options: object) -> None:
    """Render the VAE images and their reward signals."""
    from pipeline.config import RenderVaeDataConfig, load_section
    from pipeline.render.vae_data import render_vae_data

    cfg = load_section(params_path, "render_vae_data", RenderVaeDataConfig, given=given(options))
    out = out or layout("vae_images", task=task)
    echo_result(out, render_vae_data(task, out, cfg))


if __name__ == "__main__":
    command()
