"""DVC stage `report`: every run and evaluation of the task -> reports/<task>/ (report.md + PNG figures),
data/results/<task>.json (the metrics DVC compares) and reports/timings/<task>/ (seconds; not tracked)."""

from __future__ import annotations

import argparse
from pathlib import Path

from stages._common import stage_main


def _args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", required=True, help="folder of run folders (data/runs/<task>)")
    parser.add_argument("--evals", required=True, help="folder of evaluation files (data/eval/<task>)")
    parser.add_argument("--out", required=True, help="report folder")
    parser.add_argument("--results", default=None, help="results JSON to write (DVC's metrics file)")
    parser.add_argument("--timings-out", default=None, help="folder for the compute figure [inside --out]")


def _run(args: argparse.Namespace) -> None:
    from pipeline.report.report import write_report

    runs = sorted(p for p in Path(args.runs).iterdir() if (p / "metrics.json").exists())
    evals = [Path(args.evals) / f"{run.name}.json" for run in runs]
    print(write_report(runs, evals, Path(args.out), Path(args.timings_out) if args.timings_out else None,
                       Path(args.results) if args.results else None))


if __name__ == "__main__":
    stage_main(__doc__, _args, _run)
