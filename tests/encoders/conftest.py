import pytest

from pipeline.config import RenderDemosConfig
from pipeline.render.stage import render_demos
from tests.render.conftest import make_demo_file


def make_frames(path, size=256, n=2, horizon=7, task="door", quality="fast", scene="rrl"):
    demos = path.with_suffix(".demos.h5")
    make_demo_file(demos, task=task, n=n, horizon=horizon)
    render_demos(demos, path, RenderDemosConfig(size=size, quality=quality, scene=scene, workers=1), progress=False)
    return path


@pytest.fixture(scope="session")
def frames_256(tmp_path_factory):
    return make_frames(tmp_path_factory.mktemp("frames") / "door.h5")
