"""Bad demo and frames files: one line naming the file, the demo and the key; never a traceback or a half output.

A table of the damage found by probing (values, attributes, structure), then a seeded fuzz of 200 random
corruptions per file kind: every reader either reads the file as it was or raises one PipelineError line.
"""

import shutil

import h5py
import numpy as np
import pytest

from pipeline.config import RenderDemosConfig
from pipeline.errors import PipelineError
from pipeline.formats.demos import read_demos
from pipeline.formats.frames import FramesFile
from pipeline.formats.hdf5 import seal
from pipeline.render.stage import render_demos
from tests.render.conftest import make_demo_file


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("bad") / "door.h5"
    make_demo_file(path, n=2, horizon=6)
    return path


@pytest.fixture(scope="module")
def frames_file(demo_file):
    out = demo_file.with_name("frames.h5")
    render_demos(demo_file, out, RenderDemosConfig(size=16, workers=1), progress=False)
    return out


def _set(key, value):
    def edit(f):
        del f[key]
        f[key] = value
    return edit


def _attr(key, value=None, group="/"):
    def edit(f):
        if value is None:
            del f[group].attrs[key]
        else:
            f[group].attrs[key] = value
    return edit


def _demo_as_dataset(f):
    del f["data/demo_1"]
    f["data/demo_1"] = np.zeros(3)


def _nan_rows(f):
    q = f["data/demo_0/qpos"][()]
    q[2:7] = np.nan  # five rows: once silently taken for "no states" and replayed open loop
    _set("data/demo_0/qpos", q)(f)


T, NQ = 6, 30
BAD_DEMOS = [
    (_set("data/demo_0/actions", np.full((T, 28), np.nan, np.float32)), "data/demo_0/actions: 168 NaN or infinite values"),
    (_set("data/demo_0/actions", np.full((T, 28), 1e30, np.float32)), "data/demo_0/actions: values up to 1e+30, outside +-10"),
    (_set("data/demo_0/actions", np.array([[b"x"] * 28] * T)), "data/demo_0/actions: dtype |S1, expected float"),
    (_set("data/demo_0/qpos", np.zeros((T + 1, NQ), np.int64)), "data/demo_0/qpos: dtype int64, expected float"),
    (_set("data/demo_0/qpos", np.full((T + 1, NQ), 1e300)), "data/demo_0/qpos: values up to 1e+300, outside +-100"),
    (_nan_rows, "data/demo_0/qpos: 150 NaN or infinite values (first in row 2)"),
    (_set("data/demo_0/obs", 1.0), "data/demo_0/obs: is a scalar"),
    (
        _set("data/demo_0/env_state/door_body_pos", np.zeros((T + 1, 2))),
        "env_state/door_body_pos: shape (7, 2), expected (T+1, 3)",
    ),
    (_set("data/demo_0/env_state/door_body_pos", 0.5), "env_state/door_body_pos: is a scalar"),
    (_attr("seed", group="data/demo_0"), "data/demo_0: lacks the attribute 'seed'"),
    (_attr("task"), "lacks the attribute 'task'"),
    (_attr("n_demos", "three"), "attribute n_demos is 'three', not a count of demos"),
    (_demo_as_dataset, "data/demo_1 is a dataset, not a demo group"),
    (_attr("n_demos", 3), "data/demo_2 is missing"),
]


def _empty_demo(f):
    for key in ("actions", "rewards", "terminated", "truncated", "goal_achieved"):
        value = f[f"data/demo_0/{key}"][()]
        _set(f"data/demo_0/{key}", value[:0])(f)
    for key in ("qpos", "qvel", "obs", "env_state/door_body_pos"):
        _set(f"data/demo_0/{key}", f[f"data/demo_0/{key}"][:1])(f)


BAD_DEMOS.append((_empty_demo, "data/demo_0: has no steps (T = 0)"))


