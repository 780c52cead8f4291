"""Stage `render_demos` (a matrix over tasks) and `rrl-pipe render-demos`: every demo state rendered ->
data/frames/<task>.h5."""

from __future__ import annotations

import click

from stages._common import CONTEXT, echo_result, friendly_errors, given, layout, params_option


@click.command("render-demos", context_settings=CONTEXT)
@params_option
@click.option("--task", default="door", help="sets the default --demos and --out")
@click.option("--demos", default=None, type=click.Path(dir_okay=False), help="demo HDF5 file [data/demos/<task>.h5]")
@click.option("--out", default=None, type=click.Path(dir_okay=False), help="frames HDF5 file to write [data/frames/<task>.h5]")
@click.option("--size", default=None, type=int, help="square image size in pixels [render_demos.size]")
@click.option("--quality", default=None, help="fast | paper [render_demos.quality]")
@click.option("--scene", default=None, help="rrl (RRL's cameras and colours) | gymnasium (as shipped) [render_demos.scene]")
@click.option("--camera", "cameras", multiple=True, help="camera name, repeatable [render_demos.cameras: the scene's rig]")
@click.option("--workers", default=None, type=int, help="render processes [render_demos.workers]")
@click.option("--chunk", default=None, type=int, help="frames per job [render_demos.chunk]")
@friendly_errors
def command(params_path: str | None, task: str, demos: str | None, out: str | None, **options: object) -> None:
    """Render every demo state into a frames HDF5 file."""
    from pipeline.config import RenderDemosConfig, load_section
    from pipeline.render.stage import render_demos

    cfg = load_section(params_path, "render_demos", RenderDemosConfig, given=given(options))
    out = out or layout("frames", task=task)
    echo_result(out, render_demos(demos or layout("demos", task=task), out, cfg))


if __name__ == "__main__":
    command()
