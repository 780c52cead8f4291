"""params.yaml sections become typed configs; typos and wrong types are one clear line."""

import dataclasses

import pytest
import yaml

from pipeline.config import (
    MATRIX_DEFAULTS,
    OVER_SECTION_DEFAULTS,
    SECTIONS,
    MakeDemosConfig,
    TrainPolicyConfig,
    load_section,
    section_class,
)
from pipeline.errors import PipelineError


def _params(tmp_path, text):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return path


REPO_PARAMS = __import__("pathlib").Path(__file__).resolve().parents[1] / "params.yaml"


@pytest.mark.parametrize("section", [s for s in SECTIONS if s != "ray"] + ["ray"])
def test_one_set_of_defaults_the_configs_equal_params_yaml(section):
    """params.yaml is the default: each config class's defaults are its section's values, key for key, so that
    `rrl-pipe` without a params file runs what `dvc repro` runs (the matrix items and seed are set per run)."""
    cls = section_class(section)
    assert load_section(REPO_PARAMS, section, cls) == cls() == load_section(None, section, cls)
    per_run = {"make_demos": {"task"}, "train_policy": {"seed"}}.get(section, set())
    written = yaml.safe_load(REPO_PARAMS.read_text())[section]
    assert set(written) == {f.name for f in dataclasses.fields(cls)} - per_run  # every key spelt out in params.yaml


def test_the_matrices_and_the_oracle_schedule_equal_params_yaml():
    params = yaml.safe_load(REPO_PARAMS.read_text())
    assert {k: params[k] for k in MATRIX_DEFAULTS} == MATRIX_DEFAULTS
    assert params["train_oracle"] == OVER_SECTION_DEFAULTS["train_oracle"]
    oracle = load_section(None, "train_policy", TrainPolicyConfig, over="train_oracle")
    assert oracle == load_section(REPO_PARAMS, "train_policy", TrainPolicyConfig, over="train_oracle")
    assert (oracle.iterations, oracle.episodes) == (15, 40)


def test_command_line_values_pass_the_same_checks(tmp_path):
    path = _params(tmp_path, "train_policy: {iterations: 3, episodes: 6}\n")
    cfg = load_section(path, "train_policy", TrainPolicyConfig, given={"seed": 4, "mode": "bc"})
    assert (cfg.iterations, cfg.episodes, cfg.seed, cfg.mode) == (3, 6, 4, "bc")
    with pytest.raises(PipelineError, match="train_policy.seed: '4' is not of type int"):
        load_section(path, "train_policy", TrainPolicyConfig, given={"seed": "4"})
    with pytest.raises(PipelineError, match="train_policy.mode: 'ppo' is not one of dapg, npg, bc"):
        load_section(None, "train_policy", TrainPolicyConfig, given={"mode": "ppo"})


def test_typo_suggests_the_key(tmp_path):
    path = _params(tmp_path, "make_demos:\n  episdoes: 3\n")
    with pytest.raises(PipelineError, match=r"params\.yaml: make_demos\.episdoes is not a known key; did you mean 'episodes'\?"):
        load_section(path, "make_demos", MakeDemosConfig)


def test_wrong_type_and_bad_choice(tmp_path):
    with pytest.raises(PipelineError, match="make_demos.episodes: 'many' is not of type int"):
        load_section(_params(tmp_path, "make_demos:\n  episodes: many\n"), "make_demos", MakeDemosConfig)
    with pytest.raises(PipelineError, match="make_demos.task: 'drawer' is not one of door, hammer, pen, relocate"):
        load_section(_params(tmp_path, "make_demos:\n  task: drawer\n"), "make_demos", MakeDemosConfig)
    with pytest.raises(PipelineError, match="make_demos.path is required for source 'minari'"):
        MakeDemosConfig(source="minari")


def test_missing_file_and_section(tmp_path):
    with pytest.raises(PipelineError, match="no such params file"):
        load_section(tmp_path / "nope.yaml", "make_demos", MakeDemosConfig)
    with pytest.raises(PipelineError, match="no section 'make_demos'"):
        load_section(_params(tmp_path, "train_vae: {}\n"), "make_demos", MakeDemosConfig)
    with pytest.raises(PipelineError, match="unknown section 'other'; known sections: tasks, seeds, "):
        load_section(_params(tmp_path, "other: {}\n"), "make_demos", MakeDemosConfig)


@pytest.mark.parametrize("text, message", [
    ("make_demos: 3\n", "section 'make_demos' is 3, expected a mapping of keys"),
    ("make_demos: [1, 2]\n", "section 'make_demos' is a list, expected a mapping of keys"),
    ("- make_demos\n", "expected a mapping of sections at the top, found a list"),
    ("make_demos:\n  episodes: 3\n  episodes: 4\n", "not valid YAML (duplicate key 'episodes' (line 3))"),
    ("make_demos: {}\nmake_demos: {}\n", "duplicate key 'make_demos' (line 2)"),
])
def test_malformed_params_are_one_line(tmp_path, text, message):
    with pytest.raises(PipelineError) as info:
        load_section(_params(tmp_path, text), "make_demos", MakeDemosConfig)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_an_override_section_replaces_keys_and_names_its_own_typos(tmp_path):
    from pipeline.config import TrainPolicyConfig

    path = tmp_path / "params.yaml"
    path.write_text("train_policy: {iterations: 3, episodes: 6}\ntrain_oracle: {iterations: 30}\n")
    cfg = load_section(path, "train_policy", TrainPolicyConfig, over="train_oracle")
    assert (cfg.iterations, cfg.episodes) == (30, 6)
    assert load_section(path, "train_policy", TrainPolicyConfig).iterations == 3
    path.write_text("train_policy: {iterations: 3}\ntrain_oracle: {iteratons: 30}\n")
    with pytest.raises(PipelineError, match=r"train_oracle\.iteratons is not a known key; did you mean 'iterations'"):
        load_section(path, "train_policy", TrainPolicyConfig, over="train_oracle")


def test_the_ray_section_is_optional_and_checked(tmp_path):
    from pipeline.cluster import RayConfig
    from stages._services import ray_config

    params = tmp_path / "params.yaml"
    params.write_text("train_policy: {backend: ray}\n")
    assert ray_config(params, "local") is None  # the local backend never reads it
    assert ray_config(params, "ray") == RayConfig()  # no section: the defaults
    assert ray_config(params, "ray", address="auto").address == "auto"  # --ray-address
    params.write_text("ray: {address: 'head:6379', encoder_gpus: 1}\n")
    assert ray_config(params, "ray") == RayConfig(address="head:6379", encoder_gpus=1)
    params.write_text("ray: {encoder_gpus: many}\n")
    with pytest.raises(PipelineError, match="ray.encoder_gpus must be auto or a number >= 0, not 'many'"):
        ray_config(params, "ray")
    params.write_text("ray: {adress: x}\n")
    with pytest.raises(PipelineError, match="ray.adress is not a known key; did you mean 'address'"):
        ray_config(params, "ray")
