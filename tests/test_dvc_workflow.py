"""The user's workflow, for real: dvc repro on a tiny config, a no-op rerun, a rerun from scratch that reproduces
every tracked byte, and an experiment that changes only a policy parameter (only train_policy, evaluate and report
rerun), shown by dvc exp show. The tests share one project, built once; each starts from its first run (params,
dvc.lock and outputs restored, experiments removed), so they pass alone and in any order."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.dvc

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

TINY = {
    # Three encoder groups and the oracle, not the default's five: the workflow is under test here (every family has
    # its own tests), and each group adds stages and metric columns that the counts below would have to follow.
    "encoders": ["resnet18"],
    "policy_encoders": ["resnet18", "vae", "reward"],
    "make_demos": {"episodes": 2},
    "render_demos": {"size": 64, "workers": 1},
    "render_vae_data": {"n_images": 128, "workers": 1},
    "train_vae": {"epochs": 1, "batch_size": 16, "block": 32, "buffer_blocks": 2, "val_fraction": 0.2},
    "train_reward_encoder": {"epochs": 1, "batch_size": 16, "block": 32, "buffer_blocks": 2, "val_fraction": 0.2,
                             "horizon": 4},
    "encode": {"weights": "random", "batch_size": 32},
    "train_policy": {"iterations": 1, "episodes": 2, "horizon": 8, "workers": 0, "hidden": [16, 16],
                     "vf_hidden": [16, 16], "bc_epochs": 1},
    "train_oracle": {"iterations": 1, "episodes": 2, "eval_episodes": 1},
    "evaluate": {"episodes": 1, "horizon": 8, "workers": 0, "distractors": ["extra_object"]},
}


def sh(*args, cwd, check=True):
    env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}", GIT_TERMINAL_PROMPT="0")
    proc = subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=1200)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="module")
def _built_project(tmp_path_factory) -> tuple[Path, set[Path]]:
    root = _build_project(tmp_path_factory)
    made = {path.relative_to(root) for folder in ("data", "reports") for path in (root / folder).rglob("*")}
    return root, made


def _build_project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("project")
    for name in ("pipeline", "stages"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "dvc.yaml", root)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for section, values in TINY.items():
        if isinstance(values, dict):
            params[section].update(values)
        else:
            params[section] = values
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    shutil.copy(REPO / ".gitignore", root)
    sh("git", "init", "-q", cwd=root)
    sh("git", "config", "user.email", "test@rrl-pipe.local", cwd=root)
    sh("git", "config", "user.name", "test", cwd=root)
    sh("dvc", "init", "-q", cwd=root)
    sh("dvc", "config", "core.analytics", "false", cwd=root)
    shutil.copy(REPO / ".dvcignore", root)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "tiny project", cwd=root)
    sh("dvc", "repro", cwd=root)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "first run", cwd=root)
    return root


@pytest.fixture
def project(_built_project):
    """The project as its first run left it. An experiment applies its params, dvc.lock and outputs to the workspace
    and adds outputs of its own (another seed's runs, other encoders' stores), which the report's folder dependencies
    would hash: the reset puts the tracked files back, deletes every file the first run did not make, checks the
    outputs out of DVC's cache and removes the experiments (whose columns `dvc exp show` would list)."""
    root, made = _built_project
    sh("git", "checkout", "--", ".", cwd=root)
    for folder in ("data", "reports"):
        for path in sorted((root / folder).rglob("*"), reverse=True):  # files before the folders that hold them
            if path.relative_to(root) in made:
                continue
            if not path.is_dir():
                path.unlink()
            elif not any(path.iterdir()):
                path.rmdir()
    sh("dvc", "checkout", "--force", "-q", cwd=root)
    sh("dvc", "exp", "remove", "--all-commits", "-q", cwd=root)
    sh("dvc", "queue", "remove", "--all", "-q", cwd=root, check=False)
    return root


def test_repro_makes_every_output(project):
    task = "door"
    for path in (f"data/demos/{task}.h5", f"data/frames/{task}.h5", f"data/vae/{task}/model.pt",
                 f"data/features/{task}/resnet18.zarr", f"data/features/{task}/vae.zarr",
                 f"data/runs/{task}/resnet18/seed0/metrics.json", f"data/runs/{task}/vae/seed0/curves.csv",
                 f"data/eval/{task}/vae/seed0.json", "reports/pipeline/report.md", "reports/pipeline/success.png",
                 "data/results.json", f"data/runs/{task}/state/seed0/policy.pt", f"data/eval/{task}/state/seed0.json",
                 "reports/timings/compute.png", f"data/runs/{task}/vae/seed0/timings.json",
                 f"data/eval/{task}/vae/seed0.timings.json", f"data/reward/{task}/predictions.png",
                 f"data/features/{task}/reward.zarr", f"data/eval/{task}/reward/seed0.json"):
        assert (project / path).exists(), path
    metrics = json.loads((project / f"data/runs/{task}/resnet18/seed0/metrics.json").read_text())
    assert metrics["weights_source"] == "random:seed=0"


def test_second_repro_does_nothing(project):
    out = sh("dvc", "repro", cwd=project).stdout
    assert "Running stage" not in out, out


def test_a_rerun_from_scratch_reproduces_every_tracked_byte(project):
    """On the same machine a fresh run leaves `git status` clean (dvc.lock, metrics, curves and the
    report are byte-identical; the seconds are in git-ignored timings files)."""
    before = (project / "data/runs/door/vae/seed0/timings.json").read_text()
    for folder in ("data/vae_checkpoints", "data/reward_checkpoints"):  # else training would resume, not recompute
        shutil.rmtree(project / folder)
    for checkpoint in project.glob("data/runs/*/*/*/checkpoint.pt"):
        checkpoint.unlink()
    out = sh("dvc", "repro", "--force", cwd=project).stdout
    assert out.count("Running stage") == 17, out  # every stage computed again
    assert (project / "data/runs/door/vae/seed0/timings.json").read_text() != before
    changed = sh("git", "status", "--porcelain", cwd=project).stdout
    assert changed == "", changed + sh("git", "diff", "--", "dvc.lock", cwd=project).stdout[:3000]


