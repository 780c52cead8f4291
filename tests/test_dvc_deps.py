"""dvc.yaml's code deps cannot drift: each stage's command module is read for the modules it imports (at the top
or inside a function, as tests/test_layers.py reads them; a package's `__init__` with it, a config class named
through pipeline.config with the part that defines it, the encoder plug-ins with the registry that loads them), and
every module of that closure must lie under one of the stage's deps, while every code dep must hold one of them.

Read statically, the closure is a little wider than what one run imports (the Ray backend's modules, say): a
stage may rerun after an edit that could not change its output, never the reverse."""

import ast
import re
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import yaml

from pipeline.config import SECTIONS
from pipeline.encoders.registry import ENTRY_POINT_GROUP

ROOT = Path(__file__).resolve().parents[1]
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
CONFIG_CLASSES = {target.split(":")[1]: target.split(":")[0] for target in SECTIONS.values()}
PLUGINS = {ep.value.split(":")[0] for ep in entry_points(group=ENTRY_POINT_GROUP)}
LOADED_BY = {"pipeline.encoders.registry": PLUGINS}  # imports by name, not by statement


def module_file(module: str) -> Path | None:
    path = ROOT.joinpath(*module.split("."))
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.exists():
            return candidate
    return None


def imported(module: str) -> set[str]:
    """The project modules `module` imports, with the packages Python runs on the way."""
    path = module_file(module)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set(LOADED_BY.get(module, ()))
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            source = ".".join(base + ([node.module] if node.module else []))
            names.add(source)
            for alias in node.names:
                names.add(f"{source}.{alias.name}")
                if source == "pipeline.config" and alias.name in CONFIG_CLASSES:
                    names.add(CONFIG_CLASSES[alias.name])
    found = set()
    for name in names:
        parts = name.split(".")
        if parts[0] in ("pipeline", "stages"):
            found.update(prefix for i in range(1, len(parts) + 1)
                         if module_file(prefix := ".".join(parts[:i])) is not None)
    return found


def closure(module: str) -> set[str]:
    """Files of every project module that running `module` can import, but package `__init__`s that hold
    nothing but a docstring (they cannot change what a stage does)."""
    seen, todo = set(), [module]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(imported(name) - seen)
    files = {module_file(name) for name in seen}
    return {str(f.relative_to(ROOT)) for f in files if not (f.name == "__init__.py" and _docstring_only(f))}


def _docstring_only(path: Path) -> bool:
    body = ast.parse(path.read_text()).body
    return all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body)


def stage_module(stage: dict) -> str:
    return re.search(r"python -m (stages\.\w+)", stage["cmd"]).group(1)


def code_deps(stage: dict) -> list[str]:
    return [d for d in stage["deps"] if d.startswith(("pipeline", "stages"))]


def covers(dep: str, file: str) -> bool:
    return file == dep or file.startswith(dep.rstrip("/") + "/")


@pytest.mark.parametrize("name", sorted(STAGES))
def test_every_module_a_stage_imports_is_a_dep(name):
    files, deps = closure(stage_module(STAGES[name])), code_deps(STAGES[name])
    missing = sorted(f for f in files if not any(covers(d, f) for d in deps))
    assert not missing, f"dvc.yaml stage {name}: add to its deps {missing}"


@pytest.mark.parametrize("name", sorted(STAGES))
def test_every_code_dep_of_a_stage_is_imported_by_it(name):
    files = closure(stage_module(STAGES[name]))
    unused = [d for d in code_deps(STAGES[name]) if not any(covers(d, f) for f in files)]
    assert not unused, f"dvc.yaml stage {name}: its command imports nothing under {unused}"


def test_the_closure_sees_lazy_imports_config_classes_and_plugins():
    files = closure("stages.train_policy")
    assert "pipeline/stats.py" in files  # imported by rl/train.py for the intervals in metrics.json
    assert "pipeline/dapg/config.py" in files  # TrainPolicyConfig, imported through pipeline.config
    assert "pipeline/vae/encoder.py" in files  # the vae plug-in, loaded by name by the encoder registry
    assert "pipeline/report/report.py" not in files and "pipeline/bench/sample.py" not in files
    stats_users = {name for name, stage in STAGES.items() if "pipeline/stats.py" in code_deps(stage)}
    assert {"train_policy", "train_oracle", "evaluate", "evaluate_oracle", "report"} <= stats_users
