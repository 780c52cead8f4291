"""rrl-pipe: offline feature caching and DAPG training after RRL (Shah & Kumar, ICML 2021)."""

import os

# MuJoCo chooses its OpenGL backend when it is first imported: default to headless EGL (Mesa's software
# rasteriser without a GPU) before any module imports mujoco. Users override with MUJOCO_GL=osmesa|glfw.
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])

__version__ = "0.1.0"
