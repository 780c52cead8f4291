"""The evaluate stage's config (params.yaml `evaluate`), and the checks the rollout options of both policy stages
share."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.cluster import check_backend
from pipeline.errors import PipelineError, check_choice
from pipeline.render.distractors import DISTRACTOR_KINDS
from pipeline.rollout import seeds


def check_double_buffer(section: str, value: bool | str) -> None:
    if value not in (True, False, "auto"):
        raise PipelineError(f"{section}.double_buffer must be true, false or auto, not {value!r}")


@dataclass(frozen=True)
class EvaluateConfig:
    """params.yaml `evaluate`: deterministic (mean-action) episodes, plain and under each visual distractor."""

    episodes: int = 25  # episodes per condition (95% Wilson interval about +-0.2)
    seed: int = 10_000  # episode i of each condition: seed + i in evaluate's own seed stream (pipeline/rollout/seeds.py)
    distractors: tuple[str, ...] = ()  # any of DISTRACTOR_KINDS (RRL appendix 7.5; configs/paper.yaml: all four)
    horizon: int = 0  # 0: the task's (200; pen 100)
    workers: int = 2  # env worker processes (0: in-process)
    envs_per_worker: int = 5  # envs each worker steps in lockstep (as train_policy's)
    double_buffer: bool | str = "auto"  # as train_policy's
    backend: str = "local"  # as train_policy's

    def __post_init__(self) -> None:
        check_double_buffer("evaluate", self.double_buffer)
        check_backend("evaluate", self.backend)
        for kind in self.distractors:
            check_choice("evaluate.distractors", kind, DISTRACTOR_KINDS)
        if self.episodes <= 0 or self.workers < 0 or self.envs_per_worker < 1:
            raise PipelineError("evaluate: episodes must be positive, workers >= 0 and envs_per_worker >= 1")
        if error := seeds.evaluation_budget_error(self.seed, self.episodes):
            raise PipelineError(f"evaluate: {error}")
