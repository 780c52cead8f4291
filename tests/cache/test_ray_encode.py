"""The encode stage on a pool of Ray actors (a local instance, 2 CPUs): the same store, byte for byte, as the local
backend on CPU fp32, also when an actor is killed mid-store."""

import signal
import threading
import time
from pathlib import Path

import psutil
import pytest

from pipeline.cache.encode import encode_frames
from pipeline.cluster import RayConfig
from pipeline.encoders import EncoderConfig
from pipeline.errors import PipelineError
from pipeline.formats.features import partial_path
from tests.conftest import actor_nodes
from tests.encoders.conftest import make_frames

pytestmark = pytest.mark.ray

FP32 = EncoderConfig(model="resnet18", weights="random", precision="fp32", device="cpu")
TWO_ACTORS = RayConfig(encode_actors=2)


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    return make_frames(tmp_path_factory.mktemp("frames") / "door.h5", size=96, n=3, horizon=30)


@pytest.fixture(scope="module")
def local_store(tmp_path_factory, frames):
    out = tmp_path_factory.mktemp("local") / "resnet18.zarr"
    encode_frames(frames, out, FP32, batch_size=8, progress=False, shard_rows=32)
    return out


def _files(store: Path) -> dict[str, bytes]:
    return {str(p.relative_to(store)): p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file()}


def test_the_ray_store_is_byte_identical_to_the_local_one(ray_instance, frames, local_store, tmp_path):
    figures = encode_frames(frames, tmp_path / "ray.zarr", FP32, batch_size=8, progress=False, shard_rows=32,
                            backend="ray", ray_config=TWO_ACTORS)
    assert figures["images"] == figures["rows"] == 93
    ours, reference = _files(tmp_path / "ray.zarr"), _files(local_store)
    assert list(ours) == list(reference) and len(reference) >= 5  # metadata and every shard
    assert ours == reference


def _encode_actor_pids() -> list[int]:
    return [p.pid for p in psutil.process_iter(["name", "cmdline"]) if "ray::EncodeActor" in " ".join(p.info["cmdline"] or [])]


def test_an_encode_actor_killed_mid_store_changes_nothing(ray_instance, frames, local_store, tmp_path):
    out = tmp_path / "ray.zarr"
    killed = threading.Event()

    def kill_one_actor_mid_store() -> None:  # once the first shard is written and more are to come
        while not (partial_path(out) / "features" / "c" / "0").exists() and not out.exists():
            time.sleep(0.01)
        pids = _encode_actor_pids()
        if pids and not out.exists():
            psutil.Process(pids[0]).send_signal(signal.SIGKILL)
            killed.set()

    killer = threading.Thread(target=kill_one_actor_mid_store)
    killer.start()
    encode_frames(frames, out, FP32, batch_size=8, progress=False, shard_rows=32, backend="ray", ray_config=TWO_ACTORS)
    killer.join()
    assert killed.is_set()
    assert _files(out) == _files(local_store)


def test_a_pool_the_cluster_cannot_hold_is_refused(ray_instance, frames, tmp_path):
    with pytest.raises(PipelineError, match="3 encode actors need 3 CPUs"):
        encode_frames(frames, tmp_path / "x.zarr", FP32, backend="ray", ray_config=RayConfig(encode_actors=3))
    assert not (tmp_path / "x.zarr").exists()


def test_on_two_gpu_nodes_the_pool_has_an_actor_on_each_and_writes_the_same_store(two_gpu_nodes, frames, local_store,
                                                                                  tmp_path):
    """encode_actors 0 with a GPU per actor: one actor per GPU of the cluster, so one on each node, and the store
    the driver writes from their batches is still the local backend's, byte for byte."""
    from pipeline.cache.ray_encode import RayBatchEncoder

    ray, node_ids = two_gpu_nodes
    per_gpu = RayConfig(encode_actors=0, encoder_gpus=1, encoder_cpus=1)
    pool = RayBatchEncoder(FP32, per_gpu)
    try:
        nodes = actor_nodes(ray, pool.actors)
    finally:
        pool.close()
    assert sorted(nodes) == sorted(node_ids)  # GPUs in name only: the encoder itself stays on the CPU
    encode_frames(frames, tmp_path / "ray.zarr", FP32, batch_size=8, progress=False, shard_rows=32, backend="ray",
                  ray_config=per_gpu)
    assert _files(tmp_path / "ray.zarr") == _files(local_store)
