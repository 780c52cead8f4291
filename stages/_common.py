"""What every stage's command shares: the params file option, the project's file layout as path defaults,
options that default to "not given" (params.yaml decides), and one-line errors.

Each stage module defines one click command. `dvc.yaml` runs it as `python -m stages.<name>` with every path
spelt out; `rrl-pipe <name>` is the same command, its paths defaulting to the same layout
(tests/test_entry_points.py runs both ways and compares what reaches the library).
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from pipeline.errors import PipelineError, user_error_line

# Where `dvc repro` keeps each kind of file: the command line's defaults, and the paths dvc.yaml passes.
LAYOUT = {
    "demos": "data/demos/{task}.h5",
    "frames": "data/frames/{task}.h5",
    "vae_images": "data/vae_images/{task}.h5",
    "features": "data/features/{task}/{encoder}.zarr",
    "model": "data/{encoder}/{task}/model.pt",  # an encoder trained here: data/vae/door/model.pt
    "trained": "data/{encoder}/{task}",  # its training folder (model.pt, metrics.json, curves.csv, ...)
    "checkpoints": "data/{encoder}_checkpoints/{task}",
    "run": "data/runs/{task}/{encoder}/seed{seed}",
    "eval": "data/eval/{task}/{encoder}/seed{seed}.json",
}
CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True}


def layout(kind: str, **names: Any) -> str:
    return LAYOUT[kind].format(**names)


def given(options: dict[str, Any]) -> dict[str, Any]:
    """The options the user gave: each overrides its params key and passes the same checks (None: not given)."""
    return {k: v for k, v in options.items() if v is not None and v != ()}


def friendly_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
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


def _params_or_defaults(ctx: click.Context, param: click.Parameter, value: str) -> str | None:
    """The default params.yaml where there is one; without it, the defaults (the same values, tests/test_config.py).
    A file named with --params must exist."""
    if ctx.get_parameter_source(param.name or "") is click.core.ParameterSource.DEFAULT and not os.path.exists(value):
        return None
    return value


def params_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--params", "params_path", default="params.yaml", type=click.Path(dir_okay=False),
                        callback=_params_or_defaults,
                        help="params file, one section per stage (none here: params.yaml's defaults)")(fn)


def backend_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--backend and --ray-address: where the work runs (the same results either way)."""
    fn = click.option("--ray-address", default=None,
                      help="overrides ray.address: empty starts a local Ray instance, auto joins this machine's cluster, "
                           "host:port or ray://host:10001 a remote one")(fn)
    return click.option("--backend", default=None, type=click.Choice(["local", "ray"]),
                        help="overrides the section's backend: local (processes here) | ray (Ray actors)")(fn)


def echo_result(out: Any, figures: dict[str, Any]) -> None:
    click.echo(f"{out}: {json.dumps(figures)}")


def training_path_options(encoder: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--task, --data, --out and --checkpoints of an encoder trained here (vae, reward)."""
    options = [
        click.option("--task", default="door", help="sets the default --data, --out and --checkpoints"),
        click.option("--data", "dataset", default=None, type=click.Path(dir_okay=False),
                     help="image HDF5 from render-vae-data [data/vae_images/<task>.h5]"),
        click.option("--out", default=None, type=click.Path(file_okay=False), help=f"output folder [data/{encoder}/<task>]"),
        click.option("--checkpoints", default=None, type=click.Path(file_okay=False),
                     help=f"per-epoch checkpoints, resumed from [data/{encoder}_checkpoints/<task>; with --out: "
                          "<out>/checkpoints]"),
    ]

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):  # click lists options in the order their decorators are written
            fn = option(fn)
        return fn

    return decorate


def training_paths(encoder: str, task: str, data: str | None, out: str | None,
                   checkpoints: str | None) -> tuple[str, str, str | None]:
    """An encoder trained here: its image file, its output folder and its checkpoint folder. Without --out, the
    layout's (checkpoints beside, where DVC leaves them alone); with --out, checkpoints default to <out>/checkpoints."""
    if out is None:
        out = layout("trained", encoder=encoder, task=task)
        checkpoints = checkpoints or layout("checkpoints", encoder=encoder, task=task)
    return data or layout("vae_images", task=task), out, checkpoints
