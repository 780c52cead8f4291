"""train_policy and evaluate with backend ray (a local Ray instance, 2 CPUs): the local backend's outputs byte for
byte; the service actor killed mid-run is one clear error, and the rerun resumes from the last checkpoint; a running
cluster (`ray start --head`) joined by its address, with its auth token."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import torch

from pipeline.cache.encode import encode_frames
from pipeline.cluster import RayConfig
from pipeline.config import EvaluateConfig, TrainPolicyConfig
from pipeline.dapg.demo_data import vision_demos
from pipeline.dapg.train import train_policy
from pipeline.encoders import EncoderConfig
from pipeline.errors import PipelineError
from tests.encoders.conftest import make_frames

pytestmark = pytest.mark.ray

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
        return int(torch.load(run / "checkpoint.pt", weights_only=True)["step"])
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


CLI = [sys.executable, "-m", "pipeline.cli"]


@pytest.fixture(scope="module")
def state_policy(tmp_path_factory):
    """A BC policy on state observations and a params file whose evaluate section runs 2 workers."""
    from tests.render.conftest import make_demo_file

    tmp = tmp_path_factory.mktemp("state")
    demos = tmp / "door.h5"
    make_demo_file(demos, task="door", n=2, horizon=6)
    params = tmp / "params.yaml"
    params.write_text("train_policy: {obs: state, iterations: 0, horizon: 8, workers: 0, hidden: [8, 8], "
                      "vf_hidden: [8, 8], bc_epochs: 1}\nevaluate: {episodes: 3, horizon: 10, workers: 2}\n")
    subprocess.run([*CLI, "train-policy", "--params", params, "--demos", demos, "--mode", "bc", "--out", tmp / "run"],
                   check=True, capture_output=True)
    return params, tmp / "run" / "policy.pt"


def _evaluate(state_policy, out, *options: str, env: dict | None = None) -> subprocess.CompletedProcess:
    params, policy = state_policy
    return subprocess.run([*CLI, "evaluate", "--params", params, "--encoder", "state", "--policy", policy, "--out", out,
                           *options], capture_output=True, text=True, env=env)


@pytest.fixture(scope="module")
def local_result(state_policy, tmp_path_factory) -> bytes:
    """The evaluation JSON the local backend writes for state_policy: what every Ray run must write too."""
    out = tmp_path_factory.mktemp("local") / "local.json"
    proc = _evaluate(state_policy, out, "--backend", "local")
    assert proc.returncode == 0, proc.stderr
    return out.read_bytes()


def test_evaluate_cli_backend_ray_writes_the_local_backends_result(state_policy, local_result, tmp_path):
    """Through the CLI, as a user runs it: a fresh process starts its own local Ray instance."""
    pytest.importorskip("ray")
    proc = _evaluate(state_policy, tmp_path / "ray.json", "--backend", "ray")
    assert proc.returncode == 0, proc.stderr
    result = (tmp_path / "ray.json").read_bytes()
    assert result == local_result and json.loads(result)["episodes"] == 3
    assert EvaluateConfig().backend == "local"  # the default needs no Ray


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_address_where_nothing_answers_is_one_line_at_once(state_policy, tmp_path):
    """Ray alone retries such an address for minutes; the stage says so in one line, in seconds."""
    pytest.importorskip("ray")
    address = f"127.0.0.1:{_free_port()}"
    began = time.monotonic()
    proc = _evaluate(state_policy, tmp_path / "out.json", "--backend", "ray", "--ray-address", address)
    assert proc.returncode != 0 and not (tmp_path / "out.json").exists()
    assert f"ray: nothing answers at {address} (Connection refused): is its head node running" in proc.stderr
    assert time.monotonic() - began < 60  # the process's start and imports; Ray's own retries took over 200 s
    proc = _evaluate(state_policy, tmp_path / "out.json", "--backend", "ray", "--ray-address", "head-node")
    assert "ray.address 'head-node': expected auto, host:port or ray://host:port" in proc.stderr


@pytest.fixture
def ray_head():
    """A running cluster as a user makes one: `ray start --head` in its own process (on loopback, tests/conftest.py),
    stopped with SIGTERM, as `ray start --block` expects, which stops the processes it started."""
    pytest.importorskip("ray")
    port = _free_port()
    ray_cli = Path(sys.executable).parent / "ray"
    head = subprocess.Popen([ray_cli, "start", "--head", "--block", f"--port={port}", "--num-cpus=2",
                             "--include-dashboard=false", "--disable-usage-stats"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while subprocess.run([ray_cli, "status", f"--address={address}"], capture_output=True,
                             env={**os.environ, "RAY_AUTH_MODE": "token"}).returncode != 0:
            assert head.poll() is None and time.monotonic() < deadline, "ray start --head did not come up"
            time.sleep(1)
        yield address
    finally:
        head.send_signal(signal.SIGTERM)
        head.wait(timeout=120)


def test_evaluate_joins_a_running_cluster_and_asks_for_its_token_in_one_line(state_policy, local_result, ray_head,
                                                                             tmp_path):
    """--ray-address host:port joins a cluster that `ray start` made, which wants its auth token: without
    RAY_AUTH_MODE=token one line says so; with it, the result is the local backend's."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}
    refused = _evaluate(state_policy, tmp_path / "refused.json", "--backend", "ray", "--ray-address", ray_head, env=env)
    assert refused.returncode != 0 and not (tmp_path / "refused.json").exists()
    assert f"ray: {ray_head} wants the cluster's auth token: set RAY_AUTH_MODE=token" in refused.stderr
    joined = _evaluate(state_policy, tmp_path / "joined.json", "--backend", "ray", "--ray-address", ray_head,
                       env={**env, "RAY_AUTH_MODE": "token"})
    assert joined.returncode == 0, joined.stderr
    assert (tmp_path / "joined.json").read_bytes() == local_result
