"""Outputs are written completely or not at all."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.atomic import atomic_output
from pipeline.errors import PipelineError

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_error_inside_keeps_the_old_output_and_no_partial(tmp_path):
    out = tmp_path / "out.bin"
    out.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_output(out) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed mid-write")
    assert out.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_success_replaces_file_and_directory(tmp_path):
    out = tmp_path / "store.zarr"
    out.mkdir()
    (out / "stale").write_text("x")
    with atomic_output(out) as tmp:
        tmp.mkdir()
        (tmp / "fresh").write_text("y")
    assert [p.name for p in out.iterdir()] == ["fresh"]


def test_a_special_file_as_output_is_refused_and_kept(tmp_path):
    """`--out /dev/null` once replaced the device node with an HDF5 file: a FIFO, or a link to one, stays what it is."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "link.h5"
    link.symlink_to(fifo)
    for out in (fifo, link):
        proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "make-demos", "--episodes", "1", "--out", str(out)],
                              capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
        assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0, proc.stderr[-1500:]
        assert "is a FIFO; an output replaces only a regular file or folder" in proc.stderr
        assert stat.S_ISFIFO(os.stat(out).st_mode)
    with pytest.raises(PipelineError, match="is a FIFO"):
        with atomic_output(fifo):
            pass


def test_a_second_writer_is_refused_naming_the_first_and_the_lock_goes_with_the_write(tmp_path):
    out = tmp_path / "frames.h5"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pipeline.atomic import sole_writer\n"
                               "with sole_writer(sys.argv[1]):\n    print('held', flush=True); time.sleep(60)", str(out)],
                              stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(PipelineError, match=rf"frames\.h5: another process \(pid {holder.pid}\) is writing it now"):
            with atomic_output(out) as tmp:
                tmp.write_bytes(b"second")
        assert not out.exists()
    finally:
        holder.kill()
        holder.wait()
    with atomic_output(out) as tmp:  # the holder died (as kill -9 would): its lock went with it
        tmp.write_bytes(b"ok")
    assert out.read_bytes() == b"ok" and sorted(p.name for p in tmp_path.iterdir()) == ["frames.h5"]
