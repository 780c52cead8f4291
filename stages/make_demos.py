"""Stage `make_demos` (a matrix over tasks) and `rrl-pipe make-demos`: demonstrations -> data/demos/<task>.h5."""

from __future__ import annotations

import click

from stages._common import CONTEXT, echo_result, friendly_errors, given, layout, params_option


@click.command("make-demos", context_settings=CONTEXT)
@params_option
@click.option("--task", default=None, help="door | hammer | pen | relocate [make_demos.task]")
@click.option("--source", default=None, help="scripted | hand_dapg_human | hand_dapg_expert | minari [make_demos.source]")
@click.option("--path", default=None, help="source file or dataset folder, {task} replaced; not for scripted [make_demos.path]")
@click.option("--episodes", default=None, type=int, help="rollouts to make / demos to take [make_demos.episodes]")
@click.option("--seed", default=None, type=int, help="episode i resets with seed + i [make_demos.seed]")
@click.option("--reward-mode", default=None,
              help="rrl (RRL's staged) | dapg-dense (DAPG's shaped) | dense (gym 1.4.2's) | sparse | gym-sparse "
                   "[make_demos.reward_mode]")
@click.option("--human-states", default=None,
              help="hand_dapg_human: replay (RRL's) | recorded (DAPG's) [make_demos.human_states]")
@click.option("--out", default=None, type=click.Path(dir_okay=False), help="demo HDF5 file to write [data/demos/<task>.h5]")
@friendly_errors
def command(params_path: str | None, out: str | None, **options: object) -> None:
    """Make demonstrations into a demo HDF5 file."""
    import dataclasses

    from pipeline.config import MakeDemosConfig, load_section
    from pipeline.demos.sources import make_demos

    cfg = load_section(params_path, "make_demos", MakeDemosConfig, given=given(options))
    cfg = dataclasses.replace(cfg, path=cfg.path.replace("{task}", cfg.task))
    out = out or layout("demos", task=cfg.task)
    echo_result(out, make_demos(cfg, out))


if __name__ == "__main__":
    command()
