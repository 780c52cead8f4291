"""train_policy and evaluate end to end on tiny settings: outputs, resume, layout and encoder checks."""

import csv
import json

import numpy as np
import pytest

from pipeline.cache.encode import encode_frames
from pipeline.config import EvaluateConfig, TrainPolicyConfig
from pipeline.dapg.demo_data import state_demos, vision_demos
from pipeline.dapg.train import train_policy
from pipeline.encoders import EncoderConfig
from pipeline.errors import PipelineError
from pipeline.rl.policy import GaussianMLPPolicy
from pipeline.rollout.evaluate import evaluate_policy
from pipeline.timings import read_timings
from tests.encoders.conftest import make_frames

TINY = dict(iterations=2, episodes=2, horizon=15, workers=0, hidden=(16, 16), vf_hidden=(16, 16), bc_epochs=1)
ENCODER = EncoderConfig(weights="random")


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo")
    frames = make_frames(tmp / "door.h5", size=64, n=2, horizon=10)
    features = tmp / "resnet18.zarr"
    encode_frames(frames, features, ENCODER, progress=False)
    return frames.with_suffix(".demos.h5"), frames, features


def _rows(run):
    with open(run / "curves.csv") as f:
        return list(csv.DictReader(f))


def test_state_training_writes_metrics_curves_and_policy(tmp_path, demo_files):
    demos, _, _ = demo_files
    cfg = TrainPolicyConfig(obs="state", **TINY)
    metrics = train_policy("door", cfg, state_demos(demos), tmp_path)
    assert metrics["iterations"] == 2 and metrics["encoder"] == "state" and 0 <= metrics["success_rate"] <= 1
    assert "seconds" not in metrics  # machine-dependent: beside the outputs, in timings.json
    assert set(read_timings(tmp_path)["seconds"]) >= {"bc_s", "sampling_s", "physics_s", "npg_s", "vf_s"}
    rows = _rows(tmp_path)
    assert [r["iteration"] for r in rows] == ["1", "2"] and all(int(r["samples"]) == 30 for r in rows)
    assert float(rows[1]["demo_weight"]) == pytest.approx(0.01 * 0.95)
    assert rows[0]["eval_success_rate"] == "nan" and metrics["eval_success_rate"] is None  # not asked for
    policy = GaussianMLPPolicy.load(tmp_path / "policy.pt", expect_layout={"task": "door", "obs": "state"})
    assert policy.obs_dim == 39


@pytest.mark.parametrize("mode", ["bc", "npg"])
def test_initialisation_from_demos_follows_the_mode(tmp_path, demo_files, mode):
    demos = state_demos(demo_files[0])
    metrics = train_policy("door", TrainPolicyConfig(obs="state", mode=mode, **{**TINY, "iterations": 0}), demos, tmp_path)
    policy = GaussianMLPPolicy.load(tmp_path / "policy.pt")
    log_std = policy.log_std.detach().numpy()
    if mode == "bc":  # transforms and exploration std from the demo actions (x init_std_scale), then BC
        expected = np.maximum(np.log(0.25 * demos.actions.std(0) + 1e-12), -3.0)
        np.testing.assert_allclose(log_std, expected, rtol=1e-5)
        assert metrics["bc_final_loss"] is not None
    else:  # npg: nothing learnt from demo actions
        assert np.all(log_std == 0.0) and np.all(policy.act_std.numpy() == 1.0)
        assert metrics["bc_final_loss"] is None and read_timings(tmp_path)["seconds"]["bc_s"] == 0.0


def test_evaluation_after_each_iteration_leaves_training_unchanged(tmp_path, demo_files):
    demos = state_demos(demo_files[0])
    train_policy("door", TrainPolicyConfig(obs="state", **TINY), demos, tmp_path / "plain")
    watched = train_policy("door", TrainPolicyConfig(obs="state", eval_episodes=2, **TINY), demos, tmp_path / "watched")
    rows = _rows(tmp_path / "watched")
    assert all(0 <= float(r["eval_success_rate"]) <= 1 for r in rows)
    assert all(r["eval_s"] > 0 for r in read_timings(tmp_path / "watched")["per_iteration"])
    assert watched["eval_success_rate"] == float(rows[-1]["eval_success_rate"])
    assert [r["return_mean"] for r in rows] == [r["return_mean"] for r in _rows(tmp_path / "plain")]
    a = GaussianMLPPolicy.load(tmp_path / "plain" / "policy.pt").get_flat_params()
    assert np.array_equal(a.numpy(), GaussianMLPPolicy.load(tmp_path / "watched" / "policy.pt").get_flat_params().numpy())


