"""Render workers spread over several GPUs (MUJOCO_EGL_DEVICE_ID), and nothing changes with one GPU or none."""

import pytest

from pipeline.render import egl


@pytest.fixture
def driver(monkeypatch, tmp_path):
    """A stand-in for /proc/driver/nvidia/gpus with `n` GPU folders."""
    def make(n: int) -> None:
        for i in range(n):
            (tmp_path / f"0000:{i:02x}:00.0").mkdir()
        monkeypatch.setattr(egl, "_NVIDIA_GPUS", str(tmp_path))
    return make


@pytest.mark.parametrize(("gpus", "environ", "expected"), [
    (0, {}, [None, None, None]),  # Mesa's software renderer (this machine, CI): MuJoCo's default
    (1, {}, [None, None, None]),  # one GPU: MuJoCo already puts every worker on it
    (2, {}, ["0", "1", "0"]),  # round-robin
    (8, {"CUDA_VISIBLE_DEVICES": "3,5"}, ["0", "1", "0"]),  # narrowed (MuJoCo maps the ids through it)
])
def test_workers_go_round_robin_over_several_gpus_only(driver, gpus, environ, expected):
    driver(gpus)
    got = [egl.assign_egl_device(worker, {"MUJOCO_GL": "egl", **environ}) for worker in range(3)]
    assert got == expected


def test_a_users_choice_and_other_backends_are_left_alone(driver):
    driver(4)
    chosen = {"MUJOCO_GL": "egl", "MUJOCO_EGL_DEVICE_ID": "2"}
    assert egl.assign_egl_device(1, chosen) is None and chosen["MUJOCO_EGL_DEVICE_ID"] == "2"
    osmesa = {"MUJOCO_GL": "osmesa"}
    assert egl.assign_egl_device(1, osmesa) is None and "MUJOCO_EGL_DEVICE_ID" not in osmesa
    assert egl.assign_egl_device(1, {}) == "1"  # MuJoCo's default backend here is egl (pipeline/__init__.py)
