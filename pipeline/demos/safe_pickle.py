"""An allow-list unpickler for user-supplied pickles (DESIGN.md section 6: never `pickle.load` a user's file).

`pickle.load` calls whatever global a file names, so a pickle is a program. This unpickler resolves only the
globals that the hand_dapg files need and refuses every other one with a PipelineError naming the file and
the global, before anything is called:

- numpy arrays, dtypes and scalars (`numpy.core.multiarray._reconstruct`, its numpy 2 spelling
  `numpy._core.multiarray._reconstruct`, `_frombuffer`, `scalar`, `numpy.ndarray`, `numpy.dtype`);
- `collections.OrderedDict` and a few inert builtins (set, frozenset, bytearray, complex, slice); `_codecs.encode`
  for latin1 text only (how a protocol-2 pickle written by Python 3 spells bytes);
- torch tensors: `torch._utils._rebuild_tensor_v2` / `_rebuild_tensor` / `_rebuild_parameter`. The storages in
  a plain-pickled torch object come as `torch.storage._load_from_bytes(bytes)`, whose bytes are a legacy
  `torch.save` stream; the real function would open them with an unrestricted unpickler, so it is replaced
  here by `torch.load(..., weights_only=True)` (torch's own allow-list loader);
- every `mjrl.*` class is mapped to an inert stand-in (a plain object that only receives its `__dict__`);
  mjrl is never imported;
- torch.nn module classes are NOT rebuilt as real modules either: a short explicit list (Linear, ModuleList,
  Sequential, Tanh, ReLU) is mapped to the same inert stand-ins, from which the caller pulls the weight
  tensors out of `__dict__['_parameters']`. Rebuilding real modules would run torch's `__setstate__` on
  foreign state for no benefit: we only need the numbers.
- two leftovers of the torch 0.4 era that mjrl pickles carry: `torch.nn.backends.thnn._get_thnn_function_backend`
  (long gone from torch; replaced by a function returning None) and the activation stored as
  `getattr(torch._C._VariableFunctions, "tanh")`. `builtins.getattr` is therefore resolved to a restricted
  getattr that only answers activation names on the `_VariableFunctions` stand-in (an `Activation` marker).
"""

from __future__ import annotations

import io
import os
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError

_ACTIVATIONS = ("tanh", "relu", "sigmoid", "elu", "softplus")

_TORCH_MODULE_CLASSES = {
    ("torch.nn.modules.linear", "Linear"),
    ("torch.nn.modules.container", "ModuleList"),
    ("torch.nn.modules.container", "Sequential"),
    ("torch.nn.modules.activation", "Tanh"),
    ("torch.nn.modules.activation", "ReLU"),
}

_BUILTINS = {"set": set, "frozenset": frozenset, "bytearray": bytearray, "complex": complex, "slice": slice}


class StandIn:
    """Inert stand-in for a class the unpickler will not import (mjrl policies, torch.nn modules).

    It accepts any constructor arguments and any pickled state and does nothing else. `pickled_global` tells
    which class the file named, e.g. 'mjrl.policies.gaussian_mlp.MLP'.
    """

    pickled_global = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> "StandIn":
        obj = super().__new__(cls)
        obj.__dict__["_stand_in_args"] = args
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2 and (state[0] is None or isinstance(state[0], dict)):
            state = {**(state[0] or {}), **(state[1] or {})}  # (dict state, slot state)
        if isinstance(state, dict):
            self.__dict__.update(state)
        else:
            self.__dict__["_stand_in_state"] = state

    def __repr__(self) -> str:
        return f"<stand-in for {self.pickled_global}>"


