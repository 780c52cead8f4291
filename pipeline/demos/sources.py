"""Make demonstrations from any source named in params (scripted, hand_dapg files, Minari) and store them."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from tqdm import tqdm

from pipeline.atomic import check_output
from pipeline.checksum import file_sha256
from pipeline.demos.config import MakeDemosConfig
from pipeline.demos.rollout import Policy, rollout
from pipeline.errors import PipelineError
from pipeline.formats.demos import write_demos
from pipeline.formats.episode import Episode
from pipeline.tasks import make_env


def collect(cfg: MakeDemosConfig, progress: bool = True) -> list[Episode]:
    """The episodes a config asks for, validated against the task's shapes."""
    if cfg.source in ("scripted", "hand_dapg_expert"):
        env = make_env(cfg.task, cfg.reward_mode)
        policy = _policy(cfg, env)
        seeds = range(cfg.seed, cfg.seed + cfg.episodes)
        bar = tqdm(seeds, desc=f"{cfg.source} {cfg.task}", unit="ep", disable=not progress)
        episodes = []
        for seed in bar:
            episodes.append(rollout(env, policy, seed=seed))
            bar.set_postfix(success=f"{sum(e.success for e in episodes)}/{len(episodes)}")
        env.close()
    elif cfg.source == "hand_dapg_human":
        from pipeline.demos.hand_dapg import load_human_demos

        episodes = load_human_demos(cfg.path, cfg.task, cfg.reward_mode, cfg.human_states)[: cfg.episodes]
    elif cfg.source == "minari":
        from pipeline.demos.minari import load_minari

        episodes = load_minari(cfg.path, cfg.task, cfg.reward_mode)[: cfg.episodes]
    else:  # MakeDemosConfig already refuses unknown sources
        raise PipelineError(f"unknown demo source {cfg.source!r}")
    return episodes


def _policy(cfg: MakeDemosConfig, env) -> Policy:
    if cfg.source == "scripted":
        from pipeline.demos.experts import make_expert

        return make_expert(cfg.task, env.model)
    from pipeline.demos.hand_dapg import load_expert_policy

    return load_expert_policy(cfg.path, cfg.task)


def make_demos(cfg: MakeDemosConfig, out: str | Path, progress: bool = True) -> dict[str, float]:
    """Collect and write the demo file; returns the figures a closing note or a log wants."""
    check_output(out, "file", [cfg.path or None])
    start = time.perf_counter()
    episodes = collect(cfg, progress=progress)
    seconds = time.perf_counter() - start
    attrs = {f"config.{k}": v for k, v in dataclasses.asdict(cfg).items() if k != "path"}
    if cfg.path:
        # provenance without absolute paths: the file name and its content hash
        attrs["source_file"] = Path(cfg.path).name
        attrs["source_sha256"] = _sha256(Path(cfg.path))
    write_demos(out, cfg.task, cfg.source, episodes, cfg.reward_mode, attrs)
    steps = sum(e.length for e in episodes)
    return {
        "episodes": len(episodes),
        "success_rate": sum(e.success for e in episodes) / len(episodes),
        "steps": steps,
        "steps_per_s": steps / seconds if seconds > 0 else float("inf"),
    }


def _sha256(path: Path) -> str:
    if path.is_dir():  # a Minari dataset: its data file carries the content
        path = path / "data" / "main_data.hdf5"
    if not path.exists():
        raise PipelineError(f"{path}: no such file")
    return file_sha256(path)
