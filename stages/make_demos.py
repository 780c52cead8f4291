"""DVC stage `make_demos` (a matrix over `tasks`): params.yaml `make_demos` -> data/demos/<task>.h5. A `{task}` in
make_demos.path becomes the task, so one setting names every task's demo file (hand_dapg's `<task>-v0_demos.pickle`)."""

from __future__ import annotations

import argparse
import dataclasses
import json

from pipeline.config import MakeDemosConfig, load_section
from pipeline.demos.sources import make_demos
from stages._common import stage_main


def _args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", default=None, help="task [make_demos.task]")
    parser.add_argument("--out", required=True, help="demo HDF5 file to write")


def _run(args: argparse.Namespace) -> None:
    cfg = load_section(args.params, "make_demos", MakeDemosConfig)
    task = args.task or cfg.task
    cfg = dataclasses.replace(cfg, task=task, path=cfg.path.replace("{task}", task))
    figures = make_demos(cfg, args.out)
    print(f"{args.out}: {json.dumps(figures)}")


if __name__ == "__main__":
    stage_main(__doc__, _args, _run)
