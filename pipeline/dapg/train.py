"""train_policy: BC on the demonstrations, then NPG/DAPG iterations through the sampler, checkpointed each
iteration. A rerun with the same configuration resumes after the last finished iteration; the outputs are
metrics.json, curves.csv (one row per iteration, for `dvc plots`) and policy.pt, byte-identical across reruns on
the same machine; seconds by part go to timings.json beside them (pipeline/timings.py).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from pipeline.atomic import check_output, sole_writer, write_json
from pipeline.cluster import RayConfig
from pipeline.dapg.config import TrainPolicyConfig
from pipeline.dapg.demo_data import DemoData
from pipeline.encoders.encoder import EncoderConfig
from pipeline.encoders.vml import warm_vml
from pipeline.errors import PipelineError
from pipeline.formats.frames import LEGACY_SCENE
from pipeline.formats.runs import METRICS, write_curves
from pipeline.rl.baseline import MLPBaseline
from pipeline.rl.bc import behaviour_clone
from pipeline.rl.gae import compute_advantages, compute_returns
from pipeline.rl.npg import dapg_demo_weight, npg_step
from pipeline.rl.policy import GaussianMLPPolicy
from pipeline.rl.torch_cpu import flush_denormals
from pipeline.rollout.backends import make_sampler
from pipeline.rollout.encoder_check import KEY_FIELDS, check_encoder_matches
from pipeline.rollout.sampler import ObsConfig, Sampler, time_by_part
from pipeline.rollout.seeds import training_eval_seeds, training_seeds
from pipeline.stats import rate_interval
from pipeline.tasks import get_task
from pipeline.timings import write_timings
from pipeline.training.checkpoints import Checkpoint, config_key

TIMING_FIELDS = ("sampling_s", "render_s", "encode_s", "physics_s", "policy_s", "npg_s", "vf_s", "eval_s")
CHECKPOINT_FORMAT = "rrl-pipe/policy-checkpoint"
LEARNER_PARTS = ("rl", "rollout", "dapg", "tasks")  # the code a checkpoint is resumed with only if unchanged


def obs_layout(cfg: TrainPolicyConfig, task: str, demos: DemoData) -> dict[str, Any]:
    """What the policy's input means; a checkpoint is refused when fed anything else."""
    if cfg.obs == "state":
        return {"task": task, "obs": "state"}
    p = demos.provenance
    if not p.get("render_quality") or not p.get("input_size"):
        raise PipelineError(f"{demos.source}: records no render quality or image size (a store of an older release): "
                            f"encode its frames again")
    # rollouts render as the demos were rendered: the features of both come from the same images' statistics
    return {"task": task, "obs": "vision", "encoder": {k: p[k] for k in KEY_FIELDS}, "cameras": list(p["cameras"]),
            "proprio": cfg.proprio, "image_size": int(p["input_size"][0]), "render_quality": p["render_quality"],
            "render_scene": p.get("render_scene", LEGACY_SCENE)}


def _paths(episodes) -> list[dict]:
    return [{"observations": ep.observations, "actions": ep.actions, "rewards": ep.rewards} for ep in episodes]


def _resume_key(cfg: TrainPolicyConfig, layout: dict) -> dict[str, Any]:
    """What a checkpoint must share with this run to be continued. Workers, envs per worker, double buffering and
    the backend change speed, not results; more iterations extend the same run (resume), they do not start another;
    evaluation episodes are only watched, they change nothing the learner sees; stopping early only ends it sooner."""
    ignored = ("workers", "envs_per_worker", "double_buffer", "backend", "encoders", "iterations", "eval_episodes",
               "stop_at_eval_success")
    return config_key(cfg, ignored, layout=layout)


def train_policy(task: str, cfg: TrainPolicyConfig, demos: DemoData, out: str | Path,
                 encoder_config: EncoderConfig | None = None, progress: bool = True,
                 ray_config: RayConfig | None = None) -> dict[str, Any]:
    out = Path(out)
    check_output(out, "dir", [demos.source or None])
    warm_vml()  # the networks' tanh over 40,000 samples is split across threads: no first call may race (vml.py)
    with sole_writer(out):  # a second run into the same folder is refused, not interleaved with this one
        return _train_policy(task, cfg, demos, out, encoder_config, progress, ray_config)


