"""The Ray backend's connection (params.yaml `ray`): start a local Ray instance or join a running cluster, and
refuse, in one line, what the cluster can never run. Ray is an optional extra (`pip install -e ".[ray]"`); the
local backend never imports it.

Ray does the distributed work (scheduling, the object store, restarting dead actors); this module only connects
and checks. The env workers and the encoder service as actors: pipeline/rollout/ray_sampler.py and
pipeline/service/ray_service.py; the encode stage's actor pool: pipeline/cache/ray_encode.py.
"""

from __future__ import annotations

import math
import os
import re
import socket
from dataclasses import dataclass
from typing import Any

from pipeline.errors import PipelineError, check_choice

BACKENDS = ("local", "ray")
# the render settings every actor needs, wherever Ray starts it (a cluster node has not seen this shell)
_ACTOR_ENV = ("MUJOCO_GL", "PYOPENGL_PLATFORM", "EGL_PLATFORM")


@dataclass(frozen=True)
class RayConfig:
    """params.yaml `ray`: where the Ray backend runs (train_policy, evaluate and encode with `backend: ray`)."""

    address: str = ""  # empty: start a local Ray instance | auto (the cluster this machine is in) | host:port | ray://host:10001
    encoder_cpus: float = 1.0  # CPUs each encoder actor (a service, an encode actor) reserves: a CPU encoder's torch threads
    # GPUs each encoder actor reserves: auto (1 where the cluster has GPUs and encode.device is not cpu) | a number
    # (0.5: two share one)
    encoder_gpus: float | str = "auto"
    encode_actors: int = 0  # encode stage: actors in the pool (0: one per GPU of the cluster, else 2)
    services: int = 1  # rollout encoder service actors (0: one per GPU of the cluster); env actors go beside theirs

    def __post_init__(self) -> None:
        if self.encoder_gpus != "auto" and not (isinstance(self.encoder_gpus, (int, float)) and self.encoder_gpus >= 0):
            raise PipelineError(f"ray.encoder_gpus must be auto or a number >= 0, not {self.encoder_gpus!r}")
        if self.encoder_cpus < 0 or self.encode_actors < 0 or self.services < 0:
            raise PipelineError("ray: encoder_cpus, encode_actors and services must be >= 0")


def check_backend(section: str, backend: str) -> None:
    check_choice(f"{section}.backend", backend, BACKENDS)


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise PipelineError('backend ray needs Ray: pip install -e ".[ray]" (or use backend: local)') from None
    return ray


def connect(cfg: RayConfig, cpus_needed: float = 1.0) -> Any:
    """The `ray` module, initialised: an instance already running in this process is reused (tests, notebooks);
    address "" starts a local one with at least `cpus_needed` logical CPUs (its workers share the cores, as the
    local backend's processes do); anything else joins that cluster."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    runtime_env = {"env_vars": {k: os.environ[k] for k in _ACTOR_ENV if k in os.environ}}
    try:
        if cfg.address:
            _check_answers(cfg.address)
            ray.init(address=cfg.address, runtime_env=runtime_env, log_to_driver=True)
        else:
            ray.init(address="local", num_cpus=max(os.cpu_count() or 1, math.ceil(cpus_needed)),
                     include_dashboard=False, runtime_env=runtime_env, log_to_driver=True)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise PipelineError(_connect_failure(cfg.address, exc)) from None
    return ray


def _check_answers(address: str, timeout_s: float = 10.0) -> None:
    """Refuse at once a host:port (or ray://host:port) where nothing listens: ray.init retries such an address for
    minutes before it gives up (over 200 s measured). `auto` and `local` are Ray's own words, checked by Ray."""
    if address in ("auto", "local"):
        return
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if address.startswith("ray://") and not port.isdigit():
        host, port = target, "10001"  # Ray Client's default port
    if not host or not port.isdigit():
        raise PipelineError(f"ray.address {address!r}: expected auto, host:port or ray://host:port")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise PipelineError(f"ray: nothing answers at {address} ({exc.strerror or exc}): is its head node "
                            "running (`ray start --head`)?") from None


def _connect_failure(address: str, exc: BaseException) -> str:
    """One line on why ray.init failed. Ray's ConnectionError only says that it failed; the reason is in the
    exception it chained, whose text can hold a whole traceback from Ray's C++ client: we take its last error line."""
    cause = exc
    while cause.__cause__ is not None:
        cause = cause.__cause__
    where = address or "a local instance"
    text = str(cause)
    if "AuthenticationError" in text or "InvalidAuthToken" in text:
        # `ray start` turns token auth on by default (Ray 2.60, our pin); a driver sends its token to an address it
        # was given only when told to, so that a mistyped address never receives it: ours does not override that
        return (f"ray: {where} wants the cluster's auth token: set RAY_AUTH_MODE=token, with the head node's "
                "~/.ray/auth_token on this machine (or RAY_AUTH_TOKEN), or use ray.address auto on a cluster node")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if re.match(r"[\w.]*(Error|Exception)\b", line)]
    reason = errors[-1] if errors else lines[0] if lines else type(cause).__name__
    return f"ray: cannot start or reach {where}: {reason}"


def encoder_gpus(cfg: RayConfig, device: str) -> float:
    """GPUs an encoder actor reserves: `auto` takes one where the cluster has any and the encoder may use CUDA (the
    driver may have no GPU while the cluster's nodes do, so the driver's own devices say nothing)."""
    if cfg.encoder_gpus != "auto":
        return float(cfg.encoder_gpus)
    return 1.0 if device != "cpu" and gpus_in_cluster() >= 1 else 0.0


def gpus_in_cluster() -> int:
    return int(import_ray().cluster_resources().get("GPU", 0))


def require(cpus: float, gpus: float, what: str) -> None:
    """Refuse at once what the cluster can never schedule (Ray would wait forever for the resources)."""
    ray = import_ray()
    have = ray.cluster_resources()
    if have.get("CPU", 0) < cpus or have.get("GPU", 0) < gpus:
        raise PipelineError(f"ray: {what} need {cpus:g} CPUs and {gpus:g} GPUs; the cluster has "
                            f"{have.get('CPU', 0):g} and {have.get('GPU', 0):g}")


def actor_failure(exc: BaseException) -> str:
    """One line for a Ray error: the failing actor's own exception where Ray carries it (RayTaskError.cause)."""
    cause = getattr(exc, "cause", None) or exc
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0]}" if lines else type(cause).__name__
