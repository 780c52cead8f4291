"""evaluate: K deterministic episodes through the encoder service, plain and under each visual distractor
(RRL Figure 4's robustness panel). Each frame is encoded exactly once (the observation of its step). Seconds by
part go to `<out>.timings.json` beside the result (pipeline/timings.py), which is byte-identical across reruns."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from pipeline.atomic import check_output, write_json
from pipeline.cluster import RayConfig
from pipeline.encoders.encoder import EncoderConfig
from pipeline.errors import PipelineError
from pipeline.formats.frames import LEGACY_SCENE
from pipeline.render.distractors import sample_distractor
from pipeline.rl.policy import GaussianMLPPolicy
from pipeline.rollout.backends import make_sampler
from pipeline.rollout.config import EvaluateConfig
from pipeline.rollout.encoder_check import check_encoder_matches
from pipeline.rollout.sampler import ObsConfig, time_by_part
from pipeline.rollout.seeds import evaluation_seeds
from pipeline.stats import wilson_interval
from pipeline.timings import write_timings


def evaluate_policy(policy_path: str | Path, cfg: EvaluateConfig, out: str | Path, reward_mode: str = "rrl",
                    encoder_config: EncoderConfig | None = None, image_size: int | None = None,
                    quality: str | None = None, scene: str | None = None,
                    success_rule: str = "rrl", progress: bool = True,
                    ray_config: RayConfig | None = None) -> dict[str, Any]:
    check_output(out, "file", [policy_path])
    policy = GaussianMLPPolicy.load(policy_path)
    layout = policy.obs_layout
    task = layout["task"]
    vision = layout["obs"] == "vision"
    image_size, quality, scene = _rendering(layout, image_size, quality, scene, policy_path)
    obs_cfg = ObsConfig(mode=layout["obs"], proprio=layout.get("proprio", True), image_size=image_size, quality=quality,
                        scene=scene, cameras=tuple(layout.get("cameras", ())))
    seeds = evaluation_seeds(cfg.seed, cfg.episodes)
    conditions = ["plain"] + (list(cfg.distractors) if vision else [])
    results: dict[str, dict[str, Any]] = {}
    timings: dict[str, dict[str, float]] = {}
    bar = tqdm(total=len(seeds) * len(conditions), desc=f"evaluate {task}", unit="ep", disable=not progress)
    with make_sampler(cfg.backend, task, obs_cfg, cfg.workers, reward_mode, cfg.horizon or None, encoder_config,
                      success_rule, cfg.envs_per_worker, cfg.double_buffer, ray_config) as sampler, bar:
        if vision:
            check_encoder_matches(sampler.feature_key, layout["encoder"], str(policy_path), "policy")
        for condition in conditions:
            distractors = None if condition == "plain" else [sample_distractor(condition, task, s) for s in seeds]
            start = time.perf_counter()
            episodes = []
            chunk = max(1, cfg.workers) * cfg.envs_per_worker  # one episode per env at a time, so the bar moves
            for i in range(0, len(seeds), chunk):
                episodes += sampler.sample(policy, seeds[i:i + chunk], deterministic=True,
                                           distractors=distractors[i:i + chunk] if distractors else None)
                bar.update(len(seeds[i:i + chunk]))
            bar.set_postfix({condition: f"{np.mean([ep.success for ep in episodes]):.2f}"})
            steps = sum(len(ep.actions) for ep in episodes)
            successes = int(sum(bool(ep.success) for ep in episodes))
            results[condition] = {
                "success_rate": successes / len(episodes), "successes": successes,
                "success_interval": list(wilson_interval(successes, len(episodes))),  # 95% Wilson
                "return_mean": float(np.mean([ep.rewards.sum() for ep in episodes])),
                "episodes": len(episodes), "steps": steps,
                "frames_encoded": steps * len(sampler.obs.cameras or sampler.spec.camera_names) if vision else 0,
            }
            timings[condition] = {"seconds": time.perf_counter() - start, **time_by_part(episodes)}
    metrics = {"task": task, "obs": layout["obs"], "encoder": layout.get("encoder", {}).get("model", "state"),
               "reward_mode": reward_mode, "success_rule": success_rule,
               "success_rate": results["plain"]["success_rate"], "episodes": cfg.episodes,
               "success_interval": results["plain"]["success_interval"], "return_mean": results["plain"]["return_mean"],
               "conditions": results}
    write_json(out, metrics)
    write_timings(out, {"conditions": timings})
    return metrics


def _rendering(layout: dict, image_size: int | None, quality: str | None, scene: str | None,
               policy_path) -> tuple[int, str, str]:
    """The size, quality and scene the policy's demo features were rendered at (its layout records them); a caller's
    own (render_demos.size, quality, scene) must agree. None: the layout's; a policy that records no size: 256 px,
    fast; one that records no scene: Gymnasium's (every policy from before scenes were recorded)."""
    if layout.get("obs") != "vision":
        return image_size or 256, quality or "fast", scene or "rrl"
    trained = (layout.get("image_size"), layout.get("render_quality"), layout.get("render_scene", LEGACY_SCENE))
    asked = (image_size, quality, scene)
    if trained[0] is not None and any(a is not None and a != t for a, t in zip(asked, trained)):
        raise PipelineError(f"{policy_path}: trained on frames rendered at {trained[0]} px, quality {trained[1]}, "
                            f"scene {trained[2]}; evaluation asks for {image_size} px, quality {quality}, scene {scene} "
                            f"(render_demos.size, quality and scene)")
    return (image_size or trained[0] or 256), (quality or trained[1] or "fast"), (scene or trained[2])
