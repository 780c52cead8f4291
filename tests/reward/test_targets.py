"""The targets: each image's signals at its next steps, from the same episode and camera, masked past the end."""

import numpy as np

from pipeline.reward.targets import future_targets


def test_future_targets_follow_the_episode_and_camera_and_stop_at_its_end():
    # two episodes (3 and 2 states) of two cameras, state-major camera-minor as render_vae_data writes them
    episode = np.array([7, 7, 7, 7, 7, 7, 8, 8, 8, 8])
    step = np.array([0, 0, 1, 1, 2, 2, 0, 0, 1, 1])
    camera = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
    signals = np.stack([10 * episode + step, -step], 1).astype(np.float32)  # (N, 2)
    targets, mask = future_targets(signals, episode, step, camera, horizon=3)
    assert targets.shape == (10, 2, 3) and mask.shape == (10, 3)
    np.testing.assert_array_equal(mask[0], [True, True, True])  # episode 7, step 0: steps 0, 1, 2
    np.testing.assert_array_equal(targets[0, 0], [70, 71, 72])
    np.testing.assert_array_equal(targets[1, 1], [0, -1, -2])  # camera 1 follows camera 1's rows
    np.testing.assert_array_equal(mask[4], [True, False, False])  # the last state of episode 7
    np.testing.assert_array_equal(mask[6], [True, True, False])  # episode 8 does not borrow episode 7's rows
    np.testing.assert_array_equal(targets[6, 0], [80, 81, 0])
    np.testing.assert_array_equal(mask[9], [True, False, False])  # the file's last row
