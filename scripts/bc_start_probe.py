"""How far does a BC start get on door from `reset`, and how much of it survives exploration noise?

The probe behind docs/validation.md, "Why the BC start never opened the door": BC exactly as train_policy does it (transforms
and log-std from the demo actions, 5 epochs), then episodes from reset(seed) with the mean action plus the
policy's own noise scaled by each x, counting episodes whose door hinge passes 0.2 rad (where RRL's reward starts
to pay). Usage (after `rrl-pipe make-demos ... --human-states replay|recorded --out D.h5`):

    python scripts/bc_start_probe.py D.h5 --noise 0 0.25 0.5 1 --episodes 40
    python scripts/bc_start_probe.py --policy RUN/policy.pt --noise 0 0.25 0.5 1    # a trained policy instead

With `--human-pickle door-v0_demos.pickle` it plays the human demos' own recorded actions open loop from their
initial states instead, with the same noise (std: that of the demo actions) added: how much noise the demos
themselves survive in this simulator.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from pipeline.dapg.config import TrainPolicyConfig
from pipeline.dapg.demo_data import state_demos
from pipeline.dapg.train import _initialise_from_demos
from pipeline.demos.reconstruct import env_state_from_source
from pipeline.demos.safe_pickle import safe_load
from pipeline.rl.policy import GaussianMLPPolicy
from pipeline.tasks import make_env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demos", nargs="?", default="", help="door demo HDF5 (obs: state); not with --human-pickle")
    parser.add_argument("--noise", type=float, nargs="+", default=[0.0, 1.0], help="noise scales x")
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--seed", type=int, default=20_000, help="episode i resets with seed + i")
    parser.add_argument("--human-pickle", default="", help="play this hand_dapg pickle's actions open loop instead")
    parser.add_argument("--bc-seed", type=int, default=0, help="train_policy.seed of the BC start (init, batches)")
    parser.add_argument("--hidden", type=int, nargs="+", default=None, help="policy MLP (default: train_policy's)")
    parser.add_argument("--bc-epochs", type=int, default=None, help="BC epochs (default: train_policy's)")
    parser.add_argument("--policy", default="", help="probe this trained policy.pt (obs: state) instead of a BC start")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.human_pickle:
        open_loop_demos(args.human_pickle, args.noise)
        return
    if args.policy:
        policy = GaussianMLPPolicy.load(args.policy)
    else:
        demos = state_demos(args.demos)
        overrides = {k: v for k, v in (("hidden", tuple(args.hidden or ())), ("bc_epochs", args.bc_epochs)) if v}
        cfg = TrainPolicyConfig(obs="state", mode="bc", seed=args.bc_seed, **overrides)
        policy = GaussianMLPPolicy(demos.observations.shape[1], demos.actions.shape[1], cfg.hidden, cfg.init_log_std,
                                   cfg.min_log_std, seed=cfg.seed)
        _initialise_from_demos(policy, cfg, demos)
    std = np.exp(policy.log_std.detach().numpy())
    env = make_env("door", "rrl")
    for scale in args.noise:
        rng = np.random.default_rng(0)
        hinge_max, successes = [], 0
        for i in range(args.episodes):
            obs, top, goals = env.reset(seed=args.seed + i), 0.0, []
            for _ in range(env.horizon):
                action = policy.mean_action(obs[None].astype(np.float32))[0] + scale * std * rng.standard_normal(std.shape)
                obs, _, _, _, info = env.step(np.clip(action, -1.0, 1.0))
                top, goals = max(top, float(env.data.joint("door_hinge").qpos[0])), goals + [info["goal_achieved"]]
            hinge_max.append(top)
            successes += env.spec.is_success(np.asarray(goals))
        hinge_max = np.asarray(hinge_max)
        print(f"noise x{scale}: hinge past 0.2 rad in {int((hinge_max > 0.2).sum())}/{args.episodes} episodes, "
              f"max {hinge_max.max():.2f} rad; success (RRL's rule) {successes}/{args.episodes}")


def open_loop_demos(pickle_path: str, noise: list[float]) -> None:
    demos = safe_load(pickle_path)
    std = np.concatenate([np.clip(d["actions"], -1, 1) for d in demos]).std(axis=0)
    env = make_env("door", "rrl")
    for scale in noise:
        rng = np.random.default_rng(0)
        hinge_max = []
        for demo in demos:
            init = demo["init_state_dict"]
            params = env_state_from_source("door", init, np.asarray(init["qpos"], float))
            env.horizon = len(demo["actions"])
            env.reset(seed=0, state={"qpos": np.asarray(init["qpos"], float), "qvel": np.asarray(init["qvel"], float),
                                     **params})
            top = 0.0
            for action in demo["actions"]:
                env.step(np.clip(action + scale * std * rng.standard_normal(std.shape), -1.0, 1.0))
                top = max(top, float(env.data.joint("door_hinge").qpos[0]))
            hinge_max.append(top)
        hinge_max = np.asarray(hinge_max)
        print(f"human demos open loop, noise x{scale}: hinge past 0.2 rad in {int((hinge_max > 0.2).sum())}/{len(demos)}, "
              f"past 1.0 in {int((hinge_max > 1.0).sum())}/{len(demos)}")


if __name__ == "__main__":
    main()
