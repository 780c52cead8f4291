"""The feature store: complete-or-nothing, keyed, a no-op when complete, resumable after kill -9."""

import json
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest
import zarr

from pipeline.cache.encode import encode_frames
from pipeline.encoders import Encoder, EncoderConfig
from pipeline.errors import PipelineError
from pipeline.formats.features import FeatureStore, partial_path
from pipeline.formats.frames import FramesFile
from pipeline.formats.hdf5 import seal
from tests.encoders.conftest import make_frames

RANDOM18 = EncoderConfig(model="resnet18", weights="random")


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    return make_frames(tmp_path_factory.mktemp("frames") / "door.h5", size=96, n=3, horizon=30)


@pytest.fixture(scope="module")
def store(tmp_path_factory, frames):
    out = tmp_path_factory.mktemp("features") / "resnet18.zarr"
    figures = encode_frames(frames, out, RANDOM18, batch_size=16, progress=False, shard_rows=32)
    return out, figures


def test_store_holds_every_frame_in_order_with_provenance(store, frames):
    out, figures = store
    fs = FeatureStore(out, expect_key=figures["key"])
    with FramesFile(frames) as f:
        lengths = f.lengths()
        direct = Encoder(RANDOM18).encode(f.frames(1, "top")[:]).numpy()
    np.testing.assert_array_equal(fs.episode_ends, np.cumsum(lengths))
    np.testing.assert_array_equal(fs.episode(1), direct)  # same code, same CPU, fp32: bit for bit
    assert fs.attrs["weights_source"] == "random:seed=0" and fs.attrs["cameras"] == ["top"]
    assert fs.attrs["frames_file"] == "door.h5" and len(fs.attrs["frames_sha256"]) == 64
    assert fs.attrs["complete"] and fs.attrs["shards_done"] == fs.attrs["n_shards"] == 3  # 93 rows / 32
    assert sorted(p.name for p in (out / "features" / "c").iterdir()) == ["0", "1", "2"]  # one file per shard


def test_encoding_a_complete_key_does_nothing(store, frames):
    out, figures = store
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    again = encode_frames(frames, out, RANDOM18, progress=False, shard_rows=32)
    assert again["skipped"] and again["key"] == figures["key"]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before


def test_reader_refuses_wrong_key_and_incomplete_store(store, tmp_path):
    out, figures = store
    with pytest.raises(PipelineError, match="does not match the expected"):
        FeatureStore(out, expect_key="f" * 64)
    broken = tmp_path / "broken.zarr"
    subprocess.run(["cp", "-r", str(out), str(broken)], check=True)
    zarr.open_group(broken, mode="r+").attrs["complete"] = False
    with pytest.raises(PipelineError, match="incomplete feature store"):
        FeatureStore(broken)
    with pytest.raises(PipelineError, match="not a feature store"):
        FeatureStore(tmp_path / "missing.zarr")


@pytest.mark.slow
def test_a_different_encoder_gets_a_different_key(store, frames, tmp_path):
    _, figures = store
    other = encode_frames(frames, tmp_path / "l2.zarr", EncoderConfig(weights="random", layer="layer2"), progress=False)
    assert other["key"] != figures["key"] and FeatureStore(tmp_path / "l2.zarr").features.shape == (93, 128)


@pytest.mark.slow
def test_kill_mid_run_then_resume_from_the_last_complete_shard(frames, store, tmp_path):
    out = tmp_path / "resnet18.zarr"
    cmd = [sys.executable, "-m", "pipeline.cli", "encode", "--model", "resnet18", "--weights", "random",
           "--frames", str(frames), "--out", str(out), "--batch-size", "8", "--shard-rows", "16",
           "--precision", "fp32"]  # as the reference store: auto is bf16 on a CPU with native bf16
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    meta = partial_path(out) / "zarr.json"
    deadline = time.time() + 120
    done = 0
    while time.time() < deadline and done < 2:
        time.sleep(0.05)
        if meta.exists():
            try:
                done = json.loads(meta.read_text())["attributes"]["shards_done"]
            except (ValueError, KeyError):
                pass
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 2 <= done < 6, "the run should have been killed part way (6 shards in all)"
    assert not out.exists()  # nothing that looks complete
    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    figures = json.loads(resumed.stdout.split(": ", 1)[1])
    assert figures["resumed_from_row"] >= 32 and figures["resumed_from_row"] % 16 == 0
    reference, _ = store
    np.testing.assert_array_equal(FeatureStore(out).all(), FeatureStore(reference).all())
    assert not partial_path(out).exists()


def test_frames_of_wrong_dtype_are_refused_and_no_store_is_made(frames, tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(frames.read_bytes())
    with h5py.File(bad, "r+") as f:
        del f["data/demo_0/frames/top"]
        f["data/demo_0/frames/top"] = np.zeros((31, 96, 96, 3), np.float32)
    seal(bad)  # a writer that seals what it wrote: the values, not the bytes, are bad
    with pytest.raises(PipelineError, match=r"data/demo_0/frames/top has shape \(31, 96, 96, 3\) and dtype float32"):
        encode_frames(bad, tmp_path / "x.zarr", RANDOM18, progress=False)
    assert not (tmp_path / "x.zarr").exists() and not partial_path(tmp_path / "x.zarr").exists()