def test_metrics_fit_a_terminal(project):
    shown = json.loads(sh("dvc", "metrics", "show", "--json", cwd=project).stdout)
    (metrics,) = shown.values() if "workspace" not in shown else [shown["workspace"]]
    columns = set()
    for data in metrics["data"].values():
        columns |= set(_flatten(data["data"]))
    assert 1 + len(columns) <= 25, sorted(columns)


def _flatten(tree: dict, prefix: str = "") -> list[str]:
    keys = []
    for key, value in tree.items():
        keys += _flatten(value, f"{prefix}{key}.") if isinstance(value, dict) else [f"{prefix}{key}"]
    return keys


def test_experiment_on_a_policy_param_reruns_only_training(project):
    out = sh("dvc", "exp", "run", "-S", "train_policy.lam_0=0.02", "-n", "lam", cwd=project).stdout
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    assert ran == {*(f"{stage}@door-{encoder}-0" for stage in ("train_policy", "evaluate")
                     for encoder in ("resnet18", "vae", "reward")),
                   "train_oracle@door-0", "evaluate_oracle@door-0", "report"}, out


def test_a_second_seed_adds_only_its_runs(project):
    """seeds=[0,1]: seed 0's runs are reused, seed 1's are trained and evaluated, and the report pools both."""
    out = sh("dvc", "exp", "run", "-S", "seeds=[0,1]", "-n", "seed1", cwd=project).stdout
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    assert ran == {*(f"{stage}@door-{encoder}-1" for stage in ("train_policy", "evaluate")
                     for encoder in ("resnet18", "vae", "reward")),
                   "train_oracle@door-1", "evaluate_oracle@door-1", "report"}, out
    assert "| door | vae, 2 seeds | 0.00 [0.00, 0.66] n=2 |" in (project / "reports/pipeline/report.md").read_text()
    shown = json.loads(sh("dvc", "exp", "show", "--json", cwd=project).stdout)
    text = json.dumps(shown)
    assert "seed1" in text and "success_rate" in text and "weights" in text
    header = sh("dvc", "exp", "show", "--only-changed", "--csv", cwd=project).stdout.splitlines()[0]
    assert len(header.split(",")) <= 25, header


def test_one_experiment_compares_encoder_families(project):
    """The encoder-family experiment at the tiny scale: R3M, DINOv2 and VC-1 beside the reward encoder; each family is
    cached once and gets one policy; results.json has a group per encoder with its weight source."""
    families = ("r3m18", "dinov2_vits14", "vc1_base")
    out = sh("dvc", "exp", "run", "-n", "families", "-S", "seeds=[0]", "-S", f"encoders=[{','.join(families)}]",
             "-S", f"policy_encoders=[{','.join(families)},reward]", cwd=project).stdout
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    assert ran == {*(f"encode@door-{f}" for f in families), *(f"train_policy@door-{f}-0" for f in families),
                   *(f"evaluate@door-{f}-0" for f in families), "report"}, out  # reward's run is reused
    results = json.loads((project / "data/results.json").read_text())["door"]
    assert set(results) == {"state", *families, "reward"}
    assert {results[f]["weights"] for f in families} == {"random:seed=0"} and results["reward"]["weights"] == "file:model.pt"
    report = (project / "reports/pipeline/report.md").read_text()
    assert all(f"| door | {f} (random init) |" in report for f in families), report


def test_a_queued_experiment_on_ray_reproduces_the_local_outputs(project):
    """docs/ray.md's sweep way (a) at the tiny scale: an experiment queued with `dvc exp run --queue`, the env workers
    and the encoder service as Ray actors (each stage starts a local Ray instance), run by DVC's queue worker. Only
    the stages that list the backend rerun, and their policies and evaluations are the local backend's, byte for
    byte."""
    pytest.importorskip("ray")
    sh("dvc", "exp", "run", "--queue", "-n", "onray", "-S", "policy_encoders=[resnet18]",
       "-S", "train_policy.backend=ray", "-S", "evaluate.backend=ray", "-S", "train_policy.workers=1",
       "-S", "evaluate.workers=1", cwd=project)
    sh("dvc", "queue", "start", "--jobs", "1", cwd=project)
    sh("dvc", "queue", "logs", "onray", "--follow", cwd=project, check=False)  # returns once the experiment ends
    status = sh("dvc", "queue", "status", cwd=project).stdout
    assert "onray" in status and "Success" in status, status + sh("dvc", "queue", "logs", "onray", cwd=project).stdout
    ours = yaml.safe_load(sh("git", "show", f"{_exp_ref(project, 'onray')}:dvc.lock", cwd=project).stdout)["stages"]
    local = yaml.safe_load(sh("git", "show", "HEAD:dvc.lock", cwd=project).stdout)["stages"]
    for stage in ("train_policy@door-resnet18-0", "evaluate@door-resnet18-0", "train_oracle@door-0",
                  "evaluate_oracle@door-0"):
        assert ours[stage]["params"] != local[stage]["params"], stage  # it ran on Ray (backend, workers)
        assert [o["md5"] for o in ours[stage]["outs"]] == [o["md5"] for o in local[stage]["outs"]], stage


def _exp_ref(project, name: str) -> str:
    refs = sh("git", "for-each-ref", "--format=%(refname)", "refs/exps", cwd=project).stdout.split()
    return next(ref for ref in refs if ref.endswith(f"/{name}"))
