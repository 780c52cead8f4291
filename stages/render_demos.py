"""DVC stage `render_demos`: data/demos/<task>.h5 + params `render_demos` -> data/frames/<task>.h5."""

from __future__ import annotations

import argparse
import json

from pipeline.config import RenderDemosConfig, load_section
from pipeline.render.stage import render_demos
from stages._common import stage_main


def _args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--demos", required=True, help="demo HDF5 file to render")
    parser.add_argument("--out", required=True, help="frames HDF5 file to write")


def _run(args: argparse.Namespace) -> None:
    cfg = load_section(args.params, "render_demos", RenderDemosConfig)
    figures = render_demos(args.demos, args.out, cfg)
    print(f"{args.out}: {json.dumps(figures)}")


if __name__ == "__main__":
    stage_main(__doc__, _args, _run)
