"""Outputs are written completely or not at all."""

import pytest

from pipeline.atomic import atomic_output


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
