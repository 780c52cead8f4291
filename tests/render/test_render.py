"""Rendering: exact kinematic replay, identical output whatever the worker count, clear errors."""

import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import psutil
import pytest

from pipeline.config import RenderDemosConfig
from pipeline.errors import PipelineError
from pipeline.formats.frames import FramesFile
from pipeline.formats.hdf5 import seal
from pipeline.render.renderer import FrameRenderer
from pipeline.render.stage import render_demos
from pipeline.tasks import TASKS, make_env
from tests.render.conftest import make_demo_file


def test_frame_zero_is_the_demo_initial_state(tmp_path, door_demos):
    demos, episodes = door_demos
    out = tmp_path / "frames.h5"
    render_demos(demos, out, RenderDemosConfig(size=64, workers=1), progress=False)
    with FramesFile(out) as frames, FrameRenderer("door", 64) as renderer:
        assert frames.lengths() == [ep.length + 1 for ep in episodes]
        for i, ep in enumerate(episodes):
            np.testing.assert_array_equal(frames.frames(i, "top")[0], renderer.render(ep.state_at(0))[0])
            np.testing.assert_array_equal(frames.frames(i, "top")[7], renderer.render(ep.state_at(7))[0])
            np.testing.assert_allclose(frames.demo(i)["proprio"][()], ep.qpos[:, 4:-2].astype(np.float32))
            assert frames.demo(i).attrs["replay"] == "kinematic"
        # frame 0 must not be the env's default pose (the reference code's bug rendered that)
        default = make_env("door")
        default.reset(seed=123)
        assert not np.array_equal(frames.frames(0, "top")[0], renderer.render(default.get_state())[0])


@pytest.mark.slow
def test_one_and_two_workers_and_reruns_give_identical_files(tmp_path, door_demos):
    demos, _ = door_demos
    paths = []
    for name, workers in (("a", 1), ("b", 2), ("c", 1)):
        paths.append(tmp_path / f"{name}.h5")
        render_demos(demos, paths[-1], RenderDemosConfig(size=48, workers=workers, chunk=5), progress=False)
    assert paths[0].read_bytes() == paths[1].read_bytes() == paths[2].read_bytes()


@pytest.mark.parametrize("task", list(TASKS))
def test_every_camera_of_every_task_renders_something(task):
    env = make_env(task)
    env.reset(seed=0)
    with FrameRenderer(task, 48) as renderer:
        frames = renderer.render(env.get_state())
    assert frames.shape == (len(TASKS[task].cameras), 48, 48, 3)
    for image in frames:
        assert image.std() > 5  # not a blank image: the scene has structure


def test_paper_preset_differs_and_is_recorded(tmp_path, door_demos):
    demos, episodes = door_demos
    with FrameRenderer("door", 64, "paper") as paper, FrameRenderer("door", 64, "fast") as fast:
        assert not np.array_equal(paper.render(episodes[0].state_at(0)), fast.render(episodes[0].state_at(0)))
        assert paper.attrs()["quality.shadows"] and paper.attrs()["quality.offsamples"] == 8
        assert not fast.attrs()["quality.shadows"] and fast.attrs()["quality.offsamples"] == 0


def test_large_image_enlarges_the_offscreen_buffer(door_demos):
    _, episodes = door_demos
    with FrameRenderer("door", 3500) as renderer:  # the model's buffer is 3024 x 1680
        assert renderer.render(episodes[0].state_at(0)).shape == (1, 3500, 3500, 3)


def test_open_loop_fallback_records_drift(tmp_path):
    demos = tmp_path / "door.h5"
    make_demo_file(demos, n=1)
    with h5py.File(demos, "r+") as f:  # a source without per-step states: only the initial one
        f["data/demo_0/qpos"][1:] = np.nan
    seal(demos)  # as that source's writer would have sealed it
    out = tmp_path / "frames.h5"
    render_demos(demos, out, RenderDemosConfig(size=32, workers=1), progress=False)
    with FramesFile(out) as frames:
        assert frames.demo(0).attrs["replay"] == "open-loop"
        drift = frames.demo(0)["replay_drift"][()]
        assert drift.shape == (13,) and drift[0] < 1e-9  # the replay starts from the recorded state


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cameras": ("ceiling",)}, "door: unknown camera 'ceiling'; cameras: fixed, vil_camera, top"),
        ({"size": 0}, "render_demos.size must be between 1 and 4096 pixels, got 0"),
        ({"size": 100000}, "render_demos.size must be between 1 and 4096 pixels, got 100000"),
        ({"quality": "ultra"}, "not one of paper, fast"),
        ({"scene": "mjenvs"}, "render_demos.scene: 'mjenvs' is not one of rrl, gymnasium"),
    ],
)
def test_bad_settings_are_clear_errors_and_write_nothing(tmp_path, door_demos, kwargs, message):
    demos, _ = door_demos
    with pytest.raises(PipelineError, match=message):
        render_demos(demos, tmp_path / "frames.h5", RenderDemosConfig(**{"workers": 1, **kwargs}), progress=False)
    assert list(tmp_path.iterdir()) == []


def test_incomplete_demo_file_is_refused(tmp_path, door_demos):
    demos, _ = door_demos
    broken = tmp_path / "broken.h5"
    broken.write_bytes(demos.read_bytes()[:4000])
    with pytest.raises(PipelineError, match="broken.h5: damaged demo file: truncated or changed since it was written"):
        render_demos(broken, tmp_path / "frames.h5", RenderDemosConfig(workers=1), progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.h5"]


@pytest.mark.slow
def test_a_crashing_worker_fails_the_stage_and_leaves_no_frames(tmp_path):
    demos = tmp_path / "door.h5"
    make_demo_file(demos, n=4, horizon=150)
    out = tmp_path / "frames.h5"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "render-demos", "--demos", str(demos), "--out", str(out),
         "--size", "128", "--workers", "2", "--chunk", "5"],
        stderr=subprocess.PIPE, text=True,
    )
    deadline = time.time() + 60
    workers = []
    while time.time() < deadline and len(workers) < 2:  # the spawned renderers (the resource tracker aside)
        workers = [c for c in psutil.Process(proc.pid).children() if "spawn_main" in " ".join(c.cmdline())]
        time.sleep(0.2)
    time.sleep(1.0)  # let them start rendering
    workers[0].send_signal(signal.SIGKILL)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert "a render worker died" in stderr
    assert not out.exists() and not (tmp_path / ".frames.h5.partial").exists()
