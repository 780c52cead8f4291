"""The sampler: an episode depends on its seed only, not on how episodes are spread over workers and envs."""

import numpy as np
import pytest

from pipeline.dapg.config import TrainPolicyConfig
from pipeline.encoders import EncoderConfig
from pipeline.errors import PipelineError
from pipeline.rl.policy import GaussianMLPPolicy
from pipeline.rollout.sampler import ObsConfig, Sampler
from pipeline.tasks import get_task, make_env

SEEDS = [5, 11, 2, 7, 3]  # five episodes: uneven over 2 workers x 2 envs, so a finished env starts the next one


def _episodes(obs: ObsConfig, workers: int, envs: int, horizon: int, obs_dim: int, distractors=None,
              encoder=None, double_buffer: bool = False) -> list:
    policy = GaussianMLPPolicy(obs_dim, get_task("door").action_dim, hidden=(16, 16), seed=0)
    with Sampler("door", obs, workers, horizon=horizon, encoder_config=encoder, envs_per_worker=envs,
                 double_buffer=double_buffer) as sampler:
        return sampler.sample(policy, SEEDS, distractors=distractors)


def _assert_same(ours: list, reference: list, exact: bool) -> None:
    assert [ep.seed for ep in ours] == [ep.seed for ep in reference] == SEEDS  # in seed order
    for a, b in zip(ours, reference):
        for field in ("observations", "actions", "rewards", "goal_achieved"):
            if exact:
                np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
            else:  # features through the service vs in-process: the same Encoder, float tolerance
                np.testing.assert_allclose(getattr(a, field), getattr(b, field), rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_state_episodes_do_not_depend_on_workers_or_envs_per_worker():
    obs = ObsConfig(mode="state")
    dim = make_env("door").observe().shape[0]
    reference = _episodes(obs, workers=0, envs=1, horizon=30, obs_dim=dim)
    _assert_same(_episodes(obs, workers=0, envs=3, horizon=30, obs_dim=dim), reference, exact=True)
    _assert_same(_episodes(obs, workers=2, envs=2, horizon=30, obs_dim=dim), reference, exact=True)


@pytest.mark.slow
def test_vision_episodes_do_not_depend_on_envs_per_worker_or_double_buffering_and_keep_their_distractor():
    from pipeline.render.distractors import sample_distractor

    obs = ObsConfig(mode="vision", image_size=64)
    encoder = EncoderConfig(weights="random")
    n_cams = len(get_task("door").camera_names)
    dim = n_cams * 512 + 24
    # every other episode under a distractor, so envs side by side render different scenes
    distractors = [sample_distractor("light_position", "door", s) if i % 2 else None for i, s in enumerate(SEEDS)]
    reference = _episodes(obs, workers=0, envs=1, horizon=6, obs_dim=dim, distractors=distractors, encoder=encoder)
    _assert_same(_episodes(obs, workers=1, envs=3, horizon=6, obs_dim=dim, distractors=distractors, encoder=encoder),
                 reference, exact=False)
    _assert_same(_episodes(obs, workers=2, envs=3, horizon=6, obs_dim=dim, distractors=distractors, encoder=encoder,
                           double_buffer=True), reference, exact=False)
    plain = _episodes(obs, workers=0, envs=1, horizon=6, obs_dim=dim, encoder=encoder)
    assert not np.allclose(plain[1].observations[0], reference[1].observations[0])  # the distractor was seen
    np.testing.assert_array_equal(plain[0].observations[0], reference[0].observations[0])


@pytest.mark.slow
def test_synthetic_encoder_episodes_are_deterministic_and_double_buffering_changes_nothing():
    from pipeline.bench.synthetic import SyntheticEncoderConfig

    obs = ObsConfig(mode="vision", image_size=64)
    encoder = SyntheticEncoderConfig(base_ms=1.0, per_frame_ms=0.1)
    dim = len(get_task("door").camera_names) * encoder.dim + 24
    one = _episodes(obs, workers=1, envs=2, horizon=8, obs_dim=dim, encoder=encoder)
    _assert_same(_episodes(obs, workers=2, envs=4, horizon=8, obs_dim=dim, encoder=encoder, double_buffer=True), one,
                 exact=True)


def test_envs_per_worker_below_one_and_double_buffering_one_env_are_refused():
    with pytest.raises(PipelineError, match="envs_per_worker"):
        Sampler("door", ObsConfig(mode="state"), workers=0, envs_per_worker=0)
    with pytest.raises(PipelineError, match="double_buffer needs"):
        Sampler("door", ObsConfig(mode="state"), workers=1, envs_per_worker=1, double_buffer=True)


def test_double_buffer_auto_is_on_only_where_the_encoder_runs_on_cuda(monkeypatch):
    """auto: a CPU encoder shares the cores with rendering, so one group per worker (the committed results'
    setting); a CUDA encoder gets two. The rule only (no service is started: obs state)."""
    from pipeline.rollout import sampler as sampler_module

    state = ObsConfig(mode="state")
    with Sampler("door", state, workers=0, envs_per_worker=2, double_buffer="auto",
                 encoder_config=EncoderConfig(device="cpu")) as cpu:
        assert not cpu.double_buffered
    assert not sampler_module.encodes_on_cuda(EncoderConfig(device="cpu"))
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    assert sampler_module.encodes_on_cuda(EncoderConfig(device="auto"))
    assert not sampler_module.encodes_on_cuda(None)  # state: no encoder at all
    with pytest.raises(PipelineError, match="train_policy.double_buffer must be true, false or auto"):
        TrainPolicyConfig(double_buffer="yes")
