"""Two `rrl-pipe encode` to one store at once: one writes it, the other is refused in one line; it reads back whole."""

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pipeline.formats.features import FeatureStore
from tests.encoders.conftest import make_frames

REPO_ROOT = Path(__file__).resolve().parents[2]


def _encode(frames: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pipeline.cli", "encode", "--model", "resnet18", "--weights", "random",
                             "--precision", "fp32", "--frames", str(frames), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT)


@pytest.mark.slow
def test_two_encoders_to_one_store(tmp_path):
    frames = make_frames(tmp_path / "door.h5", size=256, n=4, horizon=100)  # ~10 s to encode: both overlap
    out = tmp_path / "store.zarr"
    first = _encode(frames, out)
    lock = tmp_path / ".store.zarr.lock"
    deadline = time.monotonic() + 120
    while not lock.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lock.exists(), "the first encoder never took its lock"
    second = _encode(frames, out)
    _, err2 = second.communicate(timeout=300)
    _, err1 = first.communicate(timeout=300)
    assert first.returncode == 0, err1[-2000:]
    assert second.returncode == 2 and f"another process (pid {first.pid}) is writing it now" in err2, err2[-2000:]
    assert err2.strip().count("\n") == 0
    store = FeatureStore(out)
    assert store.all().shape == (404, 512) and np.isfinite(store.all()).all()
    assert not lock.exists()
