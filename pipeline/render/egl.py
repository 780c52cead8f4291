"""Which GPU a render worker's EGL context goes on (MuJoCo reads MUJOCO_EGL_DEVICE_ID when it makes its display).

With one NVIDIA GPU MuJoCo's own choice is right (it orders CUDA-backed EGL devices first); with several, every
worker would land on the first one, so workers are spread round-robin. Without a GPU (Mesa's software renderer),
with another MUJOCO_GL, or when the user set MUJOCO_EGL_DEVICE_ID, nothing is touched.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

_NVIDIA_GPUS = "/proc/driver/nvidia/gpus"  # one folder per GPU the driver runs; no CUDA context needed to count


def visible_gpus(environ: MutableMapping[str, str] = os.environ) -> int:
    """NVIDIA GPUs this process may use: CUDA_VISIBLE_DEVICES' entries if set, else the driver's count."""
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and not d.strip().startswith("-")])
    try:
        return len(os.listdir(_NVIDIA_GPUS))
    except OSError:
        return 0


def assign_egl_device(worker: int, environ: MutableMapping[str, str] = os.environ) -> str | None:
    """Call first thing in render worker `worker` (0, 1, ...), before any renderer exists; returns the device id
    it set, or None where MuJoCo's own choice stands."""
    if environ.get("MUJOCO_GL", "egl") != "egl" or "MUJOCO_EGL_DEVICE_ID" in environ:
        return None
    gpus = visible_gpus(environ)
    if gpus < 2:
        return None
    environ["MUJOCO_EGL_DEVICE_ID"] = str(worker % gpus)
    return environ["MUJOCO_EGL_DEVICE_ID"]
