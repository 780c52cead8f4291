"""Stage `report` and `rrl-pipe report`: the runs and evaluations of every task, policy encoder (and the oracle) and
seed that params.yaml lists -> reports/pipeline/ (report.md and its figures) and data/results.json (DVC's metrics)."""

from __future__ import annotations

import click

from stages._common import CONTEXT, friendly_errors, params_option


@click.command("report", context_settings=CONTEXT)
@params_option
@click.option("--runs", default="data/runs", type=click.Path(file_okay=False), help="folder of the run folders")
@click.option("--evals", default="data/eval", type=click.Path(file_okay=False), help="folder of the evaluation files")
@click.option("--every-run", is_flag=True,
              help="every run folder found below --runs (a validation's), not the params' tasks x encoders x seeds")
@click.option("--out", default=None, type=click.Path(file_okay=False), help="report folder [reports/pipeline]")
@click.option("--results", default=None, type=click.Path(dir_okay=False),
              help="results JSON, DVC's metrics file [data/results.json; with --out: none]")
@click.option("--timings-out", default=None, type=click.Path(file_okay=False),
              help="folder for the machine-dependent compute figure [reports/timings; with --out: inside it]")
@friendly_errors
def command(params_path: str | None, runs: str, evals: str, every_run: bool, out: str | None, results: str | None,
            timings_out: str | None) -> None:
    """Markdown report of runs and evaluations."""
    from pathlib import Path

    from pipeline.config import load_matrix
    from pipeline.encoders.registry import PRETRAINED, every_encoder_name
    from pipeline.report.report import folder_runs, pipeline_runs, write_report
    from pipeline.tasks.spec import TASKS

    if out is None:  # the pipeline's report
        out, results, timings_out = "reports/pipeline", results or "data/results.json", timings_out or "reports/timings"
    if every_run:
        files = folder_runs(Path(runs), Path(evals))
    else:
        matrix = load_matrix(params_path, {"tasks": list(TASKS), "encoders": list(PRETRAINED),
                                           "policy_encoders": every_encoder_name()})
        files = pipeline_runs(Path(runs), Path(evals), matrix.tasks, ["state", *matrix.policy_encoders], matrix.seeds)
    click.echo(write_report(files, Path(out), Path(timings_out) if timings_out else None,
                            Path(results) if results else None))


if __name__ == "__main__":
    command()
