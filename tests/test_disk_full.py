"""A full disk: one line naming the output and the free space, exit 2, no crash, no partial left.

Each case runs on a small tmpfs mounted for the test (root on Linux); elsewhere the tests skip, saying why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.render.conftest import make_demo_file

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def small_disk(tmp_path):
    """A folder on a tmpfs of the size asked for; unmounted afterwards."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root on Linux")
    mounts = []

    def mount(megabytes: float) -> Path:
        folder = tmp_path / f"disk{len(mounts)}"
        folder.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={int(megabytes * 1024)}k", "tmpfs", str(folder)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounts.append(folder)
        return folder

    yield mount
    for folder in mounts:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=300)


def _error_lines(done: subprocess.CompletedProcess) -> list[str]:
    """The CLI's error lines (a progress bar may share the line before one)."""
    return ["error:" + line.split("error:", 1)[1] for line in done.stderr.replace("\r", "\n").splitlines()
            if "error:" in line]


def _refused_in_one_line(done: subprocess.CompletedProcess, out: Path) -> str:
    assert done.returncode == 2, done.stderr[-2000:]
    lines = _error_lines(done)
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert str(out) in lines[0] and "MB free there" in lines[0], lines[0]
    assert sorted(p.name for p in out.parent.iterdir()) == [], list(out.parent.iterdir())  # no output, no partial
    return lines[0]


def test_render_demos_refuses_before_rendering(tmp_path, small_disk):
    demos = tmp_path / "door.h5"
    make_demo_file(demos, n=4, horizon=150)  # 604 frames of 128 px: 29.7 MB
    out = small_disk(20) / "frames.h5"
    line = _refused_in_one_line(_cli("render-demos", "--demos", str(demos), "--out", str(out), "--size", "128",
                                     "--workers", "1"), out)
    assert "not enough disk space" in line


def test_render_vae_data_refuses_before_rendering(small_disk):
    out = small_disk(12) / "images.h5"
    _refused_in_one_line(_cli("render-vae-data", "--task", "door", "--out", str(out), "--n-images", "2000",
                              "--size", "64", "--workers", "1"), out)


def test_make_demos_refuses_before_writing(small_disk):
    disk = small_disk(9)
    (disk / "filler").write_bytes(b"\0" * (8 << 20))  # 1 MB left: less than the writer keeps spare
    out = disk / "demos" / "door.h5"
    done = _cli("make-demos", "--task", "door", "--episodes", "2", "--out", str(out))
    (disk / "filler").unlink()
    _refused_in_one_line(done, out)


def test_a_disk_that_fills_while_writing_frames_stops_the_writer_cleanly(small_disk):
    """The space checked up front is taken by someone else meanwhile: the writer's own check before each block
    stops it in one line, HDF5 never meets ENOSPC (h5py would crash with a segmentation fault), the partial goes."""
    disk = small_disk(24)
    script = textwrap.dedent(f"""
        import numpy as np
        from pathlib import Path
        from pipeline.atomic import atomic_output
        from pipeline.errors import PipelineError
        from pipeline.formats.frames import FramesWriter

        out = Path({str(disk / "frames.h5")!r})
        try:
            with atomic_output(out) as tmp:
                writer = FramesWriter(tmp, {{"task": "door"}}, ("top",), 128)
                try:
                    writer.add_demo(0, 400, {{"proprio": np.zeros((400, 24), np.float32)}}, {{"n_frames": 400}})
                    for start in range(0, 400, 10):
                        if start == 100:  # another program takes most of what is left
                            Path({str(disk / "filler")!r}).write_bytes(b"\\0" * (12 << 20))
                        writer.write_frames(0, start, np.full((10, 1, 128, 128, 3), 7, np.uint8))
                finally:
                    writer.close(1)
        except PipelineError as exc:
            print("error:", exc.one_line())
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]  # a crash would be -11 (SIGSEGV)
    assert f"{disk / 'frames.h5'}: not enough disk space" in done.stdout, done.stdout + done.stderr[-2000:]
    assert sorted(p.name for p in disk.iterdir()) == ["filler"]


@pytest.mark.slow
def test_encode_on_a_full_disk_is_one_line(tmp_path, small_disk):
    demos, frames = tmp_path / "door.h5", tmp_path / "frames.h5"
    make_demo_file(demos, n=2, horizon=40)
    assert _cli("render-demos", "--demos", str(demos), "--out", str(frames), "--size", "64", "--workers", "1").returncode == 0
    disk = small_disk(1)
    (disk / "filler").write_bytes(b"\0" * (1000 << 10))
    out = disk / "features.zarr"
    done = _cli("encode", "--model", "resnet18", "--weights", "random", "--frames", str(frames), "--out", str(out))
    assert done.returncode == 2, done.stderr[-2000:]
    errors = _error_lines(done)
    assert len(errors) == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert errors[0].startswith(f"error: {out}: No space left on device (") and "MB free there" in errors[0], errors[0]
    assert "rerun to resume" in errors[0]


def test_a_torch_checkpoint_on_a_full_disk_is_one_line(small_disk):
    """torch.save on a full disk raises only "unexpected pos ..."; the atomic writer names the output and the disk."""
    import torch

    from pipeline.atomic import atomic_output
    from pipeline.errors import PipelineError

    out = small_disk(1) / "policy.pt"
    with pytest.raises(PipelineError, match=rf"^{out}: No space left on device \(\d+\.\d MB free there"):
        with atomic_output(out) as tmp:
            torch.save({"weights": torch.zeros(1 << 20)}, tmp)
    assert list(out.parent.iterdir()) == []
