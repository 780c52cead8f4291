"""The sampler on a local Ray instance (2 CPUs): the same episodes as the local backend from the same seeds, an env
actor killed mid-iteration changes nothing, and a dead service or a cluster too small is one clear line."""

import os
import signal
import sys
import threading
import time

import numpy as np
import pytest

from pipeline.cluster import RayConfig, import_ray
from pipeline.encoders import EncoderConfig
from pipeline.errors import PipelineError
from pipeline.rl.policy import GaussianMLPPolicy
from pipeline.rollout.ray_sampler import RaySampler
from pipeline.rollout.sampler import ObsConfig, Sampler
from pipeline.tasks import get_task, make_env
from tests.conftest import actor_nodes

pytestmark = pytest.mark.ray

SEEDS = [5, 11, 2, 7, 3]  # uneven over the workers and envs: a finished env starts the next episode
VISION = ObsConfig(mode="vision", image_size=64)
ENCODER = EncoderConfig(weights="random", precision="fp32", device="cpu")
VISION_DIM = len(get_task("door").camera_names) * 512 + 24


def _policy(obs_dim: int) -> GaussianMLPPolicy:
    return GaussianMLPPolicy(obs_dim, get_task("door").action_dim, hidden=(16, 16), seed=0)


def _assert_same(ours: list, reference: list) -> None:
    assert [ep.seed for ep in ours] == [ep.seed for ep in reference] == SEEDS  # in episode order
    for a, b in zip(ours, reference):
        for field in ("observations", "actions", "rewards", "goal_achieved"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))  # bit for bit


def _local(obs: ObsConfig, obs_dim: int, workers: int, envs: int, horizon: int, encoder=None) -> list:
    with Sampler("door", obs, workers, horizon=horizon, encoder_config=encoder, envs_per_worker=envs) as sampler:
        return sampler.sample(_policy(obs_dim), SEEDS)


def test_state_episodes_are_the_local_backends(ray_instance):
    obs, dim = ObsConfig(mode="state"), make_env("door").observe().shape[0]
    with RaySampler("door", obs, workers=2, horizon=30, envs_per_worker=2) as sampler:
        ours = sampler.sample(_policy(dim), SEEDS)
    _assert_same(ours, _local(obs, dim, workers=2, envs=2, horizon=30))


@pytest.mark.parametrize("double_buffer", [False, True])
def test_vision_episodes_are_the_local_backends_through_the_service_actor(ray_instance, double_buffer):
    with RaySampler("door", VISION, workers=1, horizon=6, encoder_config=ENCODER, envs_per_worker=4,
                    double_buffer=double_buffer) as sampler:
        ours = sampler.sample(_policy(VISION_DIM), SEEDS)
        stats = sampler.service_stats()
        assert sampler.double_buffered is double_buffer
    # every step of every episode went through the service actor, several envs' frames to a forward pass
    assert stats["frames"] == sum(len(ep.actions) for ep in ours) and stats["batches"] < stats["frames"]
    _assert_same(ours, _local(VISION, VISION_DIM, workers=2, envs=2, horizon=6, encoder=ENCODER))


def test_an_env_actor_killed_mid_iteration_changes_nothing(ray_instance):
    """SIGKILL (a crash, a lost node) while its episodes run: Ray restarts the actor and reruns them from their
    seeds, so the iteration's episodes are the same."""
    policy = _policy(VISION_DIM)
    with RaySampler("door", VISION, workers=1, horizon=30, encoder_config=ENCODER, envs_per_worker=2) as sampler:
        reference = sampler.sample(policy, SEEDS)
        pid = ray_instance.get(sampler.actors[0].pid.remote())
        killed = threading.Event()

        def kill_mid_run() -> None:  # once the service has encoded some of this iteration's frames
            frames = sampler.service_stats()["frames"]
            while sampler.service_stats()["frames"] < frames + 20:
                time.sleep(0.01)
            os.kill(pid, signal.SIGKILL)
            killed.set()

        killer = threading.Thread(target=kill_mid_run)
        killer.start()
        again = sampler.sample(policy, SEEDS)
        killer.join()
        assert killed.is_set() and ray_instance.get(sampler.actors[0].pid.remote()) != pid  # a new process ran them
    _assert_same(again, reference)