def _train_policy(task: str, cfg: TrainPolicyConfig, demos: DemoData, out: Path, encoder_config: EncoderConfig | None,
                  progress: bool, ray_config: RayConfig | None) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    spec = get_task(task)
    layout = obs_layout(cfg, task, demos)
    checkpoint = Checkpoint(out / "checkpoint.pt", CHECKPOINT_FORMAT, _resume_key(cfg, layout), LEARNER_PARTS)
    iterations = 0 if cfg.mode == "bc" else cfg.iterations

    policy = GaussianMLPPolicy(demos.observations.shape[1], spec.action_dim, cfg.hidden, cfg.init_log_std,
                               cfg.min_log_std, seed=cfg.seed, obs_layout=layout)
    baseline = MLPBaseline(demos.observations.shape[1], cfg.vf_hidden, lr=cfg.vf_lr, batch_size=cfg.vf_batch,
                           epochs=cfg.vf_epochs, weight_decay=cfg.vf_weight_decay, seed=cfg.seed)
    resumed = checkpoint.load(iterations)
    if resumed is not None:
        policy.load_state_dict(resumed.state["policy"])
        baseline.load_state_dict(resumed.state["baseline"])
        start_iter, rows, seconds = resumed.step, resumed.curve, json.loads(resumed.state["seconds"])
    else:
        start_iter, rows, seconds = 0, [], _initialise_from_demos(policy, cfg, demos)
        _save(checkpoint, 0, policy, baseline, rows, seconds)

    if start_iter < iterations:
        obs_cfg = ObsConfig(mode=cfg.obs, proprio=cfg.proprio, proprio_noise=cfg.proprio_noise,
                            cameras=tuple(layout.get("cameras", ())), image_size=layout.get("image_size", 256),
                            quality=layout.get("render_quality", "fast"), scene=layout.get("render_scene", "rrl"))
        with make_sampler(cfg.backend, task, obs_cfg, cfg.workers, cfg.reward_mode, cfg.horizon or None,
                          encoder_config, cfg.success_rule, cfg.envs_per_worker, cfg.double_buffer,
                          ray_config) as sampler:
            if cfg.obs == "vision":
                check_encoder_matches(sampler.feature_key, demos.provenance, demos.source)
            bar = tqdm(range(start_iter, iterations), desc=f"{cfg.mode} {task}", unit="iter", disable=not progress,
                       initial=start_iter, total=iterations)
            for k in bar:
                if _reached_target(rows, cfg):
                    bar.write(f"mean-action success {rows[-1]['eval_success_rate']:.2f} reached "
                              f"train_policy.stop_at_eval_success {cfg.stop_at_eval_success}: stopping at "
                              f"iteration {len(rows)} of {iterations}")
                    break
                rows.append(_iteration(k, cfg, sampler, policy, baseline, demos))
                bar.set_postfix(success=f"{rows[-1]['success_rate']:.2f}", ret=f"{rows[-1]['return_mean']:.1f}")
                if progress:
                    bar.write(_iteration_line(rows[-1], iterations))
                _save(checkpoint, k + 1, policy, baseline, rows, seconds)
    return _write_outputs(out, task, cfg, layout, demos, policy, rows, seconds)


def _initialise_from_demos(policy: GaussianMLPPolicy, cfg: TrainPolicyConfig, demos: DemoData) -> dict[str, float]:
    """mjrl's job script before RL. dapg and bc: input/output transforms and exploration std from the demos, then
    BC (MSE on the mean action, 5 epochs, batch 32, lr 1e-3). (DAPG's and RRL's job scripts build BC with
    set_transforms=False but then call compute_transformations and set_transformations themselves: the transforms
    are set.) npg learns nothing from demos: no BC, identity output
    transform, log_std at init_log_std; it still takes the demo observations' mean and std for the input transform
    (mjrl's NPG has none; cached features span very different scales, so we keep it: a deliberate difference)."""
    if cfg.mode == "npg":
        policy.set_normalisation(demos.observations, None)
        return {"bc_s": 0.0}
    policy.set_normalisation(demos.observations, demos.actions)
    policy.set_log_std_from_actions(demos.actions, cfg.init_std_scale)
    t0 = time.perf_counter()
    with flush_denormals():
        losses = behaviour_clone(policy, demos.observations, demos.actions, cfg.bc_epochs, cfg.bc_batch, cfg.bc_lr,
                                 cfg.seed)
    return {"bc_s": time.perf_counter() - t0, "bc_final_loss": float(losses[-1]) if losses else float("nan")}


def _iteration(k: int, cfg: TrainPolicyConfig, sampler: Sampler, policy: GaussianMLPPolicy, baseline: MLPBaseline,
               demos: DemoData) -> dict[str, float]:
    seeds = training_seeds(cfg.seed, k, cfg.episodes)
    t0 = time.perf_counter()
    episodes = sampler.sample(policy, seeds)
    sampling_s = time.perf_counter() - t0
    paths = _paths(episodes)
    with flush_denormals():  # see torch_cpu: Adam's denormals made the value fit 5x slower
        # returns, then GAE advantages with the current value function (mjrl: process_samples)
        compute_returns(paths, cfg.gamma)
        compute_advantages(paths, baseline, cfg.gamma, cfg.gae_lambda)
        obs = np.concatenate([p["observations"] for p in paths])
        actions = np.concatenate([p["actions"] for p in paths])
        advantages = np.concatenate([p["advantages"] for p in paths])
        t1 = time.perf_counter()
        demo = (demos.observations, demos.actions) if cfg.mode == "dapg" else None
        weight = dapg_demo_weight(cfg.lam_0, cfg.lam_1, k) if demo is not None else 0.0
        stats = npg_step(policy, obs, actions, advantages, cfg.delta, cfg.cg_iters, cfg.damping, demo, weight)
        t2 = time.perf_counter()
        baseline.fit(paths)  # after the policy update, as mjrl
        t3 = time.perf_counter()
    # mjrl's evaluation_rollouts: the updated policy's mean action on fixed seeds (what `evaluate` also measures)
    evaluated = sampler.sample(policy, training_eval_seeds(cfg.eval_episodes), deterministic=True)
    t4 = time.perf_counter()
    returns = [float(ep.rewards.sum()) for ep in episodes]
    return {"iteration": k + 1, **_rates(episodes, ""), **_rates(evaluated, "eval_"), "return_max": max(returns),
            "return_min": min(returns), "samples": int(len(obs)),
            "sampling_s": sampling_s, **time_by_part(episodes), "npg_s": t2 - t1, "vf_s": t3 - t2, "eval_s": t4 - t3,
            "kl": float(stats.get("kl", float("nan"))), "alpha": float(stats.get("alpha", float("nan"))),
            "demo_weight": weight}


