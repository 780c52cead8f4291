"""The README's 'Data formats' section and pipeline/formats agree: each table lists exactly the module's FIELDS,
and every per-image label and curve column the code writes is named there."""

import re
from pathlib import Path

import pytest

from pipeline.formats import demos, features, frames, runs, vae_images

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def section(title: str) -> str:
    start = README.index(f"### {title}")
    end = README.find("\n### ", start + 1)
    return README[start : end if end > 0 else None]


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
