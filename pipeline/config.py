"""params.yaml -> the library's typed configs: the top layer, beside stages/ and cli.py.

Each library part owns the frozen dataclass of the section it runs (`pipeline/demos/config.py`,
`render/config.py`, `cache/config.py`, `rl/config.py`, `vae/config.py`); this module only reads params.yaml,
refuses unknown keys and wrong types with one line, and hands the typed config in. No library module imports it.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import os
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from pipeline.errors import PipelineError, brief

T = TypeVar("T")

# Each params.yaml section and the library config it maps to (imported when first asked for: a stage that makes
# demos does not import torch).
SECTIONS = {
    "make_demos": "pipeline.demos.config:MakeDemosConfig",
    "render_demos": "pipeline.render.config:RenderDemosConfig",
    "render_vae_data": "pipeline.render.config:RenderVaeDataConfig",
    "encode": "pipeline.cache.config:EncodeConfig",
    "train_vae": "pipeline.vae.config:TrainVaeConfig",
    "train_reward_encoder": "pipeline.reward.config:TrainRewardEncoderConfig",
    "train_policy": "pipeline.dapg.config:TrainPolicyConfig",
    "evaluate": "pipeline.rollout.config:EvaluateConfig",
    "ray": "pipeline.cluster:RayConfig",
}
_CLASSES = {target.split(":")[1]: target for target in SECTIONS.values()}
# top-level keys that are not a config class's section: the DVC matrices, the oracle's overrides of train_policy,
# and configs/paper.yaml's per-task overrides
TOP_LEVEL = ("tasks", "seeds", "encoders", "policy_encoders", "train_oracle", "per_task")
# Without a params file (`rrl-pipe` outside a project) the dataclasses' defaults and these stand for params.yaml;
# tests/test_config.py proves both equal the project's params.yaml, so there is one set of numbers.
MATRIX_DEFAULTS = {"tasks": ["door"], "seeds": [0], "encoders": ["resnet18", "efficientnet_lite0"],
                   "policy_encoders": ["resnet18", "efficientnet_lite0", "vae", "reward"]}
OVER_SECTION_DEFAULTS = {"train_oracle": {"iterations": 15, "episodes": 40, "eval_episodes": 25}}  # the oracle: longer


def _import(target: str) -> Any:
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


def section_class(section: str) -> type:
    """The config class of a params.yaml section."""
    return _import(SECTIONS[section])


def __getattr__(name: str) -> Any:
    """`from pipeline.config import TrainPolicyConfig` still works (scripts, tests): the class from its part."""
    if name == "DEMO_SOURCES":
        return _import("pipeline.demos.config:DEMO_SOURCES")
    if name not in _CLASSES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _import(_CLASSES[name])


@dataclasses.dataclass(frozen=True)
class Matrix:
    """params.yaml's top-level DVC matrices: what every stage runs over."""

    tasks: list[str]
    seeds: list[int]
    encoders: list[str]  # the frozen encoders the encode stage caches
    policy_encoders: list[str]  # the feature stores policies train on (the state oracle runs beside them)


def load_matrix(params_path: str | os.PathLike | None, choices: dict[str, list[str]]) -> Matrix:
    """params.yaml's `tasks`, `seeds`, `encoders` and `policy_encoders`; each list of names must be a non-empty
    subset of its `choices` (the tasks and encoders there are, which the caller knows)."""
    params = _load_params(Path(params_path)) if params_path is not None else {}
    values = {key: params.get(key, default) for key, default in MATRIX_DEFAULTS.items()}
    for key, allowed in choices.items():
        names = values[key]
        if not isinstance(names, list) or not names or any(n not in allowed for n in names):
            raise PipelineError(f"{params_path}: {key} must be a non-empty list of {', '.join(allowed)}, got {brief(names)}")
    seeds = values["seeds"]
    if not isinstance(seeds, list) or not seeds or any(not isinstance(s, int) or isinstance(s, bool) for s in seeds):
        raise PipelineError(f"{params_path}: seeds must be a non-empty list of integers, got {brief(seeds)}")
    return Matrix(**values)


def load_section(params_path: str | os.PathLike | None, section: str, cls: type[T], over: str | None = None,
                 given: dict[str, Any] | None = None, optional: bool = False) -> T:
    """Read one section of params.yaml into `cls`, refusing unknown keys (typos) and wrong types. With `over`,
    that section's keys (if it is there) replace the section's: `train_oracle` over `train_policy`. `given` (the
    command line's options) replaces both and passes the same checks. Without a params file, or without an
    `optional` section in it: the defaults."""
    values: dict[str, Any] = {}
    if params_path is not None:
        path = Path(params_path)
        params = _load_params(path)
        if section in params:
            values.update(_mapping(path, params, section))
        elif not optional:
            raise PipelineError(f"{path}: no section {section!r}")
        if over and over in params:
            replaced = _mapping(path, params, over)
            _check_keys(cls, replaced, f"{path}: {over}")
            values.update(replaced)
    elif over in OVER_SECTION_DEFAULTS:
        values.update(OVER_SECTION_DEFAULTS[over])
    values.update(given or {})
    return from_dict(cls, values, where=section if params_path is None else f"{params_path}: {section}")


def _mapping(path: Path, params: dict, section: str) -> dict:
    values = params[section] or {}
    if not isinstance(values, dict):
        raise PipelineError(f"{path}: section {section!r} is {brief(values)}, expected a mapping of keys")
    return values


def _load_params(path: Path) -> dict:
    try:
        params = yaml.load(path.read_text(), Loader=_UniqueKeyLoader) or {}
    except (FileNotFoundError, IsADirectoryError):
        raise PipelineError(f"{path}: no such params file") from None
    except yaml.YAMLError as exc:
        raise PipelineError(
            f"{path}: not valid YAML ({str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__})"
        ) from None
    if not isinstance(params, dict):
        raise PipelineError(f"{path}: expected a mapping of sections at the top, found {brief(params)}")
    known = [*TOP_LEVEL, *SECTIONS]
    for key in params:
        if key not in known:  # a misspelt section would otherwise be ignored, its stage running on defaults
            hint = difflib.get_close_matches(str(key), known, n=1)
            raise PipelineError(f"{path}: unknown section {key!r}" + (f"; did you mean {hint[0]!r}?" if hint else
                                                                      f"; known sections: {', '.join(known)}"))
    return params


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.safe_load, except that a key given twice in one mapping is an error (YAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, (str, int, float, bool, type(None))):
                continue  # an unhashable key: SafeLoader's own error follows
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (line {key_node.start_mark.line + 1})", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def from_dict(cls: type[T], values: dict[str, Any], where: str) -> T:
    """Build a config dataclass from a mapping with a one-line error for each kind of mistake."""
    _check_keys(cls, values, where)
    hints = typing.get_type_hints(cls)
    for key, value in values.items():
        if not _type_ok(value, hints[key]):
            raise PipelineError(f"{where}.{key}: {brief(value)} is not of type {_type_name(hints[key])}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def _check_keys(cls: type, values: dict[str, Any], where: str) -> None:
    fields = [f.name for f in dataclasses.fields(cls)]
    for key in values:
        if key not in fields:
            hint = difflib.get_close_matches(key, fields, n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else f"; known keys: {', '.join(fields)}"
            raise PipelineError(f"{where}.{key} is not a known key{suggestion}")


def _type_ok(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is tuple:
        args = typing.get_args(hint)
        return isinstance(value, (list, tuple)) and all(_type_ok(v, args[0]) for v in value)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", str(hint))


__all__ = ["SECTIONS", "Matrix", "from_dict", "load_matrix", "load_section", "section_class", *_CLASSES]
