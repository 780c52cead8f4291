"""DVC stage `render_vae_data`: params `render_vae_data` (+ the task) -> data/vae_images/<task>.h5."""

from __future__ import annotations

import argparse
import json

from pipeline.config import RenderVaeDataConfig, load_section
from pipeline.render.vae_data import render_vae_data
from stages._common import stage_main


def _args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", required=True, help="task whose scene is rendered")
    parser.add_argument("--out", required=True, help="image HDF5 file to write")


def _run(args: argparse.Namespace) -> None:
    cfg = load_section(args.params, "render_vae_data", RenderVaeDataConfig)
    print(f"{args.out}: {json.dumps(render_vae_data(args.task, args.out, cfg))}")


if __name__ == "__main__":
    stage_main(__doc__, _args, _run)
