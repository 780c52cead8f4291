"""dvc.yaml's params: the matrices are top-level keys, so a stage depends on whole sections and adding an encoder
leaves the params of the other encoders' stages alone; where a stage reads part of another stage's section (the
rollout service runs what `encode` cached), the keys it lists are exactly the ones it reads."""

import dataclasses
from pathlib import Path

import pytest
import yaml

from pipeline.cache.config import EncodeConfig

ROOT = Path(__file__).resolve().parents[1]
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
ENCODE_KEYS = {f.name for f in dataclasses.fields(EncodeConfig)}


def listed(stage: str, section: str) -> set[str]:
    return {p.split(".", 1)[1] for p in STAGES[stage]["params"] if isinstance(p, str) and p.startswith(f"{section}.")}


@pytest.mark.parametrize(("stage", "sections"), [
    ("make_demos", {"make_demos"}), ("render_demos", {"render_demos"}), ("render_vae_data", {"render_vae_data"}),
    ("encode", {"encode", "ray"}), ("train_vae", {"train_vae"}), ("train_reward_encoder", {"train_reward_encoder"}),
    ("train_policy", {"train_policy", "ray"}), ("train_oracle", {"train_policy", "train_oracle", "ray"}),
    ("evaluate", {"evaluate", "ray"}), ("evaluate_oracle", {"evaluate", "ray"}),
    ("report", {"tasks", "seeds", "policy_encoders"})])
def test_each_stage_depends_on_its_whole_sections(stage, sections):
    assert {p for p in STAGES[stage]["params"] if "." not in p} == sections


def test_the_matrices_are_top_level():
    for key in ("tasks", "seeds", "encoders", "policy_encoders"):
        assert isinstance(PARAMS[key], list)
    assert "${encoders}" in str(STAGES["encode"]["matrix"]) and "${policy_encoders}" in str(STAGES["train_policy"]["matrix"])


@pytest.mark.parametrize("stage", ["train_policy", "evaluate"])
def test_a_policy_stage_lists_the_encoder_keys_of_its_service(stage):
    """Every encode key but the backend (where the encode stage runs; the service follows the stage's own)."""
    assert listed(stage, "encode") == ENCODE_KEYS - {"backend"}


@pytest.mark.parametrize("stage", ["encode_vae", "encode_reward"])
def test_an_encoder_trained_here_lists_the_keys_it_reads(stage):
    """Its weights are its model file: encode.weights, weights_sha256 and layer are not its own."""
    assert listed(stage, "encode") == ENCODE_KEYS - {"weights", "weights_sha256", "layer"}
    assert "ray" in STAGES[stage]["params"]