def _reached_target(rows: list[dict], cfg: TrainPolicyConfig) -> bool:
    """True once the last iteration's mean-action success reached train_policy.stop_at_eval_success (if set)."""
    return bool(cfg.stop_at_eval_success and rows and rows[-1]["eval_success_rate"] >= cfg.stop_at_eval_success)


def _rates(episodes: list, prefix: str) -> dict[str, float]:
    """Success rate (the task's success rule) and mean return of some episodes; NaN for none (no evaluation asked for)."""
    if not episodes:
        return {f"{prefix}success_rate": float("nan"), f"{prefix}return_mean": float("nan")}
    return {f"{prefix}success_rate": float(np.mean([ep.success for ep in episodes])),
            f"{prefix}return_mean": float(np.mean([float(ep.rewards.sum()) for ep in episodes]))}


def _save(checkpoint: Checkpoint, iteration: int, policy: GaussianMLPPolicy, baseline: MLPBaseline, rows: list[dict],
          seconds: dict) -> None:
    checkpoint.save(iteration, {"policy": policy.state_dict(), "baseline": baseline.state_dict(),
                                "seconds": json.dumps(seconds)}, rows)


def _write_outputs(out: Path, task: str, cfg: TrainPolicyConfig, layout: dict, demos: DemoData,
                   policy: GaussianMLPPolicy, rows: list[dict], seconds: dict) -> dict[str, Any]:
    policy.save(out / "policy.pt")
    write_curves(out, rows)
    totals = {part: float(sum(r[part] for r in rows)) for part in TIMING_FIELDS}
    write_timings(out, {"seconds": {**{k: float(v) for k, v in seconds.items() if k.endswith("_s")}, **totals},
                        "per_iteration": [{k: r[k] for k in ("iteration", *TIMING_FIELDS)} for r in rows]})
    p = demos.provenance
    metrics = {
        "task": task, "mode": cfg.mode, "obs": cfg.obs, "iterations": len(rows),
        "encoder": p.get("model", "state") if cfg.obs == "vision" else "state",
        "weights_source": p.get("weights_source", "none"), "weights_sha256": p.get("weights_sha256", ""),
        "layer": p.get("layer", ""), "precision": p.get("precision", ""),
        "render_quality": p.get("render_quality", ""), "image_size": (p.get("input_size") or [0])[0],
        "render_scene": p.get("render_scene", LEGACY_SCENE) if cfg.obs == "vision" else "",
        "demos": demos.n_demos, "demo_samples": int(len(demos.observations)),
        # null where nothing was measured (mode bc has no iterations; eval_episodes 0 evaluates nothing)
        "success_rate": rows[-1]["success_rate"] if rows else None,
        "return_mean": rows[-1]["return_mean"] if rows else None,
        "best_success_rate": max((r["success_rate"] for r in rows), default=None),
        "eval_success_rate": rows[-1].get("eval_success_rate") if rows and cfg.eval_episodes else None,
        "eval_success_interval": (list(rate_interval(rows[-1]["eval_success_rate"], cfg.eval_episodes))
                                  if rows and cfg.eval_episodes else None),  # 95% Wilson
        "eval_episodes": cfg.eval_episodes, "episodes_per_iteration": cfg.episodes,
        "stopped_at_eval_success": cfg.stop_at_eval_success if _reached_target(rows, cfg) else None,
        "samples": int(sum(r["samples"] for r in rows)),
        "bc_final_loss": _finite_or_none(seconds.get("bc_final_loss")), "reward_mode": cfg.reward_mode,
        "success_rule": cfg.success_rule, "seed": cfg.seed,
    }
    write_json(out / METRICS, metrics)  # strict JSON
    return metrics


def _finite_or_none(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _iteration_line(row: dict[str, float], iterations: int) -> str:
    """One line per iteration, so a long run is never silent (the tqdm bar alone is overwritten)."""
    evaluated = "" if row["eval_success_rate"] != row["eval_success_rate"] else f", {row['eval_success_rate']:.2f} mean action"
    return (f"iter {row['iteration']}/{iterations}: success {row['success_rate']:.2f} sampled{evaluated}, "
            f"return {row['return_mean']:.1f}; seconds: sampling {row['sampling_s']:.1f}, npg {row['npg_s']:.1f}, "
            f"vf {row['vf_s']:.1f}, eval {row['eval_s']:.1f}")
