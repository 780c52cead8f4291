"""`rrl-pipe export`: demonstrations with their cached features (and optionally frames) as a robomimic HDF5 file, a
LeRobot dataset or a Minari dataset. Not a DVC stage: an export is a hand-off to another tool, made on demand."""

from __future__ import annotations

import click

from stages._common import CONTEXT, echo_result, friendly_errors, layout

DEFAULT_OUT = {"robomimic": "data/export/{task}-robomimic.hdf5", "lerobot": "data/export/{task}-lerobot",
               "minari": "data/export/{task}-minari"}


@click.command("export", context_settings=CONTEXT)
@click.option("--to", "fmt", required=True, type=click.Choice(sorted(DEFAULT_OUT)), help="the format to write")
@click.option("--task", default="door", help="sets the default --demos, --frames and --encoder stores")
@click.option("--demos", default=None, type=click.Path(dir_okay=False), help="demo HDF5 file [data/demos/<task>.h5]")
@click.option("--encoder", "encoders", multiple=True,
              help="export this encoder's cached features [data/features/<task>/<encoder>.zarr]; repeat for several")
@click.option("--features", "feature_paths", multiple=True, type=click.Path(),
              help="a feature store by path (instead of --encoder); repeat for several")
@click.option("--images/--no-images", default=False, help="export the rendered frames too (large)")
@click.option("--frames", default=None, type=click.Path(dir_okay=False),
              help="frames file the features were encoded from [data/frames/<task>.h5 when features or images go]")
@click.option("--dataset-id", default="", help="LeRobot repo id / Minari dataset id [rrl-pipe/<task>/<source>-v0]")
@click.option("--out", default=None, type=click.Path(), help="where to write [data/export/<task>-<format>(.hdf5)]")
@friendly_errors
def command(fmt: str, task: str, demos: str | None, encoders: tuple[str, ...], feature_paths: tuple[str, ...],
            images: bool, frames: str | None, dataset_id: str, out: str | None) -> None:
    """Demos and features for robomimic, LeRobot, Minari."""
    from pipeline.export import export, open_source

    stores = [*feature_paths, *(layout("features", task=task, encoder=e) for e in encoders)]
    if frames is None and (stores or images):
        frames = layout("frames", task=task)
    source = open_source(demos or layout("demos", task=task), frames, stores, with_images=images)
    out = out or DEFAULT_OUT[fmt].format(task=source.task)
    echo_result(out, export(fmt, source, out, dataset_id))


if __name__ == "__main__":
    command()
