"""`rrl-pipe report`: a markdown report with PNG figures from run folders and evaluation files.

Figures: success vs iteration per encoder (RRL Figures 3 and 5), compute seconds by part per encoder (Figure 4,
left), success under each visual distractor (Figure 4, centre and right); and a provenance table of every run.
Also the results file: per run, the handful of numbers people compare (what `dvc metrics show` prints).

Seconds depend on the machine, so with `timings_dir` the compute figure and table go there (git-ignored) and the
report folder is byte-identical across reruns (README "Reproducible"); without it they go into the report.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402

from pipeline.atomic import atomic_output, check_output  # noqa: E402
from pipeline.errors import PipelineError  # noqa: E402
from pipeline.stats import format_rate, rate_interval  # noqa: E402
from pipeline.timings import read_timings  # noqa: E402

PARTS = ("bc_s", "render_s", "encode_s", "physics_s", "policy_s", "npg_s", "vf_s", "eval_s")


def load_run(run_dir: Path, eval_file: Path | None) -> dict[str, Any]:
    metrics_path = run_dir / "metrics.json"
    if not metrics_path.exists():
        raise PipelineError(f"{run_dir}: no metrics.json (is it a train_policy run folder?)")
    run = {"name": run_dir.name, "metrics": json.loads(metrics_path.read_text()), "curve": [], "eval": None,
           "seconds": read_timings(run_dir).get("seconds", {})}
    with open(run_dir / "curves.csv") as f:
        run["curve"] = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    if eval_file is not None and eval_file.exists():
        run["eval"] = json.loads(eval_file.read_text())
    return run


def _label(run: dict) -> str:
    m = run["metrics"]
    source = m.get("weights_source", "")
    tag = " (random init)" if source.startswith("random") else ""
    return f"{run['name']}{tag}"


def _conditions(runs: list[dict]) -> list[str]:
    """Every evaluation condition of the runs, the plain scene first (the state oracle has only the plain one)."""
    names = {n for run in runs if run["eval"] for n in run["eval"]["conditions"]}
    return ["plain"] + sorted(names - {"plain"})


def _band(ax, xs: list[float], rates: list[float], n: int | None, color: str) -> None:
    """Shade the 95% Wilson interval of each rate measured on n episodes (nothing when n is unknown)."""
    if not n:
        return
    points = [(x, *rate_interval(r, n)) for x, r in zip(xs, rates) if r == r]
    if points:
        x, low, high = zip(*points)
        ax.fill_between(x, low, high, color=color, alpha=0.15, linewidth=0)


def plot_success(runs: list[dict], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    for run in runs:
        xs = [r["iteration"] for r in run["curve"]]
        ys = [r["success_rate"] for r in run["curve"]]
        line, = ax.plot(xs, ys, marker="o", markersize=3, label=f"{_label(run)}: sampled")
        _band(ax, xs, ys, run["metrics"].get("episodes_per_iteration"), line.get_color())
        evals = [r.get("eval_success_rate", float("nan")) for r in run["curve"]]
        if any(e == e for e in evals):  # NaN != NaN: the run evaluated after some iteration
            ax.plot(xs, evals, linestyle="--", color=line.get_color(), label=f"{_label(run)}: mean action")
            _band(ax, xs, evals, run["metrics"].get("eval_episodes"), line.get_color())
    ax.set(xlabel="DAPG iteration", ylabel="success rate (shaded: 95% Wilson interval)", ylim=(-0.05, 1.05),
           title="Success vs iteration (RRL Fig. 3/5)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)


def plot_compute(runs: list[dict], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    bottoms = [0.0] * len(runs)
    names = [_label(r) for r in runs]
    for part in PARTS:
        values = [float(r["seconds"].get(part, 0.0)) for r in runs]
        ax.bar(names, values, bottom=bottoms, label=part.removesuffix("_s"))
        bottoms = [b + v for b, v in zip(bottoms, values)]
    ax.set(ylabel="seconds (env parts summed over workers)", title="Compute by part (RRL Fig. 4, left)")
    ax.legend(fontsize=8)
    plt.setp(ax.get_xticklabels(), rotation=15, ha="right")
    _save(fig, path)


def plot_robustness(runs: list[dict], path: Path) -> None:
    evaluated = [r for r in runs if r["eval"]]
    if not evaluated:
        return
    conditions = _conditions(evaluated)
    width = 0.8 / len(evaluated)
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, run in enumerate(evaluated):
        cells = [run["eval"]["conditions"].get(c, {}) for c in conditions]
        values = [cell.get("success_rate", float("nan")) for cell in cells]
        intervals = [_interval(cell) for cell in cells]
        errors = [[v - lo for v, (lo, _) in zip(values, intervals)], [hi - v for v, (_, hi) in zip(values, intervals)]]
        ax.bar([j + i * width for j in range(len(conditions))], values, width, yerr=errors, capsize=3,
               label=_label(run))
    ax.set_xticks([j + width * (len(evaluated) - 1) / 2 for j in range(len(conditions))], conditions, rotation=15)
    ax.set(ylabel="success rate (deterministic episodes; 95% Wilson)", ylim=(0, 1.05),
           title="Robustness to distractors (RRL Fig. 4)")
    ax.legend(fontsize=8)
    _save(fig, path)


def _interval(cell: dict) -> tuple[float, float]:
    """A condition's 95% interval as `evaluate` wrote it, else from its rate and episodes (older files)."""
    if "success_interval" in cell:
        return tuple(cell["success_interval"])
    rate = cell.get("success_rate", float("nan"))
    return rate_interval(rate, cell["episodes"]) if cell.get("episodes") and rate == rate else (rate, rate)


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def provenance_table(runs: list[dict]) -> str:
    """One row per run; success at the last iteration on its sampled episodes and on its mean-action episodes
    (train_policy.eval_episodes), and from the `evaluate` stage, each with its 95% Wilson interval and episode
    count; '-' where that was not measured."""
    lines = ["| run | encoder | layer | weights | sha256 | precision | render | obs | mode | seed | success: sampled | "
             "mean action | evaluate |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for run in runs:
        m = run["metrics"]
        ev = run["eval"]["conditions"]["plain"] if run["eval"] else {}
        sampled = format_rate(m.get("success_rate"), m.get("episodes_per_iteration"))
        mean_action = format_rate(m.get("eval_success_rate"), m.get("eval_episodes"))
        lines.append(f"| {run['name']} | {m.get('encoder')} | {m.get('layer') or '-'} | {m.get('weights_source')} | "
                     f"`{str(m.get('weights_sha256', ''))[:12]}` | {m.get('precision') or '-'} | "
                     f"{m.get('render_quality') or '-'} {m.get('image_size') or ''} | {m.get('obs')} | {m.get('mode')} | "
                     f"{m.get('seed')} | {sampled} | {mean_action} | "
                     f"{format_rate(ev.get('success_rate'), ev.get('episodes'))} |")
    return "\n".join(lines)


def compute_table(runs: list[dict]) -> str:
    lines = ["| run | " + " | ".join(p.removesuffix("_s") for p in PARTS) + " | total |",
             "| --- |" + " --- |" * (len(PARTS) + 1)]
    for run in runs:
        secs = run["seconds"]
        lines.append(f"| {run['name']} | " + " | ".join(f"{secs.get(p, 0.0):.1f}" for p in PARTS) +
                     f" | {sum(secs.get(p, 0.0) for p in PARTS):.1f} |")
    return "\n".join(lines)


def robustness_table(runs: list[dict]) -> str:
    conditions = _conditions(runs)
    rows = ["| run | " + " | ".join(conditions) + " |", "| --- |" + " --- |" * len(conditions)]
    for run in runs:
        if run["eval"]:
            cells = [run["eval"]["conditions"].get(c, {}) for c in conditions]
            rows.append(f"| {run['name']} | " + " | ".join(format_rate(cell.get("success_rate"), cell.get("episodes"))
                                                           for cell in cells) + " |")
    return "\n".join(rows)


def results(runs: list[dict]) -> dict[str, dict[str, Any]]:
    """Per run: `evaluate`'s plain success with its 95% Wilson interval and episode count, its mean return, the
    mean success over the distractor conditions, and the weights the features came from. Few keys on purpose:
    `dvc metrics show` and `dvc exp show` print one column per key and run (README "Comparing experiments")."""
    out: dict[str, dict[str, Any]] = {}
    for run in runs:
        if not run["eval"]:
            continue
        conditions = run["eval"]["conditions"]
        plain = conditions["plain"]
        low, high = _interval(plain)
        distractors = [c["success_rate"] for name, c in conditions.items() if name != "plain"]
        out[run["name"]] = {
            "success_rate": plain["success_rate"], "success_low": round(low, 4), "success_high": round(high, 4),
            "episodes": plain["episodes"], "return_mean": round(plain["return_mean"], 3),
            **({"distractor_success_rate": round(sum(distractors) / len(distractors), 4)} if distractors else {}),
            "weights": run["metrics"].get("weights_source", "none")}
    return out


def write_report(run_dirs: list[Path], eval_files: list[Path | None], out_dir: Path,
                 timings_dir: Path | None = None, results_file: Path | None = None) -> Path:
    check_output(out_dir, "dir", [*run_dirs, *eval_files])
    runs = [load_run(Path(r), Path(e) if e else None) for r, e in zip(run_dirs, eval_files)]
    if not runs:
        raise PipelineError("report: no runs given")
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_success(runs, out_dir / "success.png")
    plot_robustness(runs, out_dir / "robustness.png")
    compute = "## Compute by part (seconds)\n\n![compute](compute.png)\n\n" + compute_table(runs) + "\n"
    if timings_dir is None:
        plot_compute(runs, out_dir / "compute.png")
    else:  # machine-dependent: apart from the report, which then reads the same on every rerun
        timings_dir.mkdir(parents=True, exist_ok=True)
        plot_compute(runs, timings_dir / "compute.png")
        with atomic_output(timings_dir / "compute.md") as tmp:
            tmp.write_text(f"# Compute by part, task {runs[0]['metrics'].get('task')}\n\n" + compute)
        compute = (f"## Compute by part\n\nSeconds depend on the machine: they are in `{timings_dir}/compute.md` "
                   "(not tracked by git or DVC).\n")
    robustness = ""
    if any(r["eval"] for r in runs):
        robustness = ("\n## Robustness (deterministic evaluation)\n\n![robustness](robustness.png)\n\n" +
                      robustness_table(runs) + "\n")
    text = (f"# rrl-pipe report\n\n{len(runs)} run(s), task {runs[0]['metrics'].get('task')}.\n\n"
            "## Success vs iteration\n\n![success](success.png)\n\n" + compute + robustness +
            "\n## Provenance\n\n" + provenance_table(runs) + "\n")
    with atomic_output(out_dir / "report.md") as tmp:
        tmp.write_text(text)
    if results_file is not None:
        results_file.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(results_file) as tmp:
            tmp.write_text(json.dumps(results(runs), indent=2, sort_keys=True, allow_nan=False) + "\n")
    return out_dir / "report.md"
