"""scripts/rrl_band.py fills a page's per-iteration tables from the curve CSVs (by hand, one RRL cell was once
copied wrong): each block names its runs, RRL's seeds stand beside them, and a run no --run gave is refused."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "rrl_band.py"
spec = importlib.util.spec_from_file_location("rrl_band", SCRIPT)
rrl_band = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rrl_band)

RRL = [{"seed": s, "iteration": 1, "samples": 40000, "success_rate": rate, "return_mean": mean, "return_max": best,
        "eval_return_mean": evaluated}
       for s, rate, mean, best, evaluated in ((10, 0.0, -43.0, 144.7, -44.4), (11, 0.0, -45.2, 192.0, -19.0),
                                              (12, 0.005, -31.4, 1518.0, 66.0))]
OURS = {"ours seed 0": [{"iteration": 1, "success_rate": 0.0, "return_mean": -44.4, "return_max": 139.8,
                         "eval_success_rate": 0.0, "eval_return_mean": -34.3},
                        {"iteration": 2, "success_rate": 0.005, "return_mean": 3.25, "return_max": 1010.2,
                         "eval_success_rate": 0.08, "eval_return_mean": 174.4}]}


def test_a_page_block_becomes_every_iteration_of_its_runs_beside_rrl(tmp_path):
    page = tmp_path / "README.md"
    page.write_text("before\n<!-- iterations: ours seed 0 -->\nold table\n<!-- /iterations -->\nafter\n")
    rrl_band.fill_page(page, OURS, RRL)
    lines = page.read_text().splitlines()
    assert lines[0] == "before" and lines[-1] == "after" and "old table" not in lines
    assert "| 1 | 0, 0, 0.005; -43, -45, -31 / 145, 192, 1518; -44, -19, +66 | 0.000; -44.4 / +140; -34.3 |" in lines
    assert "| 2 |  | 0.005; +3.2 / +1010; +174.4 (2 of 25) |" in lines  # RRL did not log iteration 2 here
    rrl_band.fill_page(page, OURS, RRL)
    assert page.read_text().splitlines() == lines  # filling again changes nothing


def test_a_block_naming_a_run_not_given_is_refused_and_the_page_kept(tmp_path):
    page = tmp_path / "README.md"
    text = "<!-- iterations: ours seed 0; ours seed 1 -->\n<!-- /iterations -->\n"
    page.write_text(text)
    with pytest.raises(SystemExit, match="ours seed 1"):
        rrl_band.fill_page(page, OURS, RRL)
    assert page.read_text() == text
