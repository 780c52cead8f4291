"""The layers point one way: every import in pipeline/ (lazy ones inside functions included, read with ast) goes
to a part the importing part's `__init__` docstring allows ("May import: ..."), the allowed graph has no cycle,
no module imports another in a cycle, and nothing but the top (stages/, cli.py, doctor.py) imports
pipeline.config. Also: no module over 400 lines."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = ROOT / "pipeline"
# single-module parts at the bottom, and the little each may import
FOUNDATION = {"errors": set(), "checksum": set(), "procs": set(), "stats": set(), "prefetch": set(),
              "atomic": {"errors"}, "cluster": {"errors"}, "timings": {"errors", "atomic"}}
TOP = {"config", "cli", "doctor"}  # with stages/: they may import any part
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function, as an absolute dotted name."""
    name, found = module_name(path), set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{a.name}" for a in node.names)  # `from pipeline import config`
    return found


def part(module: str) -> str | None:
    pieces = module.split(".")
    return pieces[1] if pieces[0] == "pipeline" and len(pieces) > 1 else None


def allowed() -> dict[str, set[str]]:
    rules = dict(FOUNDATION)
    for init in sorted(PIPELINE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        match = re.search(r"May import[^:]*:\s*([^.]*)\.", doc.replace("\n", " "))
        assert match, f"{init}: the docstring must say what the part may import ('May import: a, b.')"
        rules[init.parent.name] = {p.strip() for p in match.group(1).split(",") if p.strip()}
    return rules


FILES = sorted(PIPELINE.rglob("*.py"))


def test_every_part_is_declared():
    parts = {part(module_name(f)) for f in FILES} - {None}
    assert parts - TOP - set(allowed()) == set(), "a new part needs a 'May import' line in its __init__ docstring"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_follow_the_layers(path: Path):
    own = part(module_name(path))
    if own in TOP:
        return
    rules = allowed()
    for module in imports(path):
        other = part(module)
        if other is None or other == own or module == "pipeline":
            continue
        assert other in rules.get(own, set()), f"{path.relative_to(ROOT)} imports {module}: {own} may not import {other}"


def assert_no_cycle(edges: dict[str, set[str]], what: str) -> None:
    """Depth-first search; a node met again while still on the path closes a cycle."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, trail: list[str]) -> None:
        if state.get(node) == 1:
            raise AssertionError(f"{what}: {' -> '.join([*trail, node])}")
        if state.get(node) != 2:
            state[node] = 1
            for nxt in sorted(edges.get(node, set()) - {node}):
                visit(nxt, [*trail, node])
            state[node] = 2

    for node in sorted(edges):
        visit(node, [])


def test_the_allowed_graph_has_no_cycle():
    assert_no_cycle(allowed(), "cycle of parts")


def test_no_module_cycle():
    names = {module_name(f): f for f in FILES}
    edges = {}
    for name, f in names.items():
        targets = set()
        for m in imports(f):
            if m not in names or m == name:
                continue
            targets.add(m)
            parent = m.rpartition(".")[0]  # importing a.b.c runs a.b's __init__ first
            if parent in names and not name.startswith(parent + "."):
                targets.add(parent)
        # a package's __init__ re-exporting its own modules points down into itself only
        edges[name] = {m for m in targets if not (f.name == "__init__.py" and m.startswith(name + "."))}
    assert_no_cycle(edges, "import cycle")


def test_only_the_top_imports_config():
    for path in FILES:
        if part(module_name(path)) in TOP:
            continue
        bad = {m for m in imports(path) if m == "pipeline.config" or m.startswith("pipeline.config.")}
        assert not bad, f"{path.relative_to(ROOT)} imports pipeline.config: library parts take their typed config"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_over_400_lines(path: Path):
    assert len(path.read_text().splitlines()) <= MAX_LINES, f"{path.relative_to(ROOT)}: split it by what it does"
