"""Shared fixtures. MuJoCo renders offscreen through EGL unless the caller chose otherwise."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])

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
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
