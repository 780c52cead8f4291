"""The encoder service: same features as the cache, own features per client, survives bad and dying clients."""

import multiprocessing
import os
import signal
import time

import numpy as np
import pytest

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


def test_a_service_that_cannot_start_says_why():
    with pytest.raises(PipelineError, match="could not start: .*unknown model 'resnet99'"):
        ServiceHandle(ServiceConfig(EncoderConfig(model="resnet99"), image_size=64))
