"""Each benchmark runs end to end on tiny settings and reports finite, positive rates and ratios.
(No speed is asserted here: speed claims live in `rrl-pipe bench`, measured as ratios in one run.)"""

import math

import pytest

from pipeline.bench.encode import bench_encode, bench_families
from pipeline.bench.ray_backend import bench_ray, capacity
from pipeline.bench.render import bench_render
from pipeline.bench.sample import bench_sample
from pipeline.bench.synthetic import SyntheticEncoderConfig

pytestmark = pytest.mark.slow

def _finite_positive(*values):
    return all(math.isfinite(v) and v > 0 for v in values)


def test_bench_render_smoke():
    lines = []
    rows = bench_render("door", 32, 12, 1, ("fast",), (1,), echo=lines.append)
    assert len(rows) == 1 and _finite_positive(rows[0]["stage"], rows[0]["ceiling"], rows[0]["ratio"])
    assert any("stage/ceiling" in line for line in lines)


def test_bench_encode_smoke():
    result = bench_encode("resnet18", "random", 12, 2, 1, "cpu", (4,), echo=lambda line: None)
    assert _finite_positive(result["ceiling"], result["full_path"], result["naive"], result["b_over_a"], result["b_over_c"],
                            result["fold_gain"])


def test_bench_encode_compares_families_each_at_its_own_input():
    """A ViT family (224 px, bicubic) beside a ResNet, one precision: one summary row each."""
    lines = []
    results = bench_families(("resnet18", "dinov2_vits14"), "random", 12, 2, 1, "cpu", (4,), "fp32", echo=lines.append)
    assert [r["precision"] for r in results] == ["fp32", "fp32"]
    assert all(_finite_positive(r["ceiling"], r["full_path"], r["naive"]) for r in results)
    assert any(line.lstrip().startswith("dinov2_vits14") for line in "\n".join(lines).splitlines())


def test_bench_sample_smoke():
    result = bench_sample("door", "resnet18", 1, 1, 4, 32, "fast", 1, echo=lambda line: None, samples=400)
    assert _finite_positive(result["ours"], result["bound"], result["reference"], result["update_s"])


def test_the_reference_way_runs_the_same_episodes_as_the_service():
    """The benchmark's per-worker encoders (injected into the sampler from the benchmark side) see what the service
    sees: the same encoder code on the same frames, so the same features and episodes, within float rounding."""
    import numpy as np

    from pipeline.bench.sample import PerWorkerEncoderSampler
    from pipeline.encoders import EncoderConfig
    from pipeline.rl.policy import GaussianMLPPolicy
    from pipeline.rollout.sampler import ObsConfig, Sampler
    from pipeline.tasks import get_task

    obs, encoder, spec = ObsConfig(mode="vision", image_size=32), EncoderConfig(weights="random"), get_task("door")
    policy = GaussianMLPPolicy(len(spec.camera_names) * 512 + 24, spec.action_dim, hidden=(8, 8), seed=0)
    runs = []
    for kind in (Sampler, PerWorkerEncoderSampler):
        with kind("door", obs, 2, horizon=4, encoder_config=encoder, envs_per_worker=2) as sampler:
            assert (sampler.service is None) == (kind is PerWorkerEncoderSampler)
            runs.append(sampler.sample(policy, [5, 11, 2]))
    for ours, reference in zip(*runs):
        np.testing.assert_allclose(ours.observations, reference.observations, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(ours.actions, reference.actions, rtol=1e-4, atol=1e-5)


def test_bench_sample_synthetic_double_buffered_smoke():
    """The emulated-GPU design measurement: ours, one env per worker, and the service's batch sizes."""
    result = bench_sample("door", "resnet18", 2, 4, 4, 32, "fast", 1, echo=lambda line: None, samples=400,
                          envs_per_worker=2, double_buffer=True, synthetic="1,0.1")
    assert _finite_positive(result["ours"], result["one_env_per_worker"], result["cpu_parts"], result["update_s"])
    assert result["frames_per_batch"] >= 1 and result["one_env_frames_per_batch"] >= 1


def test_bench_ray_smoke(ray_instance):
    """Both backends with the same workers, each ratio, and the model's rows (on the 2-CPU test instance)."""
    lines = []
    result = bench_ray("door", "resnet18", 1, 2, 1, 4, 32, "fast", 1, "1,0.1", 16, 10.0, (1, 4), echo=lines.append,
                       encoder_cpus=1.0, samples=400)
    assert len(result["ratios"]) == 3 and _finite_positive(*result["ratios"].values(), result["update_s"])
    assert set(result["model"]) == {1, 4} and result["model"][4] > result["model"][1]
    assert result["model_per_node"][4] >= result["model"][4]
    assert any("on paper" in line for line in lines)


def test_the_capacity_model_takes_the_least_bound():
    gpu = SyntheticEncoderConfig(2.0, 0.1)
    two = capacity(2, 16, r_core=100.0, e_ray=1.0, gpu=gpu, envs_per_actor=4, cameras=1, frame_bytes=256 * 256 * 3,
                   network_gbit=10.0)
    assert two["actors"] == 30 and two["cpu"] == 3000.0  # 15 env cores per node
    assert math.isclose(two["gpu"], 1e3 * 120 / (2 + 12))  # one step of all 120 envs in one batch
    assert math.isclose(two["network"], 1.25e9 / 196608 / 0.5)  # half of the frames cross to the GPU node
    assert two["steps_s"] == 3000.0
    one = capacity(1, 16, 100.0, 1.0, gpu, 4, 1, 196608, 10.0)
    assert one["network"] == float("inf") and one["steps_s"] == 1500.0
    many = capacity(64, 16, 100.0, 1.0, gpu, 4, 1, 196608, 10.0)
    assert many["steps_s"] == min(many["gpu"], many["network"]) < many["cpu"]  # one service caps a big cluster
    per_node = capacity(64, 16, 100.0, 1.0, gpu, 4, 1, 196608, 10.0, services=64)
    assert per_node["network"] == float("inf") and per_node["steps_s"] == per_node["cpu"] == 64 * 15 * 100.0
    assert math.isclose(per_node["gpu"], 64 * 1e3 * 60 / (2 + 6))  # each service batches its node's 60 envs
