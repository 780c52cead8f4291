"""Demonstrations as the learner sees them: (observation, action) pairs in the policy's observation layout.

Vision: cached features of every camera at step t (the feature store) next to the 24 joints of step t (the frames
file). State: the demo file's own observations. The last state of each demo has no action and is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import PipelineError
from pipeline.formats.demos import read_demos
from pipeline.formats.features import FeatureStore
from pipeline.formats.frames import LEGACY_SCENE, FramesFile


@dataclass
class DemoData:
    observations: np.ndarray  # (N, obs_dim) float32
    actions: np.ndarray  # (N, A) float32
    n_demos: int
    provenance: dict  # feature store attributes (vision) or demo file attributes (state)
    source: str = ""  # the feature store (vision) or demo file (state) they were read from, for messages


def vision_demos(features_path: str | Path, frames_path: str | Path, proprio: bool) -> DemoData:
    store = FeatureStore(features_path)
    obs, actions = [], []
    with FramesFile(frames_path) as frames:
        if store.attrs.get("frames_sha256") and store.attrs["frames_file"] != Path(frames_path).name:
            raise PipelineError(f"{features_path}: encodes {store.attrs['frames_file']}, not {Path(frames_path).name}")
        _check_same_rendering(store.attrs, frames, features_path, frames_path)
        if frames.n_demos != len(store.episode_ends):
            raise PipelineError(f"{features_path}: {len(store.episode_ends)} episodes, {frames_path} has {frames.n_demos}")
        for i in range(frames.n_demos):
            features = store.episode(i)[:-1]
            parts = [features.astype(np.float32)]
            if proprio:
                parts.append(frames.demo(i)["proprio"][:-1].astype(np.float32))
            obs.append(np.concatenate(parts, axis=1))
            actions.append(frames.demo(i)["actions"][()].astype(np.float32))
    return DemoData(np.concatenate(obs), np.concatenate(actions), len(obs), dict(store.attrs), str(features_path))


def _check_same_rendering(store: dict, frames: FramesFile, features_path, frames_path) -> None:
    """The joints come from the frames file the features were encoded from: another size, render quality or scene
    means another file, whose rows would be paired with features of different images."""
    size, quality = list(frames.frame_size), frames.attrs.get("quality", "")
    stored_scene = store.get("render_scene", LEGACY_SCENE)
    if store.get("input_size") != size or store.get("render_quality") != quality or stored_scene != frames.scene:
        raise PipelineError(f"{frames_path}: frames rendered at {size[0]} px, quality {quality or '?'}, scene "
                            f"{frames.scene}; {features_path} encodes frames of "
                            f"{(store.get('input_size') or ['?'])[0]} px, quality {store.get('render_quality') or '?'}, "
                            f"scene {stored_scene}")


def state_demos(demos_path: str | Path) -> DemoData:
    attrs, episodes = read_demos(demos_path)
    obs = np.concatenate([ep.obs[:-1] for ep in episodes]).astype(np.float32)
    actions = np.concatenate([ep.actions for ep in episodes]).astype(np.float32)
    return DemoData(obs, actions, len(episodes), attrs, str(demos_path))
