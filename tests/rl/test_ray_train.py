"""train_policy and evaluate with backend ray (a local Ray instance, 2 CPUs): the local backend's outputs byte for
byte; the service actor killed mid-run is one clear error, and the rerun resumes from the last checkpoint."""

import json
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest
import torch

from pipeline.cache.encode import encode_frames
from pipeline.cluster import RayConfig
from pipeline.config import EvaluateConfig, TrainPolicyConfig
from pipeline.encoders import EncoderConfig
from pipeline.errors import PipelineError
from pipeline.rl.demo_data import vision_demos
from pipeline.rl.train import train_policy
from tests.encoders.conftest import make_frames

FP32 = EncoderConfig(weights="random", precision="fp32", device="cpu")
TINY = dict(iterations=2, episodes=3, horizon=15, workers=1, envs_per_worker=2, hidden=(16, 16), vf_hidden=(16, 16),
            bc_epochs=1)
OUTPUTS = ("policy.pt", "metrics.json", "curves.csv")


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo")
    frames = make_frames(tmp / "door.h5", size=64, n=2, horizon=10)
    encode_frames(frames, tmp / "resnet18.zarr", FP32, progress=False)
    return vision_demos(tmp / "resnet18.zarr", frames, proprio=True)


def _service_pids() -> list[int]:
    return [p.pid for p in psutil.process_iter(["cmdline"]) if "ray::EncoderServiceActor" in " ".join(p.info["cmdline"] or [])]


def _checkpoint_iteration(run) -> int:
    try:
        return int(torch.load(run / "checkpoint.pt", weights_only=True)["iteration"])
    except (FileNotFoundError, RuntimeError, EOFError):
        return -1


def test_training_on_ray_is_the_local_run_and_resumes_after_the_service_dies(ray_instance, demos, tmp_path):
    train_policy("door", TrainPolicyConfig(**TINY), demos, tmp_path / "local", FP32, progress=False)
    run = tmp_path / "ray"
    cfg = TrainPolicyConfig(**TINY, backend="ray")

    def kill_the_service_after_iteration_one() -> None:
        while _checkpoint_iteration(run) < 1:
            time.sleep(0.01)
        for pid in _service_pids():
            psutil.Process(pid).send_signal(signal.SIGKILL)

    killer = threading.Thread(target=kill_the_service_after_iteration_one)
    killer.start()
    with pytest.raises(PipelineError, match="the encoder service actor died; rerun to resume from the last checkpoint"):
        train_policy("door", cfg, demos, run, FP32, progress=False, ray_config=RayConfig())
    killer.join()
    assert _checkpoint_iteration(run) == 1 and not (run / "policy.pt").exists()  # nothing half-written
    train_policy("door", cfg, demos, run, FP32, progress=False, ray_config=RayConfig())  # resumes at iteration 2
    for name in OUTPUTS:
        assert (run / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name


def test_evaluate_cli_backend_ray_writes_the_local_backends_result(tmp_path):
    """Through the CLI, as a user runs it: a fresh process starts its own local Ray instance."""
    from tests.render.conftest import make_demo_file

    pytest.importorskip("ray")
    demos = tmp_path / "door.h5"
    make_demo_file(demos, task="door", n=2, horizon=6)
    params = tmp_path / "params.yaml"
    params.write_text("train_policy: {obs: state, iterations: 0, horizon: 8, workers: 0, hidden: [8, 8], "
                      "vf_hidden: [8, 8], bc_epochs: 1}\nevaluate: {episodes: 3, horizon: 10, workers: 2}\n")
    cli = [sys.executable, "-m", "pipeline.cli"]
    subprocess.run([*cli, "train-policy", "--params", params, "--demos", demos, "--mode", "bc", "--out", tmp_path / "run"],
                   check=True, capture_output=True)
    results = {}
    for backend in ("local", "ray"):
        out = tmp_path / f"{backend}.json"
        proc = subprocess.run([*cli, "evaluate", "--params", params, "--encoder", "state", "--backend", backend,
                               "--policy", tmp_path / "run" / "policy.pt", "--out", out], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        results[backend] = out.read_bytes()
    assert results["ray"] == results["local"] and json.loads(results["ray"])["episodes"] == 3
    assert EvaluateConfig().backend == "local"  # the default needs no Ray
