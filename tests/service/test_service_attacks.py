"""The service against hostile and broken clients: it never unpickles, never dies of a message, is never stalled.

Raw sockets speak the wire format (pipeline/service/protocol.py) directly, as an attacker would.
"""

import os
import pickle
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from pipeline.encoders import Encoder, EncoderConfig
from pipeline.errors import PipelineError
from pipeline.service import ServiceClient, ServiceConfig, ServiceHandle, protocol
from pipeline.service.protocol import ENCODE, ERROR, HELLO, Request
from tests.service.conftest import running_service, segments, settled_segments

CONFIG = ServiceConfig(EncoderConfig(weights="random"), image_size=32, cameras=1, max_batch=8, max_wait_ms=2,
                       max_client_frames=64, client_timeout_s=60.0)
REFERENCE = Encoder(CONFIG.encoder)


@pytest.fixture(scope="module")
def service():
    with running_service(CONFIG) as handle:
        yield handle


def _raw(service, authenticate: bool = True) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(service.address)
    nonce = protocol.recv_exactly(sock, protocol.NONCE_BYTES)
    if authenticate:
        sock.sendall(protocol.digest(service.authkey, nonce))
    return sock


def _closed_by_service(sock: socket.socket) -> bool:
    try:
        while True:
            if not sock.recv(4096):
                return True
    except (TimeoutError, ConnectionError):
        return False


def _still_serves(service) -> None:
    client = service.client(4)
    try:
        frames = np.random.default_rng(0).integers(0, 255, (3, 32, 32, 3), dtype=np.uint8)
        np.testing.assert_allclose(client.encode(frames), REFERENCE.encode(frames).numpy(), rtol=1e-5, atol=1e-6)
    finally:
        client.close()


class _RunsCode:
    def __reduce__(self):
        return (Path.touch, (Path(os.environ["RRL_PWNED"]),))


