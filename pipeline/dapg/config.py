"""The train_policy stage's config: BC + DAPG (params.yaml `train_policy`, `train_oracle` over it)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.cluster import check_backend
from pipeline.errors import PipelineError, check_choice
from pipeline.rollout import seeds
from pipeline.rollout.config import check_double_buffer
from pipeline.tasks.spec import REWARD_MODES, SUCCESS_RULES


@dataclass(frozen=True)
class TrainPolicyConfig:
    """params.yaml `train_policy`: BC + DAPG (RRL) or NPG / BC alone, on vision features or the state oracle."""

    mode: str = "dapg"  # dapg (BC, then NPG + demo term) | npg (no demos) | bc (behaviour cloning only)
    obs: str = "vision"  # vision ([features of every camera, 24 joints]) | state (Gymnasium's state vector)
    proprio: bool = True  # vision: append the 24 hand joints (False: vision only)
    proprio_noise: float = 0.0  # vision: joint noise std as a fraction of each joint's range (ours; RRL adds none)
    iterations: int = 4  # NPG/DAPG iterations (RRL: 300; configs/paper.yaml)
    episodes: int = 10  # trajectories per iteration (RRL: 200, i.e. 40,000 samples)
    horizon: int = 0  # 0: the task's (200; pen 100)
    reward_mode: str = "rrl"  # rrl (RRL's staged) | dapg-dense (DAPG's shaped) | dense (gym 1.4.2's) | sparse | gym-sparse
    success_rule: str = "rrl"  # rrl (RRL's fork: door > 1.4, pen orientation only) | dapg (mj_envs v0 / Gymnasium)
    bc_epochs: int = 5  # behaviour cloning before RL (mjrl: 5 epochs, batch 32, lr 1e-3)
    bc_batch: int = 32
    bc_lr: float = 1e-3
    hidden: tuple[int, ...] = (256, 256)  # policy MLP (tanh)
    init_log_std: float = 0.0  # npg's exploration log-std (dapg and bc start from the demo actions' std)
    init_std_scale: float = 0.25  # dapg/bc: exploration std = this x the demo actions' std (mjrl's job scripts: 1)
    min_log_std: float = -3.0
    vf_hidden: tuple[int, ...] = (128, 128)  # value baseline MLP (ReLU)
    vf_batch: int = 64
    vf_epochs: int = 2
    vf_lr: float = 1e-3
    vf_weight_decay: float = 1e-3
    gamma: float = 0.995
    gae_lambda: float = 0.97
    delta: float = 0.05  # normalised NPG step (KL)
    cg_iters: int = 10
    damping: float = 1e-4
    lam_0: float = 0.01  # DAPG demo weight lam_0 * lam_1^k
    lam_1: float = 0.95
    eval_episodes: int = 0  # deterministic (mean-action) episodes after each iteration (mjrl: evaluation_rollouts)
    stop_at_eval_success: float = 0.0  # > 0: stop once the mean-action success reaches this (0: run every iteration)
    workers: int = 2  # env worker processes (0: everything in this process)
    envs_per_worker: int = 5  # envs each worker steps in lockstep: one encoder request holds all their frames
    double_buffer: bool | str = "auto"  # two env groups per worker alternate (auto: where the encoder runs on CUDA)
    backend: str = "local"  # local (worker processes here) | ray (Ray actors: params `ray`); the same episodes
    seed: int = 0  # iteration k samples episodes with seeds seed * 1e6 + k * episodes + i (pipeline/rollout/seeds.py)

    def __post_init__(self) -> None:
        check_choice("train_policy.mode", self.mode, ("dapg", "npg", "bc"))
        check_choice("train_policy.success_rule", self.success_rule, SUCCESS_RULES)
        check_choice("train_policy.obs", self.obs, ("vision", "state"))
        check_choice("train_policy.reward_mode", self.reward_mode, REWARD_MODES)
        if self.init_std_scale <= 0:
            raise PipelineError("train_policy.init_std_scale must be positive (1: the demo actions' std, as mjrl)")
        if min(self.iterations, self.workers, self.horizon, self.eval_episodes) < 0 or self.episodes <= 0:
            raise PipelineError("train_policy: iterations, horizon, workers and eval_episodes must be >= 0, episodes > 0")
        if self.envs_per_worker < 1:
            raise PipelineError("train_policy.envs_per_worker must be >= 1")
        check_double_buffer("train_policy", self.double_buffer)
        check_backend("train_policy", self.backend)
        if self.stop_at_eval_success and not (0 < self.stop_at_eval_success <= 1 and self.eval_episodes > 0):
            raise PipelineError("train_policy.stop_at_eval_success must be in (0, 1] and needs eval_episodes > 0")
        if error := seeds.training_budget_error(self.seed, self.iterations, self.episodes):
            raise PipelineError(f"train_policy: {error}")
