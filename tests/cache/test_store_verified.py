"""A feature store is verified on read: a missing, flipped or truncated shard is one error naming it, never zeros."""

import shutil

import numpy as np
import pytest

from pipeline.errors import PipelineError
from pipeline.formats.features import FeatureStore, FeatureStoreWriter, StoreLayout, is_complete

ROWS, DIM, SHARD = 700, 8, 256


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "f.zarr"
    data = np.random.default_rng(0).standard_normal((ROWS, DIM)).astype(np.float32)
    writer = FeatureStoreWriter(path, "k" * 64, StoreLayout(ROWS, DIM, "float32", np.array([300, ROWS]), SHARD), {})
    for i in range(writer.layout.n_shards):
        writer.write_shard(i, data[i * SHARD : (i + 1) * SHARD])
    writer.finish()
    return path, data


@pytest.fixture
def store(original, tmp_path):
    path, data = original
    copy = tmp_path / "f.zarr"
    shutil.copytree(path, copy)
    return copy, data


def test_an_intact_store_reads_back_exactly(store):
    path, data = store
    reader = FeatureStore(path)
    np.testing.assert_array_equal(reader.all(), data)
    np.testing.assert_array_equal(reader.episode(1), data[300:])


def test_a_deleted_shard_is_refused_on_open(store):
    path, _ = store
    (path / "features/c/1/0").unlink()
    with pytest.raises(PipelineError, match=r"shard features/c/1/0 is missing \(1 of 3 shards\)"):
        FeatureStore(path)


def test_flipped_bytes_are_caught_on_open_and_by_the_chunk_checksums(store):
    path, data = store
    shard = path / "features/c/1/0"
    reader = FeatureStore(path)  # opened while intact: then flipped under it, the chunks' CRC32C still catches it
    raw = bytearray(shard.read_bytes())
    raw[100:116] = bytes(b ^ 0xFF for b in raw[100:116])
    shard.write_bytes(bytes(raw))
    np.testing.assert_array_equal(reader.rows(0, SHARD), data[:SHARD])  # shard 0 still reads
    with pytest.raises(PipelineError, match=r"shard features/c/1/0 is corrupted"):
        reader.all()
    with pytest.raises(PipelineError, match=r"shard features/c/1/0 is not the shard written there"):
        FeatureStore(path)


def test_a_truncated_shard_is_one_error(store):
    path, _ = store
    shard = path / "features/c/2/0"
    shard.write_bytes(shard.read_bytes()[:-40])
    with pytest.raises(PipelineError, match=r"shard features/c/2/0 is not the shard written there"):
        FeatureStore(path)


@pytest.mark.parametrize("damage", ["emptied", "swapped", "copied over"])
def test_a_shard_with_valid_checksums_but_other_content_is_refused_on_open(store, damage):
    """zarr reads an empty shard as fill values and a swapped or copied one as valid rows: only the recorded size
    and sha256 of each shard tell them apart."""
    path, _ = store
    first, second = path / "features/c/0/0", path / "features/c/1/0"
    if damage == "emptied":
        second.write_bytes(b"")
    elif damage == "swapped":
        a, b = first.read_bytes(), second.read_bytes()
        first.write_bytes(b)
        second.write_bytes(a)
    else:
        second.write_bytes(first.read_bytes())
    with pytest.raises(PipelineError, match=rf"shard features/c/{0 if damage == 'swapped' else 1}/0 is not the shard "
                                            r"written there"):
        FeatureStore(path)
    assert not is_complete(path, "k" * 64)  # so encode rebuilds it instead of reporting it complete


def test_random_corruptions_read_correctly_or_fail_with_one_line(original, tmp_path):
    """200 seeded corruptions of any file of the store: exact data back, or a PipelineError; nothing else."""
    path, data = original
    files = sorted(p.relative_to(path) for p in path.rglob("*") if p.is_file())
    rng = np.random.default_rng(1234)
    outcomes = {"exact": 0, "refused": 0}
    for trial in range(200):
        copy = tmp_path / f"t{trial}.zarr"
        shutil.copytree(path, copy)
        target = copy / files[rng.integers(len(files))]
        raw = bytearray(target.read_bytes())
        how = rng.integers(4)
        if how == 0:
            raw = raw[: rng.integers(len(raw))]  # truncation
        elif how == 1:
            for i in rng.integers(0, len(raw), rng.integers(1, 17)):
                raw[i] ^= 1 << int(rng.integers(8))  # bit flips
        elif how == 2:
            target.unlink()
            raw = None
        else:
            raw[rng.integers(len(raw)):] = rng.integers(0, 256, 8, dtype=np.uint8).tobytes()  # wrong tail
        if raw is not None:
            target.write_bytes(bytes(raw))
        try:
            got = FeatureStore(copy).all()
        except PipelineError as exc:
            assert "\n" not in str(exc) and str(copy) in str(exc), str(exc)
            outcomes["refused"] += 1
        else:
            np.testing.assert_array_equal(got, data, err_msg=f"trial {trial}: {target} silently wrong")
            outcomes["exact"] += 1
        shutil.rmtree(copy)
    assert outcomes["refused"] > 100, outcomes
