"""Records mjrl's own DAPG update, GAE and value-baseline features on a small problem, as numbers, for the golden
test `tests/rl/test_mjrl_golden.py`. Run once by hand; the test needs only the .npz it writes.

    git clone https://github.com/aravindr93/mjrl /tmp/mjrl && git -C /tmp/mjrl checkout 3871d93
    pip install scipy tqdm          # imported by mjrl's modules (the update itself uses numpy and torch)
    python scripts/mjrl_golden.py --mjrl /tmp/mjrl --out tests/rl/data/mjrl_dapg_golden.npz

Steps: a 5-d observation, 3-d action problem; mjrl's `MLP` policy (hidden (8, 8), torch seed 0, log-std set per
dimension, non-trivial input/output shift and scale); three on-policy paths of random numbers and two demo paths
of a fixed tanh-linear expert; mjrl's `MLPBaseline` (hidden (16, 16), torch seed 1) gives the value features and
predictions, `process_samples` the returns and GAE (gamma 0.995, lambda 0.97, every path terminated as mjrl's
hand-task paths are); then mjrl's `DAPG.train_from_paths` three times on those paths (normalized_step_size 0.05,
damping 1e-4, lam_0 0.01, lam_1 0.95: RRL's job configs), recording the flat parameters, alpha and KL after each
update.

CG runs 4 iterations, not RRL's 10: on a problem this small, 10 iterations reach the rounding floor of the
ill-conditioned Fisher matrix, where mjrl's own step moves by 0.7% between float32 and float64 arithmetic (and ours
by as much against it); at 4 the two implementations agree to about 1e-6, so a real difference shows.

mjrl's package __init__ imports its gym environments and its sampler imports gym: neither is used by these
functions, so the script imports mjrl's modules from the checkout without them (gym is not installable next to
this project's gymnasium stack).
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import torch

OBS_DIM, ACT_DIM, GAMMA, GAE_LAMBDA = 5, 3, 0.995, 0.97


def _import_mjrl(root: Path) -> dict[str, types.ModuleType]:
    package = types.ModuleType("mjrl")
    package.__path__ = [str(root / "mjrl")]  # the package without its __init__ (which imports mjrl.envs, gym)
    sys.modules["mjrl"] = package
    samplers = importlib.import_module("mjrl.samplers")
    samplers.core = sys.modules["mjrl.samplers.core"] = types.ModuleType("mjrl.samplers.core")  # rollouts need gym
    names = ("mjrl.algos.dapg", "mjrl.policies.gaussian_mlp", "mjrl.baselines.mlp_baseline",
             "mjrl.utils.process_samples")
    return {name.rsplit(".", 1)[1]: importlib.import_module(name) for name in names}


def _paths(rng: np.random.Generator, lengths: list[int], expert: np.ndarray | None = None) -> list[dict]:
    """Random paths; with `expert` (an OBS_DIM x ACT_DIM matrix) the actions are tanh(obs @ expert) plus a little
    noise, so that the demo term pulls the policy one way instead of averaging out."""
    paths = []
    for n in lengths:
        obs = rng.standard_normal((n, OBS_DIM)) * 3.0  # some beyond the baseline's clip at 10
        noise = rng.standard_normal((n, ACT_DIM))
        actions = np.tanh(obs @ expert) + 0.1 * noise if expert is not None else 0.5 * noise
        paths.append({"observations": obs, "actions": np.clip(actions, -1, 1),
                      "rewards": rng.standard_normal(n) + np.linspace(0, 2, n), "terminated": True})
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mjrl", type=Path, required=True, help="a checkout of aravindr93/mjrl")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--cg-iters", type=int, default=4, help="RRL: 10 (see the module docstring)")
    parser.add_argument("--damping", type=float, default=1e-4)
    args = parser.parse_args()
    commit = subprocess.run(["git", "-C", str(args.mjrl), "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    mj = _import_mjrl(args.mjrl.resolve())
    rng = np.random.default_rng(0)
    spec = types.SimpleNamespace(observation_dim=OBS_DIM, action_dim=ACT_DIM)

    policy = mj["gaussian_mlp"].MLP(spec, hidden_sizes=(8, 8), min_log_std=-3, init_log_std=0, seed=0)
    log_std = np.log(np.array([0.3, 0.5, 0.8], dtype=np.float32))
    params = policy.get_param_values()
    params[-ACT_DIM:] = log_std
    policy.set_param_values(params, set_new=True, set_old=True)
    in_shift, in_scale = rng.standard_normal(OBS_DIM) * 0.5, rng.uniform(0.5, 2.0, OBS_DIM)
    out_shift, out_scale = rng.standard_normal(ACT_DIM) * 0.1, rng.uniform(0.3, 1.0, ACT_DIM)
    for model in (policy.model, policy.old_model):
        model.set_transformations(in_shift, in_scale, out_shift, out_scale)
    params_0 = policy.get_param_values()

    expert = rng.standard_normal((OBS_DIM, ACT_DIM))
    paths, demos = _paths(rng, [200, 150, 250]), _paths(rng, [100, 100], expert)
    torch.manual_seed(1)
    baseline = mj["mlp_baseline"].MLPBaseline(spec, hidden_sizes=(16, 16))
    baseline_state = {f"baseline.{k}": v.numpy() for k, v in baseline.model.state_dict().items()}
    mj["process_samples"].compute_returns(paths, GAMMA)
    mj["process_samples"].compute_advantages(paths, baseline, GAMMA, GAE_LAMBDA)

    agent = mj["dapg"].DAPG(None, policy, baseline, demo_paths=demos, normalized_step_size=0.05,
                            FIM_invert_args={"iters": args.cg_iters, "damping": args.damping}, lam_0=0.01, lam_1=0.95,
                            save_logs=True)
    after, alphas, kls = [], [], []
    for _ in range(3):
        agent.train_from_paths(paths)
        after.append(policy.get_param_values())
        alphas.append(agent.logger.log["alpha"][-1])
        kls.append(agent.logger.log["kl_dist"][-1])

    cat = lambda key, ps: np.concatenate([p[key] for p in ps])  # noqa: E731
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out, mjrl_commit=np.array(commit), cg_iters=np.array(args.cg_iters), damping=np.array(args.damping),
        hidden=np.array([8, 8]), min_log_std=np.array(-3.0),
        params_0=params_0, params_after=np.stack(after), alpha=np.array(alphas), kl=np.array(kls),
        in_shift=in_shift, in_scale=in_scale, out_shift=out_shift, out_scale=out_scale,
        path_lengths=np.array([len(p["rewards"]) for p in paths]), obs=cat("observations", paths),
        actions=cat("actions", paths), rewards=cat("rewards", paths), returns=cat("returns", paths),
        baseline_features=baseline._features(paths), baseline_values=cat("baseline", paths),
        advantages=cat("advantages", paths), demo_obs=cat("observations", demos), demo_actions=cat("actions", demos),
        **baseline_state)
    print(f"{args.out}: mjrl {commit[:7]}, alpha {alphas}, kl {kls}")


if __name__ == "__main__":
    main()
