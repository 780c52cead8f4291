"""`rrl-pipe report`: a markdown report with PNG figures from run folders and evaluation files.

Runs are grouped by (task, name): the pipeline names a run by its encoder (`state` is the oracle) and gives one run
per seed, so a group is one encoder's seeds on one task. Figures, one panel per task: success vs iteration per
group, the mean over seeds with the spread across seeds shaded, or the 95% Wilson interval for a single seed (RRL
Figures 3 and 5); success under each visual distractor, seeds pooled (Figure 4, centre and right); compute seconds
by part per run (Figure 4, left). Tables: robustness per group, provenance per run. The results file holds per
task and group the handful of numbers people compare (what `dvc metrics show` prints).

Seconds depend on the machine, so with `timings_dir` the compute figure and table go there (git-ignored) and the
report folder is byte-identical across reruns (docs/reliability.md, "Reproducible bit for bit"); without it they go
into the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt
import numpy as np

from pipeline.atomic import atomic_output, check_output, write_json
from pipeline.errors import PipelineError
from pipeline.formats.runs import read_curves, read_json, read_metrics
from pipeline.stats import format_rate, rate_interval
from pipeline.timings import read_timings

PARTS = ("bc_s", "render_s", "encode_s", "physics_s", "policy_s", "npg_s", "vf_s", "eval_s")


@dataclass(frozen=True)
class RunFiles:
    """Where one run's outputs are and what it is called in the report."""

    run_dir: Path
    eval_file: Path | None
    name: str  # the group: the encoder in the pipeline, the folder name otherwise
    run_id: str  # one row of the provenance table


def load_run(files: RunFiles) -> dict[str, Any]:
    metrics = read_metrics(files.run_dir)
    run = {"name": files.name, "id": files.run_id, "task": metrics.get("task", "?"), "metrics": metrics,
           "curve": [], "eval": None, "seconds": read_timings(files.run_dir).get("seconds", {})}
    run["curve"] = read_curves(files.run_dir)
    if files.eval_file is not None and files.eval_file.exists():
        run["eval"] = read_json(files.eval_file, "evaluation file")
    return run


def _groups(runs: list[dict]) -> dict[str, dict[str, list[dict]]]:
    """task -> name -> runs (its seeds), in the order first seen."""
    groups: dict[str, dict[str, list[dict]]] = {}
    for run in runs:
        groups.setdefault(run["task"], {}).setdefault(run["name"], []).append(run)
    return groups


def _label(name: str, runs: list[dict]) -> str:
    tag = " (random init)" if str(runs[0]["metrics"].get("weights_source", "")).startswith("random") else ""
    seeds = f", {len(runs)} seeds" if len(runs) > 1 else ""
    return f"{name}{tag}{seeds}"


def _conditions(runs: list[dict]) -> list[str]:
    """Every evaluation condition of the runs, the plain scene first (the state oracle has only the plain one)."""
    names = {n for run in runs if run["eval"] for n in run["eval"]["conditions"]}
    return ["plain"] + sorted(names - {"plain"})


def _pooled(runs: list[dict], condition: str) -> tuple[float, int] | None:
    """(success rate, episodes) of one condition over every seed's evaluation, or None if none has it."""
    cells = [r["eval"]["conditions"][condition] for r in runs if r["eval"] and condition in r["eval"]["conditions"]]
    if not cells:
        return None
    n = sum(int(c["episodes"]) for c in cells)
    successes = sum(round(c["success_rate"] * c["episodes"]) for c in cells)
    return successes / n, n


def _curve(runs: list[dict], key: str) -> tuple[list[float], np.ndarray]:
    """Iterations every seed reached, and the key's values there: one row per seed."""
    length = min(len(r["curve"]) for r in runs)
    xs = [r["iteration"] for r in runs[0]["curve"][:length]]
    return xs, np.array([[row.get(key, float("nan")) for row in r["curve"][:length]] for r in runs])


def _plot_group(ax, runs: list[dict], key: str, n_key: str | None, label: str, color: str | None,
                style: str) -> str | None:
    """One group's curve: the mean over seeds, shaded by their spread, or for one seed by the 95% Wilson interval
    of each rate (n_key names the metric holding its episode count; None for a non-rate such as the return)."""
    xs, values = _curve(runs, key)
    if not xs or np.isnan(values).all():
        return None
    mean = np.nanmean(values, axis=0)
    line, = ax.plot(xs, mean, linestyle=style, marker="o" if style == "-" else None, markersize=3, color=color,
                    label=label)
    if len(runs) > 1:  # the spread across seeds
        ax.fill_between(xs, np.nanmin(values, axis=0), np.nanmax(values, axis=0), color=line.get_color(), alpha=0.15,
                        linewidth=0)
    elif n_key and runs[0]["metrics"].get(n_key):  # one seed: the 95% Wilson interval of each rate
        low, high = zip(*(rate_interval(r, runs[0]["metrics"][n_key]) if r == r else (r, r) for r in mean))
        ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.15, linewidth=0)
    return line.get_color()


