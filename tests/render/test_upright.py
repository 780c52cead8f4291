"""Rendered frames are upright: row 0 is the top of the camera's view, as the images RRL's encoders saw (RRL flips
mujoco-py's bottom-up buffer, `img[::-1]`; mujoco.Renderer returns it top-down). Checked geometrically: two bodies
painted in their own colours land where the camera's pinhole projection puts them, not mirrored."""

import numpy as np

from pipeline.render.renderer import FrameRenderer
from pipeline.tasks import make_env

SIZE = 128
PAINT = {"door": (1.0, 0.0, 0.0, 1.0), "palm": (0.0, 1.0, 0.0, 1.0)}  # far below / above the image centre


def _projected(renderer: FrameRenderer, body: str) -> tuple[float, float]:
    """(column, row) of a body's origin through the camera's pinhole: MuJoCo cameras look down -z with +y up."""
    camera = renderer.data.cam(renderer.cameras[0])
    x, y, z = camera.xmat.reshape(3, 3).T @ (renderer.data.body(body).xpos - camera.xpos)
    focal = (SIZE / 2) / np.tan(np.radians(renderer.model.camera(renderer.cameras[0]).fovy[0]) / 2)
    return SIZE / 2 + focal * x / -z, SIZE / 2 - focal * y / -z


def _centroid(frame: np.ndarray, channel: int) -> tuple[float, float]:
    others = [c for c in range(3) if c != channel]
    mask = (frame[..., channel] > 100) & (frame[..., others].max(-1) < 60)
    rows, cols = np.nonzero(mask)
    assert mask.sum() > 30, "the painted body is not in view"
    return cols.mean(), rows.mean()


def test_a_rendered_door_frame_is_upright():
    task = "door"
    env = make_env(task, "rrl", None, "rrl")
    env.reset(seed=0)
    state = env.get_state()
    with FrameRenderer(task, SIZE, "fast") as renderer:
        model = renderer.model  # the renderer's private model: painting it changes nothing else
        model.geom_rgba[:] = (0.1, 0.1, 0.1, 1.0)
        model.mat_rgba[:] = (0.1, 0.1, 0.1, 1.0)
        for body, rgba in PAINT.items():
            geoms = np.flatnonzero(model.geom_bodyid == model.body(body).id)
            model.geom_rgba[geoms], model.geom_matid[geoms] = rgba, -1
        frame = renderer.render(state)[0].astype(int)
        for channel, body in enumerate(PAINT):
            col, row = _centroid(frame, channel)
            expected_col, expected_row = _projected(renderer, body)
            # within 12 px (the painted geoms extend around the body's origin); a flipped image is 40+ px off
            assert abs(row - expected_row) < 12 and abs(col - expected_col) < 12, (body, col, row, expected_col,
                                                                                    expected_row)
            assert abs((SIZE - row) - expected_row) > 30  # so it tells upright from upside down
