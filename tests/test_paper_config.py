"""configs/paper.yaml, resolved per task over params.yaml as `dvc exp run -S` applies it, against RRL's logged job
configs (facebookresearch/RRL experiment_logs/RRL/<task>-v0/<run>/job_config.json; the same for seeds 10-12)."""

import sys
from pathlib import Path

import pytest
import yaml

from pipeline.config import from_dict, section_class

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import exp_args  # noqa: E402

# job_config.json key -> train_policy key; values shared by every task's logged runs
SHARED = {"rl_num_iter": ("iterations", 300), "rl_step_size": ("delta", 0.05), "rl_gamma": ("gamma", 0.995),
          "rl_gae": ("gae_lambda", 0.97), "lam_0": ("lam_0", 0.01), "lam_1": ("lam_1", 0.95),
          "bc_batch_size": ("bc_batch", 32), "bc_epochs": ("bc_epochs", 5), "bc_learn_rate": ("bc_lr", 0.001),
          "vf_batch_size": ("vf_batch", 64), "vf_epochs": ("vf_epochs", 2), "vf_learn_rate": ("vf_lr", 0.001),
          "eval_rollouts": ("eval_episodes", 25), "algorithm": ("mode", "dapg"), "attach_state": ("proprio", True)}
PER_TASK = {"door": {"policy_size": [256, 256], "rl_num_traj": 200},
            "hammer": {"policy_size": [256, 256], "rl_num_traj": 200},
            "pen": {"policy_size": [256, 256], "rl_num_traj": 400},
            "relocate": {"policy_size": [512, 512], "rl_num_traj": 200}}


def _resolved(task: str) -> dict:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    overrides = exp_args.resolve(yaml.safe_load((ROOT / "configs" / "paper.yaml").read_text()), task)
    for name, values in overrides.items():
        params[name] = {**params[name], **values} if isinstance(values, dict) else values
    return params


@pytest.mark.parametrize("task", sorted(PER_TASK))
def test_paper_config_is_rrls_logged_job_config(task):
    params = _resolved(task)
    cfg = from_dict(section_class("train_policy"), params["train_policy"], where="paper")
    logged = {**{k: v for k, (_, v) in SHARED.items()}, **PER_TASK[task]}
    ours = {k: getattr(cfg, key) for k, (key, _) in SHARED.items()}
    ours.update(policy_size=list(cfg.hidden), rl_num_traj=cfg.episodes)
    assert ours == logged
    assert params["tasks"] == [task] and params["seeds"] == [10, 11, 12]
    assert params["encoders"] == params["policy_encoders"] == ["resnet34"]  # encoder_type
    assert params["render_demos"]["cameras"] == []  # the task's RRL rig: cam1-cam3 of each job config
    assert params["train_oracle"]["episodes"] == cfg.episodes  # the oracle at the same sample budget


def test_exp_args_prints_dvc_set_arguments_for_one_task():
    args = exp_args.as_args(exp_args.resolve({"seeds": [1], "train_policy": {"proprio": True, "hidden": [512, 512]},
                                              "per_task": {"pen": {"train_policy": {"episodes": 400}}}}, "pen"))
    assert args == ["-S", "seeds=[1]", "-S", "train_policy.proprio=true", "-S", "train_policy.hidden=[512, 512]",
                    "-S", "train_policy.episodes=400", "-S", 'tasks=["pen"]']
