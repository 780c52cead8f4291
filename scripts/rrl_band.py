"""Our door curves against RRL's own logged door runs, at equal samples (not CI; a validation figure and table).

    python scripts/rrl_band.py --run "pretrained seed 0=reports/validation/door_vision_pretrained/seed0.csv" \
        --run "pretrained seed 1=reports/validation/door_vision_pretrained/seed1.csv" \
        --run "pretrained seed 2=reports/validation/door_vision_pretrained/seed2.csv" \
        --run "random-init seed 0=reports/validation/door_vision_random/seed0.csv" \
        --rrl reports/validation/door_vision_pretrained/rrl_door_resnet34.csv --out reports/validation/door_vision_pretrained \
        --page reports/validation/door_vision_pretrained/README.md

RRL's curves (`rrl_door_resnet34.csv`): facebookresearch/RRL `experiment_logs/RRL/door-v0/*_seed{10,11,12}/logs/log.csv`
(Apache-2.0), ResNet-34 features of the `top` camera, 200 trajectories (40,000 samples) per iteration; its
`iteration` counts from 0 and its `success_rate` is in percent, so the extract holds iteration + 1 and the rate / 100.
Writes rrl_band.png (sampled success, sampled mean return and mean-action return against RRL's min-max band and
median) and rrl_band.md (a table at the iterations asked for; 95% Wilson intervals of 200 sampled and 25
mean-action episodes). With `--page FILE`, every block of FILE between `<!-- iterations: LABEL; LABEL -->` and
`<!-- /iterations -->` becomes the table of every iteration of those runs beside RRL's three seeds.
"""

from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from pipeline.stats import format_rate

SAMPLED, EVALUATED = 200, 25  # episodes behind each sampled and mean-action rate


