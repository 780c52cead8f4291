"""kill -9 of a stage leaves no worker running: render pool, env workers and the encoder service die with it."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

PARENT = textwrap.dedent("""
    import time
    from pipeline.encoders import EncoderConfig
    from pipeline.render.pool import RenderJob, RendererConfig, render_jobs
    from pipeline.rollout.sampler import ObsConfig, Sampler
    from pipeline.service import ServiceConfig, ServiceHandle
    from pipeline.tasks import make_env

    service = ServiceHandle(ServiceConfig(EncoderConfig(weights="random"), image_size=32))
    sampler = Sampler("door", ObsConfig(mode="state"), workers=2)
    env = make_env("door", "rrl")
    env.reset(seed=0)
    state = env.get_state()

    def jobs():
        for i in range(4):
            yield RenderJob(i, [state])
        print("ready", flush=True)
        time.sleep(3600)  # the stage is busy: its parent is killed here

    for _ in render_jobs(RendererConfig("door", 32, "fast", None), jobs(), workers=2):
        pass
""")


def _children(pid: int) -> set[int]:
    kids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                kids.add(int(entry.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent (now init) has not reaped it


@pytest.mark.slow
def test_workers_die_when_the_stage_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[1], env=dict(os.environ))
    try:
        assert parent.stdout.readline().strip() == "ready"
        children = _children(parent.pid)
        assert len(children) >= 5, children  # service, 2 env workers, 2 render workers (+ resource tracker)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 20
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        survivors = {pid for pid in children if _alive(pid)}
        assert not survivors, f"orphans still running: {survivors}"
    finally:
        if parent.poll() is None:
            parent.kill()