def test_resume_continues_the_same_run(tmp_path, demo_files):
    demos, _, _ = demo_files
    straight, split = tmp_path / "straight", tmp_path / "split"
    train_policy("door", TrainPolicyConfig(obs="state", **TINY), state_demos(demos), straight)
    train_policy("door", TrainPolicyConfig(obs="state", **{**TINY, "iterations": 1}), state_demos(demos), split)
    train_policy("door", TrainPolicyConfig(obs="state", **TINY), state_demos(demos), split)  # resumes at iteration 2
    keep = ("iteration", "success_rate", "return_mean", "samples", "kl", "alpha")
    assert [{k: r[k] for k in keep} for r in _rows(split)] == [{k: r[k] for k in keep} for r in _rows(straight)]
    a = GaussianMLPPolicy.load(straight / "policy.pt").get_flat_params()
    b = GaussianMLPPolicy.load(split / "policy.pt").get_flat_params()
    assert np.array_equal(a.numpy(), b.numpy())


def test_a_checkpoint_from_other_code_or_reward_is_not_resumed(tmp_path, demo_files, monkeypatch, capsys):
    from pipeline.training import checkpoints

    cfg = TrainPolicyConfig(obs="state", **{**TINY, "iterations": 1})
    train_policy("door", cfg, state_demos(demo_files[0]), tmp_path)
    first, first_seconds = _rows(tmp_path), read_timings(tmp_path)["per_iteration"]
    train_policy("door", cfg, state_demos(demo_files[0]), tmp_path)  # same code: resumed, nothing rerun
    assert _rows(tmp_path) == first and "not resumed" not in capsys.readouterr().err
    train_policy("door", TrainPolicyConfig(obs="state", reward_mode="sparse", **{**TINY, "iterations": 1}),
                 state_demos(demo_files[0]), tmp_path)
    err = capsys.readouterr().err
    assert "checkpoint.pt: written with another configuration (reward_mode 'rrl' -> 'sparse'); not resumed" in err
    monkeypatch.setattr(checkpoints, "code_digest", lambda parts: "edited learner")
    train_policy("door", cfg, state_demos(demo_files[0]), tmp_path)  # other code: trained again from scratch
    err = capsys.readouterr().err
    assert "written by other code (pipeline/rl, rollout, dapg, tasks); not resumed, starting over" in err
    again = _rows(tmp_path)
    assert again == first and read_timings(tmp_path)["per_iteration"] != first_seconds  # the same, sampled again


def test_metrics_are_strict_json_and_bc_has_no_success_yet(tmp_path, demo_files):
    train_policy("door", TrainPolicyConfig(obs="state", mode="bc", **TINY), state_demos(demo_files[0]), tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))
    assert metrics["success_rate"] is None and metrics["eval_success_rate"] is None and metrics["iterations"] == 0
    assert metrics["reward_mode"] == "rrl" and metrics["success_rule"] == "rrl"


@pytest.mark.slow
def test_vision_training_and_evaluation_with_distractors(tmp_path, demo_files):
    _, frames, features = demo_files
    demos = vision_demos(features, frames, proprio=True)
    assert demos.observations.shape == (20, 512 + 24)
    cfg = TrainPolicyConfig(**{**TINY, "iterations": 1})
    metrics = train_policy("door", cfg, demos, tmp_path / "run", ENCODER)
    assert metrics["weights_source"] == "random:seed=0" and read_timings(tmp_path / "run")["seconds"]["encode_s"] > 0
    out = tmp_path / "eval.json"
    ev = evaluate_policy(
        tmp_path / "run" / "policy.pt",
        EvaluateConfig(episodes=1, distractors=("extra_object",), horizon=12, workers=0),
        out,
        encoder_config=ENCODER,
        image_size=64,
    )
    assert set(ev["conditions"]) == {"plain", "extra_object"}
    plain = ev["conditions"]["plain"]
    assert plain["frames_encoded"] == plain["steps"] == 12  # one encode per step and camera (door: one camera)
    assert json.loads(out.read_text())["encoder"] == "resnet18"
    assert set(read_timings(out)["conditions"]) == {"plain", "extra_object"}