def read_rows(path: Path) -> list[dict[str, float]]:
    with open(path) as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def rrl_band(rows: list[dict[str, float]], key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Iterations and the min, median and max over RRL's seeds of `key` at each."""
    seeds = sorted({r["seed"] for r in rows})
    iterations = sorted({int(r["iteration"]) for r in rows})
    table = np.array([[next(r[key] for r in rows if r["seed"] == s and r["iteration"] == i) for s in seeds]
                      for i in iterations])
    return np.array(iterations), table.min(1), np.median(table, 1), table.max(1)


def run_styles(names: list[str]) -> list[tuple[str, str]]:
    """One colour per run family ('pretrained seed 1' -> 'pretrained'), one line style per seed within it."""
    families = list(dict.fromkeys(name.rsplit(" seed", 1)[0] for name in names))
    seen: dict[str, int] = {}
    styles = []
    for name in names:
        family = name.rsplit(" seed", 1)[0]
        styles.append((f"C{families.index(family)}", ("-", "--", ":", "-.")[seen.get(family, 0) % 4]))
        seen[family] = seen.get(family, 0) + 1
    return styles


def plot(runs: dict[str, list[dict]], rrl: list[dict], out: Path, last: int) -> None:
    styles = run_styles(list(runs))
    fig, axes = plt.subplots(1, 3, figsize=(16, 4))
    for ax, key, title in ((axes[0], "success_rate", "sampled success (200 episodes)"),
                           (axes[1], "return_mean", "sampled return (mean of 200 episodes)"),
                           (axes[2], "eval_return_mean", "mean-action return (mean of 25 episodes)")):
        its, low, mid, high = rrl_band([r for r in rrl if r["iteration"] <= last], key)
        ax.fill_between(its, low, high, color="0.8", label="RRL, ResNet-34, 3 seeds (min-max)")
        ax.plot(its, mid, color="0.5", lw=1, label="RRL median")
        for (name, rows), (color, style) in zip(runs.items(), styles):
            ax.plot([r["iteration"] for r in rows], [r[key] for r in rows], marker="o", ms=3, color=color,
                    linestyle=style, label=name)
        ax.set_xlabel("iteration (40,000 samples each)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "rrl_band.png", dpi=110)
    plt.close(fig)


def table(runs: dict[str, list[dict]], rrl: list[dict], at: list[int]) -> str:
    lines = ["| run | iteration | sampled success (200) | sampled return (mean) | mean-action success (25) |",
             "| --- | --- | --- | --- | --- |"]
    for i in at:
        rrl_rows = [r for r in rrl if r["iteration"] == i]
        if rrl_rows:
            rates = ", ".join(f"{r['success_rate']:.3f}" for r in rrl_rows)
            returns = ", ".join(f"{r['return_mean']:.0f}" for r in rrl_rows)
            lines.append(f"| RRL (seeds 10, 11, 12) | {i} | {rates} | {returns} | (not logged) |")
        for name, rows in runs.items():
            row = next((r for r in rows if int(r["iteration"]) == i), None)
            if row is None:
                continue
            lines.append(f"| {name} | {i} | {format_rate(row['success_rate'], SAMPLED)} | {row['return_mean']:.1f} | "
                         f"{format_rate(row['eval_success_rate'], EVALUATED)} |")
    return "\n".join(lines) + "\n"


def _rrl_cell(rows: list[dict]) -> str:
    """RRL's seeds at one iteration: sampled success; mean / best return; mean-action return (empty: not logged)."""
    if not rows:
        return ""

    def each(key: str, spec: str) -> str:
        return ", ".join(format(r[key], spec) for r in rows)
    return (f"{each('success_rate', 'g')}; {each('return_mean', '+.0f')} / {each('return_max', '.0f')}; "
            f"{each('eval_return_mean', '+.0f')}")


def _run_cell(row: dict | None) -> str:
    """One run at one iteration, in the same order; the mean action's successes counted when there are any."""
    if row is None:
        return ""
    successes = round(row["eval_success_rate"] * EVALUATED)
    counted = f" ({successes} of {EVALUATED})" if successes else ""
    return (f"{row['success_rate']:.3f}; {row['return_mean']:+.1f} / {row['return_max']:+.0f}; "
            f"{row['eval_return_mean']:+.1f}{counted}")


def iteration_table(runs: dict[str, list[dict]], rrl: list[dict], names: list[str]) -> str:
    """Every iteration any of `names` reached, RRL's seeds beside them."""
    by_iteration = {name: {int(r["iteration"]): r for r in runs[name]} for name in names}
    iterations = sorted(set().union(*by_iteration.values()))
    lines = ["| iteration | RRL (3 seeds): sampled success; mean / best return; mean-action return | "
             + " | ".join(f"{name}: success ({SAMPLED}); mean / best; mean-action" for name in names) + " |",
             "| --- " * (2 + len(names)) + "|"]
    for i in iterations:
        cells = [_rrl_cell([r for r in rrl if r["iteration"] == i])] + [_run_cell(by_iteration[n].get(i)) for n in names]
        lines.append(f"| {i} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


ITERATIONS_BLOCK = re.compile(r"(<!-- iterations: (.*?) -->\n).*?(<!-- /iterations -->)", re.S)


def fill_page(page: Path, runs: dict[str, list[dict]], rrl: list[dict]) -> None:
    """Replace every iterations block of `page` with its runs' table; a label no --run gave is an error."""
    def fill(match: re.Match) -> str:
        names = [n.strip() for n in match.group(2).split(";")]
        missing = [n for n in names if n not in runs]
        if missing:
            raise SystemExit(f"{page}: the table names runs no --run gave: {', '.join(missing)}")
        return f"{match.group(1)}{iteration_table(runs, rrl, names)}\n{match.group(3)}"
    page.write_text(ITERATIONS_BLOCK.sub(fill, page.read_text()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", required=True, help="LABEL=curves.csv (repeatable)")
    parser.add_argument("--rrl", required=True, type=Path, help="RRL's extracted door curves")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--at", default="1,5,10,13,15", help="iterations of the table")
    parser.add_argument("--page", type=Path, help="a page whose iterations blocks to fill")
    args = parser.parse_args()
    runs = {label: read_rows(Path(path)) for label, path in (item.split("=", 1) for item in args.run)}
    rrl = read_rows(args.rrl)
    last = max(15, *(int(r["iteration"]) for rows in runs.values() for r in rows))
    args.out.mkdir(parents=True, exist_ok=True)
    plot(runs, rrl, args.out, last)
    (args.out / "rrl_band.md").write_text(table(runs, rrl, [int(i) for i in args.at.split(",")]))
    if args.page:
        fill_page(args.page, runs, rrl)


if __name__ == "__main__":
    main()