def test_a_dead_service_actor_is_one_clear_error(ray_instance):
    with RaySampler("door", VISION, workers=1, horizon=6, encoder_config=ENCODER, envs_per_worker=1) as sampler:
        ray_instance.kill(sampler.services[0].actor)
        with pytest.raises(PipelineError, match="encoder service actor died; rerun to resume from the last checkpoint"):
            sampler.sample(_policy(VISION_DIM), SEEDS)


def test_what_the_cluster_cannot_run_is_refused_at_once(ray_instance):
    with pytest.raises(PipelineError, match="3 env actors need 3 CPUs and 0 GPUs; the cluster has 2 and 0"):
        RaySampler("door", ObsConfig(mode="state"), workers=3)
    with pytest.raises(PipelineError, match="workers must be >= 1"):
        RaySampler("door", ObsConfig(mode="state"), workers=0)


def test_backend_ray_without_ray_installed_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` does where the extra is not installed
    with pytest.raises(PipelineError, match=r'pip install -e "\.\[ray\]"'):
        import_ray()
    assert RayConfig().address == ""  # the config itself needs no Ray


def test_the_service_actor_feeds_a_modelled_gpu_without_waiting_on_it(ray_instance):
    """With a modelled GPU (the synthetic encoder queues batches as a CUDA stream does) and two env groups, the
    service actor submits a batch while the last still runs, as the local service does; the episodes are the local
    backend's."""
    from pipeline.bench.synthetic import SyntheticEncoderConfig

    # 50 ms a batch: longer than rendering the other group takes even on a loaded 2-core machine (5 ms was not)
    encoder = SyntheticEncoderConfig(base_ms=50.0, per_frame_ms=0.5)
    dim = len(get_task("door").camera_names) * encoder.dim + 24
    with RaySampler("door", VISION, workers=1, horizon=8, encoder_config=encoder, envs_per_worker=4,
                    double_buffer=True) as sampler:
        ours = sampler.sample(_policy(dim), SEEDS)
        assert sampler.service_stats()["overlapped"] > 0
    _assert_same(ours, _local(VISION, dim, workers=1, envs=4, horizon=8, encoder=encoder))


def test_a_service_per_gpu_node_changes_nothing(ray_instance):
    """ray.services 2: env actor w sends its frames to service w % 2 (placed beside it), and the episodes are still
    the local backend's (services that share the cores: encoder_cpus 0 on the 2-CPU instance)."""
    with RaySampler("door", VISION, workers=2, horizon=6, encoder_config=ENCODER, envs_per_worker=2,
                    ray_config=RayConfig(services=2, encoder_cpus=0.0)) as sampler:
        ours = sampler.sample(_policy(VISION_DIM), SEEDS)
        per_service = [service.stats()["frames"] for service in sampler.services]
        assert sampler.service_stats()["frames"] == sum(per_service) == sum(len(ep.actions) for ep in ours)
    assert len(per_service) == 2 and min(per_service) > 0
    _assert_same(ours, _local(VISION, VISION_DIM, workers=2, envs=2, horizon=6, encoder=ENCODER))


def test_on_two_gpu_nodes_each_service_has_a_node_and_its_env_actors_beside_it(two_gpu_nodes):
    """ray.services 0 on a cluster of two nodes with a GPU each: one service per node, and env actor w on the node
    of its service w % 2 although Ray alone would pack both on the bigger node; the episodes are still the local
    backend's."""
    ray, node_ids = two_gpu_nodes
    with RaySampler("door", VISION, workers=2, horizon=6, encoder_config=ENCODER, envs_per_worker=1,
                    ray_config=RayConfig(services=0, encoder_gpus=1, encoder_cpus=1)) as sampler:
        ours = sampler.sample(_policy(VISION_DIM), SEEDS)
        service_nodes = [service.node_id for service in sampler.services]
        env_nodes = actor_nodes(ray, sampler.actors)
    assert sorted(service_nodes) == sorted(node_ids)  # a service on each GPU node
    assert env_nodes == service_nodes  # env actor w beside service w: its frames stay in that node's store
    _assert_same(ours, _local(VISION, VISION_DIM, workers=2, envs=1, horizon=6, encoder=ENCODER))