class Activation:
    """Marker for an activation function named in a pickle (mjrl stores `torch.tanh` by reference)."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"


class _TorchFunctions(StandIn):
    pickled_global = "torch._C._VariableFunctions"


_stand_in_classes: dict[str, type] = {}


def _stand_in(module: str, name: str) -> type:
    key = f"{module}.{name}"
    if key not in _stand_in_classes:
        _stand_in_classes[key] = type(name, (StandIn,), {"pickled_global": key, "__module__": __name__})
    return _stand_in_classes[key]


def _no_backend() -> None:
    return None


class SafeUnpickler(pickle.Unpickler):
    """`pickle.Unpickler` whose `find_class` is an allow-list (module docstring) and that has no persistent ids."""

    def __init__(self, file: Any, source: str):
        super().__init__(file)
        self.source = source

    def _refuse(self, what: str) -> PipelineError:
        return PipelineError(
            f"{self.source}: refused to unpickle global {what} (not on the allow-list of numpy arrays, "
            "torch tensors and mjrl stand-ins)"
        )

    def find_class(self, module: str, name: str) -> Any:
        if module.split(".")[0] == "mjrl":
            return _stand_in(module, name)
        if (module, name) in _TORCH_MODULE_CLASSES:
            return _stand_in(module, name)
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name in ("_reconstruct", "scalar"):
            from numpy._core import multiarray

            return getattr(multiarray, name)
        if module in ("numpy.core.numeric", "numpy._core.numeric") and name == "_frombuffer":
            from numpy._core import numeric

            return numeric._frombuffer
        if module == "numpy" and name in ("ndarray", "dtype"):
            import numpy

            return getattr(numpy, name)
        if module == "_codecs" and name == "encode":  # how protocol 2 spells bytes in Python 3
            return self._latin1_bytes
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module in ("builtins", "__builtin__"):
            if name in _BUILTINS:
                return _BUILTINS[name]
            if name == "getattr":
                return self._restricted_getattr
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor", "_rebuild_parameter"):
            import torch._utils

            return getattr(torch._utils, name)
        if module == "torch.storage" and name == "_load_from_bytes":
            return self._load_storage_bytes
        if module == "torch.nn.backends.thnn" and name == "_get_thnn_function_backend":
            return _no_backend
        if module == "torch._C" and name == "_VariableFunctions":
            return _TorchFunctions
        raise self._refuse(f"{module}.{name}")

    def _restricted_getattr(self, obj: Any, name: str, *default: Any) -> Any:
        if obj is _TorchFunctions and name in _ACTIVATIONS:
            return Activation(name)
        raise self._refuse(f"builtins.getattr({obj!r}, {name!r})")

    def _latin1_bytes(self, text: str, encoding: str = "latin1") -> bytes:
        if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
            raise self._refuse(f"_codecs.encode({type(text).__name__}, {encoding!r})")
        return text.encode("latin1")

    def _load_storage_bytes(self, data: bytes) -> Any:
        import torch

        if not isinstance(data, (bytes, bytearray)):
            raise self._refuse("torch.storage._load_from_bytes on a non-bytes argument")
        try:
            return torch.load(io.BytesIO(bytes(data)), weights_only=True, map_location="cpu")
        except Exception as exc:  # torch raises UnpicklingError, RuntimeError, ... on foreign content
            raise PipelineError(f"{self.source}: a torch storage inside the pickle could not be loaded safely ({exc})")

    def persistent_load(self, pid: Any) -> Any:
        raise PipelineError(f"{self.source}: the pickle uses persistent ids ({pid!r:.60}), which are not supported")


def safe_loads(data: bytes, source: str = "<bytes>") -> Any:
    """Unpickle `data` with the allow-list; `source` names the file in error messages."""
    try:
        return SafeUnpickler(io.BytesIO(data), source).load()
    except PipelineError:
        raise
    except Exception as exc:  # EOFError, UnpicklingError, TypeError from a malformed REDUCE, ...: all bad input
        raise PipelineError(
            f"{source}: not a readable pickle, truncated or corrupt ({exc.__class__.__name__}: {exc})"
        ) from None


def safe_load(path: str | os.PathLike) -> Any:
    """Unpickle a file with the allow-list. Missing, truncated or foreign files raise PipelineError."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: no such file")
    return safe_loads(path.read_bytes(), str(path))
