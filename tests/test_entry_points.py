"""One entry point per stage: `dvc repro` runs `python -m stages.<name>` with the paths dvc.yaml spells out, a user
runs `rrl-pipe <name>` with only the matrix items; both must hand the library the same config and the same paths.
Each stage runs both ways here with its library call recorded instead of made (the calls are what is compared)."""

import re
import shlex
import shutil
import types
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from pipeline.cli import main

ROOT = Path(__file__).resolve().parents[1]
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
ITEM = {"task": "door", "seed": 0}
# the library function each stage's command calls; its return value, as much of it as the command prints
LIBRARY = {
    "make_demos": ("pipeline.demos.sources", "make_demos", {}),
    "render_demos": ("pipeline.render.stage", "render_demos", {}),
    "render_vae_data": ("pipeline.render.vae_data", "render_vae_data", {}),
    "encode": ("pipeline.cache.encode", "encode_frames", {}),
    "train_vae": ("pipeline.vae.train", "train_vae", {}),
    "train_reward_encoder": ("pipeline.reward.train", "train_reward_encoder",
                             dict.fromkeys(("val_loss", "val_constant_loss", "constant_over_model"), 0.0)),
    "train_policy": ("pipeline.dapg.train", "train_policy",
                     dict.fromkeys(("success_rate", "eval_success_rate", "return_mean", "weights_source"), 0)),
    "evaluate": ("pipeline.rollout.evaluate", "evaluate_policy", {"conditions": {"plain": {"success_rate": 0.0}}}),
    "report": ("pipeline.report.report", "write_report", "reports/pipeline/report.md"),
}
# what a user types: the stage's command and the matrix items of one DVC stage instance
USER = {
    "make_demos": ["make-demos", "--task", "door"],
    "render_demos": ["render-demos", "--task", "door"],
    "render_vae_data": ["render-vae-data", "--task", "door"],
    "encode": ["encode", "--task", "door", "--model", "resnet18"],
    "encode_vae": ["encode", "--task", "door", "--model", "vae"],
    "encode_reward": ["encode", "--task", "door", "--model", "reward"],
    "train_vae": ["train-vae", "--task", "door"],
    "train_reward_encoder": ["train-reward-encoder", "--task", "door"],
    "train_policy": ["train-policy", "--task", "door", "--encoder", "vae", "--seed", "0"],
    "train_oracle": ["train-policy", "--task", "door", "--encoder", "state", "--seed", "0"],
    "evaluate": ["evaluate", "--task", "door", "--encoder", "vae", "--policy-seed", "0"],
    "evaluate_oracle": ["evaluate", "--task", "door", "--encoder", "state", "--policy-seed", "0"],
    "report": ["report"],
}


def dvc_args(name: str) -> tuple[str, list[str]]:
    """The stage's command module and its arguments, for the matrix item door / vae (or resnet18) / seed 0."""
    stage = STAGES[name]
    encoder = "resnet18" if name == "encode" else "vae"
    cmd = re.sub(r"\$\{item\.(\w+)\}", lambda m: str({**ITEM, "encoder": encoder}[m.group(1)]), stage["cmd"])
    words = shlex.split(cmd)
    return words[2], words[3:]  # python -m stages.<name> ...


def recorded_calls(monkeypatch, args: list[str], command) -> list:
    calls = []

    def recorder(result):
        return lambda *a, **k: calls.append((a, k)) or result

    for module, function, result in LIBRARY.values():
        monkeypatch.setattr(f"{module}.{function}", recorder(result))
    # the demos and the policy file are read before the library call: recorded too
    monkeypatch.setattr("pipeline.dapg.demo_data.state_demos", recorder("state demos"))
    monkeypatch.setattr("pipeline.dapg.demo_data.vision_demos", lambda *a: calls.append(("vision demos", a)) or
                        types.SimpleNamespace())
    monkeypatch.setattr("pipeline.timings.read_timings", lambda out: {"seconds": {}})
    vision = "state" not in args
    monkeypatch.setattr("pipeline.rl.policy.GaussianMLPPolicy.load",
                        lambda path: calls.append(("policy", path)) or types.SimpleNamespace(
                            obs_layout={"obs": "vision" if vision else "state"}))
    result = CliRunner().invoke(command, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return calls


@pytest.mark.parametrize("name", sorted(STAGES))
def test_dvc_and_the_command_line_build_the_same_call(name, tmp_path, monkeypatch):
    shutil.copy(ROOT / "params.yaml", tmp_path)
    monkeypatch.chdir(tmp_path)
    module, args = dvc_args(name)
    stage_command = __import__(module, fromlist=["command"]).command
    by_dvc = recorded_calls(monkeypatch, args, stage_command)
    by_user = recorded_calls(monkeypatch, USER[name], main)
    assert by_dvc and by_dvc == by_user


def test_the_command_line_works_without_a_params_file_on_the_same_defaults(tmp_path, monkeypatch):
    """Outside a project (no params.yaml) `rrl-pipe` runs on the defaults, which equal params.yaml's."""
    monkeypatch.chdir(tmp_path)
    without = recorded_calls(monkeypatch, USER["train_oracle"], main)
    shutil.copy(ROOT / "params.yaml", tmp_path)
    assert recorded_calls(monkeypatch, USER["train_oracle"], main) == without


def test_an_option_overrides_its_params_key_through_the_same_checks(tmp_path, monkeypatch):
    shutil.copy(ROOT / "params.yaml", tmp_path)
    monkeypatch.chdir(tmp_path)
    calls = recorded_calls(monkeypatch, ["render-demos", "--size", "64", "--quality", "paper"], main)
    cfg = calls[0][0][2]
    assert (cfg.size, cfg.quality, cfg.scene) == (64, "paper", "rrl")
    result = CliRunner().invoke(main, ["render-demos", "--quality", "shiny"])
    assert result.exit_code == 2 and "render_demos.quality: 'shiny' is not one of" in result.output
