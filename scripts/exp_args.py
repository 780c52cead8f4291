"""Print a YAML file of params overrides as `-S key=value` arguments for `dvc exp run`.

Top-level lists and scalars (`seeds`, `tasks`) become `-S seeds=[...]`, sections `-S section.key=value`. A file may
hold a `per_task` mapping, task -> sections, for what RRL's job configs set per task: with `--task T` its block
for T is applied over the rest and `tasks` becomes [T] (one experiment per task, as RRL ran one job per task).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys

import yaml


def resolve(overrides: dict, task: str | None) -> dict:
    """The overrides for one task: `per_task[task]`'s sections over the shared ones, `tasks: [task]`."""
    overrides = dict(overrides)
    per_task = overrides.pop("per_task", {}) or {}
    if task is None:
        return overrides
    if per_task and task not in per_task:
        raise SystemExit(f"exp_args: no per_task block for {task!r} (tasks: {', '.join(per_task)})")
    for section, values in (per_task.get(task) or {}).items():
        overrides[section] = {**overrides.get(section, {}), **values}
    overrides["tasks"] = [task]
    return overrides


def as_args(overrides: dict) -> list[str]:
    value = lambda v: json.dumps(v) if isinstance(v, (list, bool)) else str(v)  # noqa: E731
    args = []
    for name, values in overrides.items():
        if isinstance(values, dict):
            args += [arg for key, v in values.items() for arg in ("-S", f"{name}.{key}={value(v)}")]
        else:
            args += ["-S", f"{name}={value(values)}"]
    return args


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--task", default=None, help="apply the file's per_task block for this task")
    args = parser.parse_args(argv)
    with open(args.path) as f:
        overrides = yaml.safe_load(f) or {}
    if "per_task" in overrides and args.task is None:
        raise SystemExit(f"exp_args: {args.path} sets values per task: pass --task ({', '.join(overrides['per_task'])})")
    print(" ".join(shlex.quote(a) for a in as_args(resolve(overrides, args.task))))


if __name__ == "__main__":
    main(sys.argv[1:])
