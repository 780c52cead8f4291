"""The encoder service: same features as the cache, own features per client, survives bad and dying clients."""

import multiprocessing
import os
import signal
import time

import numpy as np
import pytest
import torch

from pipeline.bench.synthetic import SyntheticEncoder, SyntheticEncoderConfig
from pipeline.encoders import Encoder, EncoderConfig
from pipeline.errors import PipelineError
from pipeline.service import InProcessEncoder, ServiceClient, ServiceConfig, ServiceHandle
from tests.service.conftest import running_service

CONFIG = ServiceConfig(EncoderConfig(weights="random"), image_size=64, cameras=2, max_batch=8, max_wait_ms=5)


def _hammer(endpoint, seed):
    """A client that encodes in a loop until it is killed."""
    client = ServiceClient(endpoint, 4)
    rng = np.random.default_rng(seed)
    while True:
        client.encode(rng.integers(0, 255, (4, 64, 64, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def service():
    with running_service(CONFIG) as handle:
        yield handle


def test_service_features_equal_cache_features(service):
    frames = np.random.default_rng(0).integers(0, 255, (4, 64, 64, 3), dtype=np.uint8)
    client = service.client(4)
    try:
        ours = client.encode(frames)
    finally:
        client.close()
    cache = Encoder(CONFIG.encoder).encode(frames).numpy()  # what pipeline.cache.encode stores
    np.testing.assert_allclose(ours, cache, rtol=1e-5, atol=1e-6)
    assert service.key == InProcessEncoder(CONFIG).key


@pytest.mark.slow
def test_dying_and_malformed_clients_do_not_disturb_the_others(service):
    ctx = multiprocessing.get_context("spawn")
    victims = [ctx.Process(target=_hammer, args=(service.endpoint, s), daemon=True) for s in range(2)]
    for p in victims:
        p.start()
    good = [service.client(4) for _ in range(2)]
    rng = np.random.default_rng(1)
    reference = Encoder(CONFIG.encoder)
    try:
        time.sleep(1.0)
        for step in range(12):
            if step == 4:
                os.kill(victims[0].pid, signal.SIGKILL)  # dies with requests in flight
            if step == 8:
                os.kill(victims[1].pid, signal.SIGKILL)
            for i, client in enumerate(good):
                frames = rng.integers(0, 255, (2 * (i + 1), 64, 64, 3), dtype=np.uint8)
                np.testing.assert_allclose(client.encode(frames), reference.encode(frames).numpy(), rtol=1e-5, atol=1e-6)
        bad = service.client(4)
        with pytest.raises(PipelineError, match=r"this service encodes \(64, 64, 3\) images"):
            bad.encode(np.zeros((2, 32, 32, 3), np.uint8))
        with pytest.raises(PipelineError, match="frames must be uint8"):
            bad.encode(np.zeros((1, 64, 64, 3), np.float16))
        with pytest.raises(PipelineError, match="not a multiple of the 2 cameras"):
            bad.encode(np.zeros((3, 64, 64, 3), np.uint8))
        with pytest.raises(PipelineError, match="do not fit this client.s 49152-byte segment"):
            bad.encode(np.zeros((6, 64, 64, 3), np.uint8))  # more frames than its segment holds
        frames = rng.integers(0, 255, (2, 64, 64, 3), dtype=np.uint8)  # the bad client is still served
        np.testing.assert_allclose(bad.encode(frames), reference.encode(frames).numpy(), rtol=1e-5, atol=1e-6)
        bad.close()
    finally:
        for client in good:
            client.close()
        for p in victims:
            p.kill()
            p.join()


@pytest.mark.slow
def test_a_service_that_cannot_start_says_why():
    with pytest.raises(PipelineError, match="could not start: .*unknown model 'resnet99'"):
        ServiceHandle(ServiceConfig(EncoderConfig(model="resnet99"), image_size=64))


@pytest.mark.slow
def test_the_service_submits_the_next_batch_while_one_runs():
    """A slow modelled device (the synthetic backend: 300 ms a batch): the second client's request, arriving while
    the first batch runs, is submitted behind it at once instead of waiting for the first answer; both get their
    own, correct features."""
    slow = SyntheticEncoderConfig(base_ms=300.0, per_frame_ms=0.0, dim=16)
    frames = np.random.default_rng(1).integers(0, 255, (2, 2, 64, 64, 3), dtype=np.uint8)
    with running_service(ServiceConfig(slow, image_size=64, max_wait_ms=0)) as handle:
        first, second = handle.client(2), handle.client(2)
        try:
            first.submit(frames[0])
            time.sleep(0.1)  # the first batch is on the device now
            second.submit(frames[1])
            ours = [first.collect(), second.collect()]
        finally:
            first.close()
            second.close()
        stats = handle.stats()
    assert (stats["batches"], stats["overlapped"]) == (2, 1)
    expected = SyntheticEncoder(slow).encode(frames.reshape(4, 64, 64, 3)).numpy().reshape(2, 2, -1)
    np.testing.assert_array_equal(np.stack(ours), expected)


@pytest.mark.slow
def test_submit_then_result_is_encode_and_in_process_refuses_misuse():
    frames = np.random.default_rng(2).integers(0, 255, (3, 64, 64, 3), dtype=np.uint8)
    encoder = Encoder(CONFIG.encoder)
    pending = encoder.submit(frames)
    assert pending.done() and pending.poll_after_s() == 0.0  # a CPU encodes in submit
    np.testing.assert_array_equal(pending.result().numpy(), encoder.encode(frames).numpy())
    local = InProcessEncoder(CONFIG)
    with pytest.raises(PipelineError, match="collect without a submitted request"):
        local.collect()
    local.submit(frames[:2])
    with pytest.raises(PipelineError, match="submit before the previous request was collected"):
        local.submit(frames[:2])
    np.testing.assert_array_equal(local.collect(), encoder.encode(frames[:2]).numpy())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (scripts/gpu_check.sh runs it)")
def test_cuda_feeding_gives_the_cpu_features_within_the_precision():
    """Two batches outstanding through pinned buffers and the encoder's own stream: each equals the CPU's fp32."""
    frames = np.random.default_rng(3).integers(0, 255, (2, 16, 64, 64, 3), dtype=np.uint8)
    cpu = Encoder(EncoderConfig(weights="random", device="cpu"))
    for precision, tol in (("fp32", 1e-3), ("auto", 5e-2)):
        gpu = Encoder(EncoderConfig(weights="random", device="cuda", precision=precision))
        pending = [gpu.submit(batch) for batch in frames]  # the second is staged while the first runs
        for batch, handle in zip(frames, pending):
            np.testing.assert_allclose(handle.result().numpy(), cpu.encode(batch).numpy(), rtol=tol, atol=tol)


@pytest.mark.slow
def test_a_service_with_both_batches_submitted_waits_without_spinning():
    """Two slow batches submitted and a third request pending: the loop sleeps until the oldest is done instead
    of polling the pending request's zero wait (which burned a core beside the renderers)."""
    slow = SyntheticEncoderConfig(base_ms=400.0, per_frame_ms=0.0, dim=16)
    frames = np.zeros((3, 1, 64, 64, 3), np.uint8)
    with running_service(ServiceConfig(slow, image_size=64, max_wait_ms=0)) as handle:
        clients = [handle.client(1) for _ in range(3)]
        try:
            for client, batch in zip(clients, frames):
                client.submit(batch)
                time.sleep(0.05)
            ticks = os.sysconf("SC_CLK_TCK")
            before = _cpu_seconds(handle.process.pid, ticks)
            time.sleep(0.5)
            used = _cpu_seconds(handle.process.pid, ticks) - before
            for client in clients:
                client.collect()
        finally:
            for client in clients:
                client.close()
    assert used < 0.2, f"the service used {used:.2f} s of CPU in 0.5 s while waiting"


def _cpu_seconds(pid: int, ticks: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
