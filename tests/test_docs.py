"""The documentation says what the code does: docs/formats.md's tables list exactly each format module's FIELDS,
docs/encoders.md lists exactly the registered encoders, every relative link resolves, README.md stays short,
and nothing tracked speaks of sessions or issue numbers."""

import re
import subprocess
from pathlib import Path

import pytest

from pipeline.encoders.registry import ENCODERS, plugin_names
from pipeline.formats import demos, features, frames, runs, vae_images

ROOT = Path(__file__).resolve().parents[1]
FORMATS = (ROOT / "docs" / "formats.md").read_text()
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "CHANGELOG.md",
         *sorted((ROOT / "reports").rglob("*.md"))]


def section(title: str) -> str:
    start = FORMATS.index(f"## {title}")
    end = FORMATS.find("\n## ", start + 1)
    return FORMATS[start : end if end > 0 else None]


def table_keys(text: str) -> set[str]:
    """The backticked names in the first column of a markdown table."""
    keys = set()
    for line in text.splitlines():
        cells = line.split("|")
        if line.startswith("|") and len(cells) > 2 and "---" not in cells[1]:
            keys.update(re.findall(r"`([^`]+)`", cells[1]))
    return keys


@pytest.mark.parametrize(("title", "module"), [("Demonstrations", demos), ("Rendered frames", frames),
                                               ("Feature store", features)])
def test_table_lists_exactly_the_fields(title, module):
    assert table_keys(section(title)) == set(module.FIELDS)


def test_vae_images_names_every_dataset():
    text = section("VAE images")
    for name in ("images", *(label for label, _ in vae_images.LABELS), "parts", vae_images.SIGNALS):
        assert f"`{name}" in text, name


def test_runs_curves_row_names_every_column():
    row = next(line for line in section("Runs").splitlines() if line.startswith("| `curves.csv`"))
    for column in runs.CURVE_FIELDS[1:]:
        assert f"`{column}`" in row, column


def test_encoder_tables_list_exactly_the_registry():
    assert table_keys((ROOT / "docs" / "encoders.md").read_text()) == set(ENCODERS) | set(plugin_names())


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {_anchor(m) for m in re.findall(r"^#+ (.*)$", text, flags=re.M)}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # a web address
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.relative_to(ROOT)} links to {target}, which does not exist"
        if anchor and linked.suffix == ".md":
            assert anchor in _anchors(linked), f"{page.relative_to(ROOT)} links to {target}: no such heading"


def test_readme_is_for_users_and_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 300


def test_nothing_tracked_speaks_of_sessions_or_issue_numbers():
    tracked = subprocess.run(["git", "grep", "-l", "-i", "-E", r"\bsession [0-9]+|\bissue [0-9]+\b", "--", ".",
                              ":!CHANGELOG.md", ":!tests/test_docs.py"], capture_output=True, text=True, cwd=ROOT)
    assert tracked.returncode == 1 and tracked.stdout == "", tracked.stdout or tracked.stderr  # 1: no match
