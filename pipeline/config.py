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
from typing import TYPE_CHECKING, Any, TypeVar

import yaml

from pipeline.errors import PipelineError, brief

if TYPE_CHECKING:
    from pipeline.cluster import RayConfig
    from pipeline.encoders.encoder import EncoderConfig

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
    "train_policy": "pipeline.rl.config:TrainPolicyConfig",
    "evaluate": "pipeline.rl.config:EvaluateConfig",
    "ray": "pipeline.cluster:RayConfig",
}
_CLASSES = {target.split(":")[1]: target for target in SECTIONS.values()}
# top-level keys that are not a config class's section: the DVC matrices, the oracle's overrides of train_policy,
# and configs/paper.yaml's per-task overrides
TOP_LEVEL = ("tasks", "seeds", "train_oracle", "per_task")


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


def service_encoder(params_path: str | os.PathLike, encoder: str, model_file: str = "") -> EncoderConfig:
    """The encoder a policy's rollout service runs: exactly what the encode stage cached (params `encode`); an
    encoder trained here (vae, reward) takes its weights from its model file, which params cannot name (pretrained
    encoders ignore `model_file`)."""
    from pipeline.encoders.registry import get_encoder_spec

    cfg = load_section(params_path, "encode", section_class("encode"))
    return cfg.encoder_config(encoder, model_file if get_encoder_spec(encoder).trained_here else "")


def ray_config(params_path: str | os.PathLike, backend: str, address: str | None = None) -> RayConfig | None:
    """params `ray` (its defaults where the file has no such section) for backend ray, else None; `address`
    (a CLI flag) overrides ray.address."""
    if backend != "ray":
        return None
    cls = section_class("ray")
    params = _load_params(Path(params_path))
    cfg = load_section(params_path, "ray", cls) if "ray" in params else cls()
    return dataclasses.replace(cfg, address=address) if address is not None else cfg


def load_matrix(params_path: str | os.PathLike) -> tuple[list[str], list[int]]:
    """params.yaml's top-level `tasks` and `seeds`: the DVC matrices every stage runs over."""
    from pipeline.tasks.spec import TASKS

    params = _load_params(Path(params_path))
    tasks, seeds = params.get("tasks", ["door"]), params.get("seeds", [0])
    if not isinstance(tasks, list) or not tasks or any(t not in TASKS for t in tasks):
        raise PipelineError(f"{params_path}: tasks must be a non-empty list of {', '.join(TASKS)}, got {brief(tasks)}")
    if not isinstance(seeds, list) or not seeds or any(not isinstance(s, int) or isinstance(s, bool) for s in seeds):
        raise PipelineError(f"{params_path}: seeds must be a non-empty list of integers, got {brief(seeds)}")
    return tasks, seeds


def load_section(params_path: str | os.PathLike, section: str, cls: type[T], overrides: str | None = None) -> T:
    """Read one section of params.yaml into `cls`, refusing unknown keys (typos) and wrong types. With
    `overrides`, that section's keys (if it is there) replace the section's: `train_oracle` over `train_policy`."""
    path = Path(params_path)
    params = _load_params(path)
    if section not in params:
        raise PipelineError(f"{path}: no section {section!r}")
    values = dict(_mapping(path, params, section))
    if overrides and overrides in params:
        replaced = _mapping(path, params, overrides)
        _check_keys(cls, replaced, f"{path}: {overrides}")
        values.update(replaced)
    return from_dict(cls, values, where=f"{path}: {section}")


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
    fields = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
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


__all__ = ["SECTIONS", "from_dict", "load_matrix", "load_section", "section_class", "service_encoder", *_CLASSES]
