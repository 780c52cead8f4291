"""Shared fixtures. MuJoCo renders offscreen through EGL unless the caller chose otherwise."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])
# Ray's test instances and clusters stay on the loopback address: left to itself Ray addresses its processes by the
# network interface's address, and tests send no traffic off 127.0.0.0/8. Read when ray is imported; this name is
# Ray's switch between loopback and the interface (for macOS and Windows by default); besides, it only stops
# `ray start --address` joining another machine, which no test does.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

# ../shared/data/hand_dapg beside the checkout: reference data that tests may use but never require.
HAND_DAPG_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "hand_dapg"


@pytest.fixture
def hand_dapg_dir() -> Path:
    if not HAND_DAPG_DIR.exists():
        pytest.skip("../shared/data/hand_dapg is not present")
    return HAND_DAPG_DIR


@pytest.fixture(scope="session")
def ray_instance():
    """One local Ray instance with 2 CPUs (this machine's) for every Ray backend test; pipeline.cluster.connect
    reuses an instance already running in the process."""
    ray = pytest.importorskip("ray", reason="backend ray needs the extra: pip install -e '.[ray]'")
    _start_local_ray(ray)
    yield ray
    ray.shutdown()


def _start_local_ray(ray) -> None:
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)


def actor_nodes(ray, actors: list) -> list[str]:
    """The Ray node id each actor runs on (asked inside the actor)."""
    return ray.get([actor.__ray_call__.remote(lambda _: ray.get_runtime_context().get_node_id()) for actor in actors])


@pytest.fixture
def two_gpu_nodes():
    """A Ray cluster of two nodes on this machine (ray.cluster_utils.Cluster: a raylet and an object store each),
    6 and 2 CPUs with one GPU each (GPUs in name only: the encoder stays on the CPU), and a head with no CPUs, so
    every actor runs on a worker node. The session's local instance is stopped for it and started again after."""
    ray = pytest.importorskip("ray", reason="backend ray needs the extra: pip install -e '.[ray]'")
    from ray.cluster_utils import Cluster

    was_running = ray.is_initialized()
    ray.shutdown()
    store = 80 * 2**20  # Ray's least object store per node: three of them on one machine
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "object_store_memory": store})
    nodes = [cluster.add_node(num_cpus=cpus, num_gpus=1, object_store_memory=store) for cpus in (6, 2)]
    ray.init(address=cluster.address, log_to_driver=False)
    yield ray, [node.node_id for node in nodes]
    ray.shutdown()
    cluster.shutdown()
    if was_running:
        _start_local_ray(ray)