def test_a_pickle_sent_by_a_client_is_never_unpickled(service, tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("RRL_PWNED", str(marker))
    payload = pickle.dumps(_RunsCode())
    for authenticate in (False, True):  # before the handshake and after it, with the key
        sock = _raw(service, authenticate)
        sock.sendall(struct.pack("!i", len(payload)) + payload + bytes(64))
        assert _closed_by_service(sock)
        sock.close()
    assert not marker.exists(), "the service ran code a client sent"
    _still_serves(service)


@pytest.mark.parametrize("request_, expect", [
    (Request(HELLO, 1, 2**32 - 1), "segment holds 1 to 64 frames, not 4294967295"),
    (Request(HELLO, 1, 10**7), "segment holds 1 to 64 frames"),
    (Request(HELLO, 1, 0), "segment holds 1 to 64 frames, not 0"),
    (Request(ENCODE, 5, 2, 32, 32, 3), "say hello first"),
    (Request(99, 6, 0), "unknown request kind 99"),
])
def test_a_bad_request_gets_one_error_and_the_service_goes_on(service, request_, expect):
    before = segments(service)
    sock = _raw(service)
    sock.sendall(protocol.pack_request(request_))
    kind, request_id, _, why = protocol.recv_reply(sock)
    assert (kind, request_id) == (ERROR, request_.request_id) and expect in why
    sock.close()
    _still_serves(service)
    assert settled_segments(service, before) <= before


def test_a_second_request_in_flight_and_lies_about_shapes_are_refused(service):
    sock = _raw(service)
    sock.sendall(protocol.pack_request(Request(HELLO, 1, 4)))
    assert protocol.recv_reply(sock)[0] == protocol.SEGMENT
    sock.sendall(protocol.pack_request(Request(ENCODE, 2, 4, 2**31, 2**31, 3)))
    assert "this service encodes (32, 32, 3) images" in protocol.recv_reply(sock)[3]
    sock.sendall(
        protocol.pack_request(Request(ENCODE, 3, 2, 32, 32, 3)) + protocol.pack_request(Request(ENCODE, 4, 2, 32, 32, 3))
    )
    replies = {protocol.recv_reply(sock)[1:4:2] for _ in range(2)}
    assert (4, "one request at a time: wait for the reply") in replies and (3, "") in replies
    sock.close()
    _still_serves(service)


def test_garbage_wrong_keys_and_foreign_records_drop_only_that_client(service):
    attacks = [
        (False, os.urandom(32)),  # a wrong key
        (True, os.urandom(32)),  # random bytes as a record
        (True, b"XXXX" + protocol.pack_request(Request(HELLO, 1, 4))[4:]),  # another magic
    ]
    for authenticate, data in attacks:
        sock = _raw(service, authenticate)
        sock.sendall(data)
        assert _closed_by_service(sock)
        sock.close()
    _still_serves(service)


@pytest.mark.slow
def test_stalling_clients_do_not_slow_eight_normal_clients(service):
    before = segments(service)
    silent = _raw(service, authenticate=False)  # never answers the handshake
    half = _raw(service)
    half.sendall(protocol.pack_request(Request(HELLO, 1, 4))[:10])  # half a record, then nothing
    header_only = _raw(service)
    header_only.sendall(b"\x00\x00\x10\x00")  # what a length prefix would look like
    failures: list[str] = []
    latencies: list[float] = []

    def normal(seed: int) -> None:
        try:
            client = service.client(4)
            rng = np.random.default_rng(seed)
            for _ in range(10):
                frames = rng.integers(0, 255, (4, 32, 32, 3), dtype=np.uint8)
                start = time.perf_counter()
                features = client.encode(frames)
                latencies.append(time.perf_counter() - start)
                np.testing.assert_allclose(features, REFERENCE.encode(frames).numpy(), rtol=1e-5, atol=1e-6)
            client.close()
        except Exception as exc:  # noqa: BLE001 - collected for the assertion below
            failures.append(repr(exc))

    threads = [threading.Thread(target=normal, args=(seed,)) for seed in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not failures and len(latencies) == 80
    # a staller that could block the loop would hold requests until it is dropped, after the 60 s client timeout
    assert max(latencies) < CONFIG.client_timeout_s / 2, sorted(latencies)[-5:]
    for sock in (silent, half, header_only):
        sock.close()
    _still_serves(service)
    assert settled_segments(service, before) <= before


@pytest.mark.slow
def test_a_client_stalled_mid_message_is_dropped_after_the_timeout():
    with ServiceHandle(ServiceConfig(EncoderConfig(weights="random"), image_size=32, client_timeout_s=0.5)) as handle:
        silent, half = _raw(handle, authenticate=False), _raw(handle)
        half.sendall(b"RRLE\x01")
        assert _closed_by_service(silent) and _closed_by_service(half)


@pytest.mark.slow
def test_the_timeout_bounds_a_whole_message_not_one_read():
    """A client that sends one byte of a record every 0.2 s: each read used to restart the timer, so it stayed."""
    with ServiceHandle(ServiceConfig(EncoderConfig(weights="random"), image_size=32, client_timeout_s=0.5)) as handle:
        trickle = _raw(handle)
        start = time.monotonic()
        dropped = False
        for byte in b"RRLE\x01" + bytes(protocol.REQUEST.size):
            try:
                trickle.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                dropped = True
                break
            time.sleep(0.2)
            if time.monotonic() - start > 5:
                break
        assert dropped or _closed_by_service(trickle)
        assert time.monotonic() - start < 3


@pytest.mark.slow
def test_a_service_killed_with_its_parent_leaves_no_socket_file(tmp_path):
    """The service listens on an abstract socket (Linux): kill -9 of the stage leaves nothing in the temp folder."""
    parent = subprocess.Popen([sys.executable, "-c", (
        "import time; from pipeline.encoders import EncoderConfig; from pipeline.service.client import ServiceHandle; "
        "from pipeline.service.server import ServiceConfig\n"
        "h = ServiceHandle(ServiceConfig(EncoderConfig(weights='random'), image_size=32))\n"
        "print(repr(h.address), flush=True); time.sleep(120)")],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "TMPDIR": str(tmp_path)})
    try:
        address = parent.stdout.readline().strip()
        assert address.startswith("'\\x00rrl-encoder-"), address
    finally:
        parent.kill()
        parent.wait()
    time.sleep(0.5)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("rrl-encoder-")]


@pytest.mark.slow
def test_clients_get_one_clear_error_when_the_service_is_gone():
    handle = ServiceHandle(ServiceConfig(EncoderConfig(weights="random"), image_size=32))
    client = handle.client(2)
    handle.process.kill()
    handle.process.join()
    with pytest.raises(PipelineError, match=r"^the encoder service is gone \(it stopped or died\)"):
        client.encode(np.zeros((1, 32, 32, 3), np.uint8))
    client.close()
    handle.close()
    with pytest.raises(PipelineError, match="cannot reach the encoder service"):
        ServiceClient(handle.endpoint, 2)
