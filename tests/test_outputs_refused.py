"""An output that would destroy an input, or that is the wrong kind of thing, is refused before any work."""

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.atomic import check_output
from pipeline.errors import PipelineError

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})


@pytest.fixture(scope="module")
def demos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demos")
    out = folder / "door.h5"
    run = _cli("make-demos", "--task", "door", "--source", "scripted", "--episodes", "1", "--out", str(out), cwd=folder)
    assert run.returncode == 0, run.stderr
    return out


def test_render_demos_onto_its_own_input_is_refused_and_the_input_survives(demos):
    before = demos.read_bytes()
    run = _cli("render-demos", "--demos", str(demos), "--out", str(demos), "--size", "32", cwd=demos.parent)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        f"error: {demos}: is also an input; writing it would destroy that input (choose another --out)"
    ]
    assert demos.read_bytes() == before
    # the same file under another spelling
    run = _cli("render-demos", "--demos", str(demos), "--out", f"{demos.parent}/../{demos.parent.name}/door.h5", cwd=demos.parent)
    assert run.returncode == 2 and "is also an input" in run.stderr and demos.read_bytes() == before


@pytest.mark.slow
def test_encode_into_a_file_is_refused_before_encoding(demos, tmp_path):
    frames = tmp_path / "frames.h5"
    assert _cli("render-demos", "--demos", str(demos), "--out", str(frames), "--size", "32", cwd=tmp_path).returncode == 0
    a_file = tmp_path / "store.zarr"
    a_file.write_text("not a store")
    run = _cli(
        "encode", "--model", "resnet18", "--weights", "random", "--frames", str(frames), "--out", str(a_file), cwd=tmp_path
    )
    assert run.returncode == 2 and run.stderr.strip().endswith(
        "is a file; this writes a folder there (remove it or choose another --out)"
    )
    assert a_file.read_text() == "not a store" and not list(tmp_path.glob(".*partial*"))


def test_check_output_rules(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "demos.h5").write_bytes(b"x")
    with pytest.raises(PipelineError, match="holds the input"):
        check_output(data, "dir", [data / "demos.h5"])
    with pytest.raises(PipelineError, match="is a folder; this writes a file"):
        check_output(data, "file")
    with pytest.raises(PipelineError, match=r"demos.h5 is a file, not a folder"):
        check_output(data / "demos.h5" / "out.h5", "file")
    with pytest.raises(PipelineError, match="cannot write there"):
        check_output("/proc/x.h5", "file")
    check_output(data / "new" / "frames.h5", "file", [data / "demos.h5", None])  # fine: creates the folder only
    assert not list((data / "new").iterdir())
