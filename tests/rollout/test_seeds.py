"""Training, per-iteration evaluation and `evaluate` draw their episode seeds from streams that cannot meet."""

import pytest
import yaml

from pipeline.dapg.config import TrainPolicyConfig
from pipeline.errors import PipelineError
from pipeline.rollout.config import EvaluateConfig
from pipeline.rollout.seeds import evaluation_seeds, training_eval_seeds, training_seeds
from tests.test_paper_config import ROOT, _resolved


@pytest.mark.parametrize("task", ["door", "pen"])
def test_no_evaluation_seed_is_a_training_seed_at_the_paper_configurations_size(task):
    params = _resolved(task)  # configs/paper.yaml over params.yaml: 300 iterations of 200 (pen 400), seeds 10-12
    train, evaluate = TrainPolicyConfig(**{**params["train_policy"], "hidden": (256, 256)}), params["evaluate"]
    policy_seeds = [0, *params["seeds"]]  # RRL's 10-12 and params.yaml's 0 (whose range once held evaluate's seeds)
    training = {s for seed in policy_seeds for k in range(train.iterations)
                for s in training_seeds(seed, k, train.episodes)}
    assert len(training) == len(policy_seeds) * train.iterations * train.episodes  # no two episodes share a seed
    in_training_eval = set(training_eval_seeds(train.eval_episodes))
    evaluation = set(evaluation_seeds(evaluate["seed"], evaluate["episodes"]))
    assert not training & in_training_eval and not training & evaluation and not in_training_eval & evaluation


def test_the_defaults_seeds_are_disjoint_too():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    train, evaluate = params["train_policy"], params["evaluate"]
    training = {s for seed in params["seeds"] for k in range(train["iterations"])
                for s in training_seeds(seed, k, train["episodes"])}
    assert not training & set(evaluation_seeds(evaluate["seed"], evaluate["episodes"]))


def test_a_run_that_would_leave_its_seed_stream_is_refused():
    with pytest.raises(PipelineError, match="exceeds the 1,000,000 episode seeds"):
        TrainPolicyConfig(iterations=5001, episodes=200)
    with pytest.raises(PipelineError, match="seed must be in"):
        TrainPolicyConfig(seed=10**6)
    with pytest.raises(PipelineError, match="seed \\+ episodes"):
        EvaluateConfig(seed=-1)