def test_features_from_another_encoder_are_refused(tmp_path, demo_files):
    _, frames, features = demo_files
    demos = vision_demos(features, frames, proprio=True)
    other = EncoderConfig(weights="random", layer="layer3")
    with pytest.raises(PipelineError, match=r"resnet18\.zarr: features come from another encoder than the service runs"):
        train_policy("door", TrainPolicyConfig(**{**TINY, "iterations": 1}), demos, tmp_path, other)
    # evaluate names the field that differs (a policy and a service that differ only in it read the same otherwise)
    train_policy("door", TrainPolicyConfig(**{**TINY, "mode": "bc"}), demos, tmp_path / "run", ENCODER)
    with pytest.raises(PipelineError, match=r"policy\.pt: features come from .* \(layer: policy pool vs service layer3\)"):
        evaluate_policy(tmp_path / "run" / "policy.pt", EvaluateConfig(episodes=1, distractors=(), horizon=5, workers=0),
                        tmp_path / "eval.json", encoder_config=other, image_size=64)


@pytest.mark.slow
def test_rollouts_render_as_the_demos_were_rendered_and_a_mismatch_is_refused(tmp_path, demo_files):
    _, frames, features = demo_files
    demos = vision_demos(features, frames, proprio=True)
    train_policy("door", TrainPolicyConfig(**TINY), demos, tmp_path / "run", ENCODER)
    layout = GaussianMLPPolicy.load(tmp_path / "run" / "policy.pt").obs_layout
    # the demo frames' size, quality and scene, not the defaults 256 px, fast, rrl
    assert (layout["image_size"], layout["render_quality"], layout["render_scene"]) == (64, "fast", "rrl")
    cfg = EvaluateConfig(episodes=1, distractors=(), horizon=5, workers=0)
    ev = evaluate_policy(tmp_path / "run" / "policy.pt", cfg, tmp_path / "eval.json", encoder_config=ENCODER)
    assert ev["conditions"]["plain"]["frames_encoded"] == 5  # rendered at the policy's 64 px without being told
    for size, quality, scene in ((128, "fast", "rrl"), (64, "paper", "rrl"), (64, "fast", "gymnasium")):
        with pytest.raises(PipelineError, match=r"policy\.pt: trained on frames rendered at 64 px, quality fast, scene "
                                                rf"rrl; evaluation asks for {size} px, quality {quality}, scene {scene}"):
            evaluate_policy(tmp_path / "run" / "policy.pt", cfg, tmp_path / "eval2.json", encoder_config=ENCODER,
                            image_size=size, quality=quality, scene=scene)
    assert not (tmp_path / "eval2.json").exists()
    # joints from frames of another quality, size or scene than the store's features: refused before any work
    for kwargs in ({"size": 64, "quality": "paper"}, {"size": 32}, {"size": 64, "scene": "gymnasium"}):
        other = make_frames(tmp_path / "_".join(map(str, kwargs.values())) / "door.h5", n=2, horizon=10, **kwargs)
        with pytest.raises(PipelineError, match=r"door\.h5: frames rendered at (64 px, quality paper, scene rrl|32 px, "
                                                r"quality fast, scene rrl|64 px, quality fast, scene gymnasium); "
                                                r".*resnet18\.zarr encodes frames of 64 px, quality fast, scene rrl"):
            vision_demos(features, other, proprio=True)


def test_stop_at_eval_success_ends_the_run_once_reached_and_is_checked():
    from pipeline.dapg.train import _reached_target

    cfg = TrainPolicyConfig(obs="state", eval_episodes=25, stop_at_eval_success=0.8)
    assert not _reached_target([], cfg)
    assert not _reached_target([{"eval_success_rate": 0.76}], cfg)
    assert _reached_target([{"eval_success_rate": 0.76}, {"eval_success_rate": 0.8}], cfg)
    assert not _reached_target([{"eval_success_rate": 1.0}], TrainPolicyConfig(obs="state", eval_episodes=25))
    with pytest.raises(PipelineError, match="needs eval_episodes"):
        TrainPolicyConfig(obs="state", stop_at_eval_success=0.8)
    with pytest.raises(PipelineError, match=r"\(0, 1\]"):
        TrainPolicyConfig(obs="state", eval_episodes=5, stop_at_eval_success=1.5)
