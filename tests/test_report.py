"""The report from run folders and evaluation files as train_policy and evaluate write them (made here by hand)."""

import csv
import json

from pipeline.report.report import RunFiles, folder_runs, write_report


def _run(folder, name, eval_rates, seconds=1.0):
    run = folder / name
    run.mkdir(parents=True)
    metrics = {"task": "door", "mode": "dapg", "obs": "state", "encoder": "state", "weights_source": "none", "seed": 0,
               "success_rate": 0.25, "episodes_per_iteration": 20, "eval_success_rate": eval_rates[-1],
               "eval_episodes": 25}
    (run / "metrics.json").write_text(json.dumps(metrics))
    (run / "timings.json").write_text(json.dumps({"seconds": {"npg_s": seconds, "physics_s": 2 * seconds}}))
    with open(run / "curves.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["iteration", "success_rate", "eval_success_rate"])
        writer.writeheader()
        for i, rate in enumerate(eval_rates):
            writer.writerow({"iteration": i + 1, "success_rate": rate / 2, "eval_success_rate": rate})
    return run


def _eval(path, plain, distractor):
    cell = lambda k, n: {"success_rate": k / n, "episodes": n, "successes": k, "return_mean": 1.5}  # noqa: E731
    path.write_text(json.dumps({"success_rate": plain[0] / plain[1],
                                "conditions": {"plain": cell(*plain), "light_position": cell(*distractor)}}))
    return path


def _files(runs, evals):
    return [RunFiles(r, e, r.name, r.name) for r, e in zip(runs, evals)]


def test_every_success_number_has_its_interval_and_episode_count(tmp_path):
    runs = [_run(tmp_path / "runs", "a", [0.0, 0.4, 0.8]), _run(tmp_path / "runs", "b", [0.0, 0.04, 0.16])]
    evals = [_eval(tmp_path / "a.json", (11, 25), (4, 25)), _eval(tmp_path / "b.json", (4, 25), (0, 10))]
    report = write_report(_files(runs, evals), tmp_path / "report").read_text()
    assert "| door | a | 0.44 [0.27, 0.63] n=25 | 0.16 [0.06, 0.35] n=25 |" in report  # robustness: plain, light
    assert "| door | b | 0.16 [0.06, 0.35] n=25 | 0.00 [0.00, 0.28] n=10 |" in report
    provenance_a = next(line for line in report.splitlines() if line.startswith("| a | state"))
    assert provenance_a.endswith("| 0.25 [0.11, 0.47] n=20 | 0.80 [0.61, 0.91] n=25 | 0.44 [0.27, 0.63] n=25 |")
    for png in ("success.png", "return.png", "compute.png", "robustness.png"):
        assert (tmp_path / "report" / png).read_bytes()[:4] == b"\x89PNG"


def test_results_hold_few_numbers_and_timings_stay_out_of_the_report(tmp_path):
    runs = [_run(tmp_path / "runs", "a", [0.0, 0.8], seconds=1.0)]
    evals = [_eval(tmp_path / "a.json", (11, 25), (4, 25))]
    write_report(_files(runs, evals), tmp_path / "report", tmp_path / "timings", tmp_path / "results.json")
    assert json.loads((tmp_path / "results.json").read_text())["door"] == {"a": {
        "success_rate": 0.44, "success_low": 0.2667, "success_high": 0.6293, "return_mean": 1.5,
        "distractor_success_rate": 0.16, "weights": "none"}}
    assert "| a | 0.0 | 0.0 | 0.0 | 2.0 | 0.0 | 1.0 |" in (tmp_path / "timings" / "compute.md").read_text()
    assert not (tmp_path / "report" / "compute.png").exists() and (tmp_path / "timings" / "compute.png").exists()
    first = {p.name: p.read_bytes() for p in (tmp_path / "report").iterdir()}
    (runs[0] / "timings.json").write_text(json.dumps({"seconds": {"npg_s": 5.0}}))  # another machine's seconds
    write_report(_files(runs, evals), tmp_path / "report", tmp_path / "timings", tmp_path / "results.json")
    assert {p.name: p.read_bytes() for p in (tmp_path / "report").iterdir()} == first


def test_the_state_oracle_without_distractors_sits_beside_the_encoders(tmp_path):
    runs = [_run(tmp_path / "runs", "resnet18", [0.0, 0.4]), _run(tmp_path / "runs", "state", [0.2, 0.6])]
    evals = [_eval(tmp_path / "resnet18.json", (11, 25), (4, 25)), tmp_path / "state.json"]
    evals[1].write_text(json.dumps({"conditions": {"plain": {"success_rate": 0.6, "episodes": 25, "return_mean": 2.0}}}))
    report = write_report(_files(runs, evals), tmp_path / "report", tmp_path / "timings",
                          tmp_path / "results.json").read_text()
    assert "| door | state | 0.60 [0.41, 0.77] n=25 | - |" in report
    assert "distractor_success_rate" not in json.loads((tmp_path / "results.json").read_text())["door"]["state"]


def test_seeds_pool_into_one_row_and_tasks_into_panels(tmp_path):
    """The pipeline's layout (data/runs/<task>/<encoder>/seed<k>/): one group per encoder, seeds pooled."""
    runs_dir, evals_dir = tmp_path / "runs" / "door", tmp_path / "evals" / "door"
    runs = [_run(runs_dir / "resnet18", f"seed{k}", [0.0, 0.2 * (k + 1)]) for k in range(2)]
    (evals_dir / "resnet18").mkdir(parents=True)
    _eval(evals_dir / "resnet18" / "seed0.json", (10, 25), (5, 25))
    _eval(evals_dir / "resnet18" / "seed1.json", (20, 25), (5, 25))
    files = folder_runs(runs_dir, evals_dir)
    assert [(f.name, f.run_id) for f in files] == [("resnet18", "resnet18/seed0"), ("resnet18", "resnet18/seed1")]
    report = write_report(files, tmp_path / "report", results_file=tmp_path / "results.json").read_text()
    assert "| door | resnet18, 2 seeds | 0.60 [0.46, 0.72] n=50 | 0.20 [0.11, 0.33] n=50 |" in report
    assert "| resnet18/seed1 | state |" in report  # provenance: one row per run
    pooled = json.loads((tmp_path / "results.json").read_text())["door"]["resnet18"]
    assert (pooled["success_rate"], pooled["success_low"]) == (0.6, 0.4618) and len(runs) == 2
