"""dvc.yaml lists, for each stage that reads a whole params section, every key of it but the DVC matrix `encoders`:
a new key must be listed (else DVC would not rerun on it; `dvc exp run -S train_policy.backend=ray` must run on
Ray), and adding an encoder to a matrix must not change the
params of the stages of the other encoders (else DVC would recompute every store and policy)."""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def listed(stage: str, section: str) -> set[str]:
    return {p.split(".", 1)[1] for p in STAGES[stage]["params"] if isinstance(p, str) and p.startswith(f"{section}.")}


@pytest.mark.parametrize(("stage", "section"), [("encode", "encode"), ("train_policy", "encode"),
                                                ("evaluate", "encode"), ("train_policy", "train_policy"),
                                                ("train_oracle", "train_policy")])
def test_stage_lists_every_key_of_its_section_but_the_matrix(stage, section):
    assert section not in STAGES[stage]["params"]  # the whole section would include `encoders`
    # encode.backend is where the encode stage runs; the rollout service of a policy stage follows its own backend
    not_theirs = {"backend"} if section == "encode" and stage != "encode" else set()
    assert listed(stage, section) == set(PARAMS[section]) - {"encoders"} - not_theirs


@pytest.mark.parametrize("stage", ["encode", "encode_vae", "encode_reward", "train_policy", "train_oracle", "evaluate",
                                   "evaluate_oracle"])
def test_every_stage_with_a_backend_lists_it_and_the_ray_section(stage):
    params = STAGES[stage]["params"]
    section = {"encode": "encode", "encode_vae": "encode", "encode_reward": "encode", "evaluate": "evaluate",
               "evaluate_oracle": "evaluate"}.get(stage, "train_policy")
    assert "ray" in params and (section in params or f"{section}.backend" in params)
    assert "pipeline/cluster.py" in STAGES[stage]["deps"]