def _panels(n: int, width: float = 5.5):
    fig, axes = plt.subplots(1, n, figsize=(width * n, 4), squeeze=False)
    return fig, list(axes[0])


def _plot_curves(runs: list[dict], path: Path, key: str, with_intervals: bool, ylabel: str, title: str) -> None:
    """One panel per task: each group's sampled `key` (solid) and its mean-action `eval_<key>` (dashed)."""
    groups = _groups(runs)
    fig, axes = _panels(len(groups))
    for ax, (task, by_name) in zip(axes, groups.items()):
        for name, members in by_name.items():
            label = _label(name, members)
            color = _plot_group(ax, members, key, "episodes_per_iteration" if with_intervals else None,
                                f"{label}: sampled", None, "-")
            _plot_group(ax, members, f"eval_{key}", "eval_episodes" if with_intervals else None,
                        f"{label}: mean action", color, "--")
        ax.set(xlabel="DAPG iteration", ylabel=ylabel, title=task)
        if with_intervals:
            ax.set_ylim(-0.05, 1.05)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # a panel of runs with no iterations (bc) has no curve to name
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "no iterations", ha="center", va="center", transform=ax.transAxes)
    fig.suptitle(title, fontsize=9)
    _save(fig, path)


def plot_success(runs: list[dict], path: Path) -> None:
    _plot_curves(runs, path, "success_rate", True, "success rate",
                 "Success vs iteration (RRL Fig. 3/5)\nshaded: spread across seeds, or 95% Wilson for one seed")


def plot_return(runs: list[dict], path: Path) -> None:
    """The return moves before the success rule is met: where a curve is still flat at 0 success, this shows
    whether the learner is getting anywhere."""
    _plot_curves(runs, path, "return_mean", False, "return per episode (mean)",
                 "Return vs iteration\nshaded: spread across seeds (one seed: none)")


def plot_compute(runs: list[dict], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(runs)), 4))
    bottoms = [0.0] * len(runs)
    names = [run["id"] for run in runs]
    for part in PARTS:
        values = [float(r["seconds"].get(part, 0.0)) for r in runs]
        ax.bar(names, values, bottom=bottoms, label=part.removesuffix("_s"))
        bottoms = [b + v for b, v in zip(bottoms, values)]
    ax.set(ylabel="seconds (env parts summed over workers)", title="Compute by part (RRL Fig. 4, left)")
    ax.legend(fontsize=8)
    plt.setp(ax.get_xticklabels(), rotation=15, ha="right")
    _save(fig, path)