@pytest.mark.parametrize("edit, message", BAD_DEMOS, ids=[m[:40] for _, m in BAD_DEMOS])
def test_a_bad_demo_file_is_one_line_naming_file_demo_and_key(demo_file, tmp_path, edit, message):
    bad = tmp_path / "bad.h5"
    shutil.copy(demo_file, bad)
    with h5py.File(bad, "r+") as f:
        edit(f)
    seal(bad)  # as a buggy writer would: the bytes are as written, the values are bad
    with pytest.raises(PipelineError) as info:
        read_demos(bad)
    assert str(info.value).startswith(f"{bad}: ") and message in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(PipelineError):  # and rendering it writes nothing
        render_demos(bad, tmp_path / "frames.h5", RenderDemosConfig(size=16, workers=1), progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.h5"]


BAD_FRAMES = [
    (lambda f: f.__delitem__("data/demo_1"), "data/demo_1 is missing"),
    (_attr("cameras"), "attribute cameras is None, not a list of camera names"),
    (
        _attr("n_frames", 99, group="data/demo_0"),
        "data/demo_0/frames/top has shape (7, 16, 16, 3) and dtype uint8: expected (n_frames = 99",
    ),
    (_attr("n_demos", "two"), "attribute n_demos is 'two'"),
    (lambda f: f.__delitem__("data/demo_0/frames/top"), "data/demo_0: lacks the dataset 'frames/top'"),
    (_set("data/demo_0/actions", np.zeros((2, 28))), "data/demo_0/actions: shape (2, 28), expected (6, ...)"),
]


@pytest.mark.parametrize("edit, message", BAD_FRAMES, ids=[m[:40] for _, m in BAD_FRAMES])
def test_a_bad_frames_file_is_refused_on_open(frames_file, tmp_path, edit, message):
    bad = tmp_path / "frames.h5"
    shutil.copy(frames_file, bad)
    with h5py.File(bad, "r+") as f:
        edit(f)
    seal(bad)
    with pytest.raises(PipelineError) as info:
        FramesFile(bad)
    assert message in str(info.value) and "\n" not in str(info.value)


def _corrupt(src, dst, rng) -> None:
    raw = bytearray(src.read_bytes())
    how = rng.integers(3)
    if how == 0:
        raw = raw[: rng.integers(len(raw))]
    elif how == 1:
        for i in rng.integers(0, len(raw), rng.integers(1, 33)):
            raw[i] ^= 1 << int(rng.integers(8))
    else:
        start = rng.integers(len(raw))
        raw[start : start + 64] = rng.integers(0, 256, 64, dtype=np.uint8).tobytes()
    dst.write_bytes(bytes(raw))


def _read_all_frames(path) -> list[np.ndarray]:
    with FramesFile(path) as f:
        return [f.demo(i)[key][()] for i in range(f.n_demos) for key in ("proprio", "actions", "rewards")] + \
               [f.frames(i, c)[()] for i in range(f.n_demos) for c in f.cameras]


def _read_all_demos(path) -> list[np.ndarray]:
    _, episodes = read_demos(path)
    return [a for ep in episodes for a in (ep.actions, ep.rewards, ep.qpos, ep.qvel, ep.obs, *ep.env_state.values())]


@pytest.mark.parametrize("kind", ["demos", "frames"])
def test_random_corruptions_read_correctly_or_fail_with_one_line(demo_file, frames_file, tmp_path, kind):
    """Fletcher-32 on every dataset and HDF5's own metadata checksums: a flipped byte anywhere is caught."""
    src, reader = (demo_file, _read_all_demos) if kind == "demos" else (frames_file, _read_all_frames)
    original = reader(src)
    rng = np.random.default_rng(7 if kind == "demos" else 8)
    refused = 0
    for trial in range(200):
        bad = tmp_path / f"t{trial}.h5"
        _corrupt(src, bad, rng)
        try:
            got = reader(bad)
        except PipelineError as exc:
            assert "\n" not in str(exc) and str(bad) in str(exc), str(exc)
            refused += 1
        else:
            assert len(got) == len(original), f"trial {trial}: read back other arrays"
            for a, b in zip(got, original):
                np.testing.assert_array_equal(a, b, err_msg=f"trial {trial}: silently wrong values")
        bad.unlink()
    assert refused > 50
