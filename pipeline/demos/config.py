"""The make_demos stage's config: where demonstrations come from (params.yaml `make_demos`)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.demos.hand_dapg import HUMAN_STATES
from pipeline.errors import PipelineError, check_choice, check_seed
from pipeline.tasks.spec import REWARD_MODES, TASKS

DEMO_SOURCES = ("scripted", "hand_dapg_human", "hand_dapg_expert", "minari")


@dataclass(frozen=True)
class MakeDemosConfig:
    """params.yaml `make_demos`: where demonstrations come from."""

    task: str = "door"  # door | hammer | pen | relocate
    source: str = "scripted"  # scripted | hand_dapg_human | hand_dapg_expert | minari
    path: str = ""  # the source file or folder (hand_dapg pickle, Minari dataset dir); empty for scripted
    episodes: int = 25  # rollouts to make (scripted, hand_dapg_expert); file sources take at most this many
    seed: int = 0  # episode i is reset with seed + i
    reward_mode: str = "rrl"  # rrl (RRL's staged) | dapg-dense (DAPG's shaped) | dense (gym 1.4.2's) | sparse | gym-sparse
    human_states: str = "replay"  # hand_dapg_human: replay (RRL: actions from init_state_dict) | recorded (DAPG's)

    def __post_init__(self) -> None:
        check_choice("make_demos.task", self.task, tuple(TASKS))
        check_choice("make_demos.source", self.source, DEMO_SOURCES)
        check_choice("make_demos.reward_mode", self.reward_mode, REWARD_MODES)
        check_choice("make_demos.human_states", self.human_states, HUMAN_STATES)
        if self.episodes <= 0:
            raise PipelineError(f"make_demos.episodes must be positive, got {self.episodes}")
        check_seed("make_demos.seed", self.seed, self.episodes)
        if self.source != "scripted" and not self.path:
            raise PipelineError(f"make_demos.path is required for source {self.source!r}")