def plot_robustness(runs: list[dict], path: Path) -> None:
    groups = {task: {n: m for n, m in by_name.items() if any(r["eval"] for r in m)}
              for task, by_name in _groups(runs).items()}
    groups = {task: by_name for task, by_name in groups.items() if by_name}
    if not groups:
        return
    fig, axes = _panels(len(groups), width=7)
    for ax, (task, by_name) in zip(axes, groups.items()):
        conditions = _conditions([r for members in by_name.values() for r in members])
        width = 0.8 / len(by_name)
        for i, (name, members) in enumerate(by_name.items()):
            cells = [_pooled(members, c) for c in conditions]
            values = [cell[0] if cell else float("nan") for cell in cells]
            intervals = [rate_interval(*cell) if cell else (float("nan"),) * 2 for cell in cells]
            errors = [[v - lo for v, (lo, _) in zip(values, intervals)], [hi - v for v, (_, hi) in zip(values, intervals)]]
            ax.bar([j + i * width for j in range(len(conditions))], values, width, yerr=errors, capsize=3,
                   label=_label(name, members))
        ax.set_xticks([j + width * (len(by_name) - 1) / 2 for j in range(len(conditions))], conditions, rotation=15)
        ax.set(ylabel="success rate (mean action; 95% Wilson)", ylim=(0, 1.05), title=task)
        ax.legend(fontsize=8)
    fig.suptitle("Robustness to distractors (RRL Fig. 4), seeds pooled", fontsize=9)
    _save(fig, path)


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
        lines.append(f"| {run['id']} | {m.get('encoder')} | {m.get('layer') or '-'} | {m.get('weights_source')} | "
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
        lines.append(f"| {run['id']} | " + " | ".join(f"{secs.get(p, 0.0):.1f}" for p in PARTS) +
                     f" | {sum(secs.get(p, 0.0) for p in PARTS):.1f} |")
    return "\n".join(lines)


def robustness_table(runs: list[dict]) -> str:
    """One row per task and group, seeds pooled: every condition's rate, 95% Wilson interval and episodes."""
    conditions = _conditions(runs)
    rows = ["| task | run | " + " | ".join(conditions) + " |", "| --- | --- |" + " --- |" * len(conditions)]
    for task, by_name in _groups(runs).items():
        for name, members in by_name.items():
            if any(r["eval"] for r in members):
                cells = [_pooled(members, c) for c in conditions]
                rows.append(f"| {task} | {_label(name, members)} | " +
                            " | ".join(format_rate(*cell) if cell else "-" for cell in cells) + " |")
    return "\n".join(rows)


def results(runs: list[dict]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per task and group (seeds pooled): `evaluate`'s plain success with its 95% Wilson interval, the mean
    return, the mean success over the distractor conditions, and the weights the features came from. Few keys on
    purpose: `dvc metrics show` and `dvc exp show` print one column per key, task and group (docs/pipeline.md,
    "From the two commands to an encoder comparison"); the episode counts are in report.md's robustness table."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for task, by_name in _groups(runs).items():
        for name, members in by_name.items():
            evaluated = [r for r in members if r["eval"]]
            if not evaluated:
                continue
            plain = _pooled(evaluated, "plain")
            if plain is None:
                continue
            rate, n = plain
            low, high = rate_interval(rate, n)
            distractors = [c for c in _conditions(evaluated) if c != "plain"]
            rates = [cell[0] for cell in (_pooled(evaluated, c) for c in distractors) if cell]
            returns = [r["eval"]["conditions"]["plain"]["return_mean"] for r in evaluated]
            out.setdefault(task, {})[name] = {
                "success_rate": round(rate, 4), "success_low": round(low, 4), "success_high": round(high, 4),
                "return_mean": round(float(np.mean(returns)), 3),
                **({"distractor_success_rate": round(float(np.mean(rates)), 4)} if rates else {}),
                "weights": members[0]["metrics"].get("weights_source", "none")}
    return out


def write_report(files: list[RunFiles], out_dir: Path, timings_dir: Path | None = None,
                 results_file: Path | None = None) -> Path:
    check_output(out_dir, "dir", [*(f.run_dir for f in files), *(f.eval_file for f in files)])
    runs = [load_run(f) for f in files]
    if not runs:
        raise PipelineError("report: no runs given")
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_success(runs, out_dir / "success.png")
    plot_return(runs, out_dir / "return.png")
    plot_robustness(runs, out_dir / "robustness.png")
    compute = "## Compute by part (seconds)\n\n![compute](compute.png)\n\n" + compute_table(runs) + "\n"
    if timings_dir is None:
        plot_compute(runs, out_dir / "compute.png")
    else:  # machine-dependent: apart from the report, which then reads the same on every rerun
        timings_dir.mkdir(parents=True, exist_ok=True)
        plot_compute(runs, timings_dir / "compute.png")
        with atomic_output(timings_dir / "compute.md") as tmp:
            tmp.write_text("# Compute by part\n\n" + compute)
        compute = (f"## Compute by part\n\nSeconds depend on the machine: they are in `{timings_dir}/compute.md` "
                   "(not tracked by git or DVC).\n")
    robustness = ""
    if any(r["eval"] for r in runs):
        robustness = ("\n## Robustness (deterministic evaluation, seeds pooled)\n\n![robustness](robustness.png)\n\n"
                      + robustness_table(runs) + "\n")
    tasks = ", ".join(_groups(runs))
    text = (f"# rrl-pipe report\n\n{len(runs)} run(s), task(s) {tasks}.\n\n"
            "## Success vs iteration\n\n![success](success.png)\n\n"
            "## Return vs iteration\n\n![return](return.png)\n\n" + compute + robustness +
            "\n## Provenance\n\n" + provenance_table(runs) + "\n")
    with atomic_output(out_dir / "report.md") as tmp:
        tmp.write_text(text)
    if results_file is not None:
        results_file.parent.mkdir(parents=True, exist_ok=True)
        write_json(results_file, results(runs))
    return out_dir / "report.md"


def folder_runs(runs_dir: Path, evals_dir: Path) -> list[RunFiles]:
    """Every run folder under runs_dir (`rrl-pipe report`, scripts/validate.sh), with its evaluation file at the
    same relative path in evals_dir plus `.json`. A run's group is its first folder below runs_dir: the
    pipeline's data/runs/<task> holds <encoder>/seed<k>/, a validation folder holds one run per folder."""
    dirs = sorted(p.parent for p in runs_dir.rglob("metrics.json")) if runs_dir.is_dir() else []
    files = []
    for d in dirs:
        rel = d.relative_to(runs_dir)
        files.append(RunFiles(d, evals_dir / rel.parent / f"{rel.name}.json", rel.parts[0], str(rel)))
    return files


def pipeline_runs(runs_dir: Path, evals_dir: Path, tasks: list[str], names: list[str], seeds: list[int]) -> list[RunFiles]:
    """The runs the DVC pipeline made for these tasks, encoders (and `state`) and seeds: runs_dir/<task>/<name>/
    seed<k>/ with evals_dir/<task>/<name>/seed<k>.json. Runs of tasks or seeds no longer in params are left out."""
    return [RunFiles(runs_dir / task / name / f"seed{seed}", evals_dir / task / name / f"seed{seed}.json", name,
                     f"{task}/{name}/seed{seed}")
            for task in tasks for name in names for seed in seeds]
