"""DVC stage `report`: every run and evaluation that params.yaml's `tasks`, `seeds` and train_policy.encoders (and
the state oracle) name -> reports/pipeline/ (report.md + PNG figures, one panel per task), data/results.json (the
metrics DVC compares) and reports/timings/ (seconds; not tracked)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.config import TrainPolicyConfig, load_matrix, load_section
from stages._common import stage_main


def _args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", required=True, help="folder of the runs (data/runs)")
    parser.add_argument("--evals", required=True, help="folder of the evaluation files (data/eval)")
    parser.add_argument("--out", required=True, help="report folder")
    parser.add_argument("--results", default=None, help="results JSON to write (DVC's metrics file)")
    parser.add_argument("--timings-out", default=None, help="folder for the compute figure [inside --out]")


def _run(args: argparse.Namespace) -> None:
    from pipeline.report.report import pipeline_runs, write_report

    tasks, seeds = load_matrix(args.params)
    names = ["state", *load_section(args.params, "train_policy", TrainPolicyConfig).encoders]
    files = pipeline_runs(Path(args.runs), Path(args.evals), tasks, names, seeds)
    print(write_report(files, Path(args.out), Path(args.timings_out) if args.timings_out else None,
                       Path(args.results) if args.results else None))


if __name__ == "__main__":
    stage_main(__doc__, _args, _run)
