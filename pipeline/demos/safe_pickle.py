"""An allow-list unpickler for user-supplied pickles: a user's file is never given to `pickle.load`.

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
- bounded memory: nothing a pickle names may allocate more than a budget of 8x the file's size + 64 MiB in all
  (`numpy.core.multiarray._reconstruct` and `numpy.ndarray(shape)` allocate the shape they are given,
  `bytearray(n)` n bytes, a tensor view may claim a stride past its storage): each is checked before it runs, and
  refused with one line. The loaded object is then measured as if every shared reference were copied out (what
  `numpy.asarray` of nested lists builds), once per distinct object, so a "billion laughs" of lists built from memo
  references is refused in the time it takes to walk its few nodes;
- two leftovers of the torch 0.4 era that mjrl pickles carry: `torch.nn.backends.thnn._get_thnn_function_backend`
  (long gone from torch; replaced by a function returning None) and the activation stored as
  `getattr(torch._C._VariableFunctions, "tanh")`. `builtins.getattr` is therefore resolved to a restricted
  getattr that only answers activation names on the `_VariableFunctions` stand-in (an `Activation` marker).
"""

from __future__ import annotations

import io
import os
import pickle
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError, brief, exception_line

_ACTIVATIONS = ("tanh", "relu", "sigmoid", "elu", "softplus")

_TORCH_MODULE_CLASSES = {
    ("torch.nn.modules.linear", "Linear"),
    ("torch.nn.modules.container", "ModuleList"),
    ("torch.nn.modules.container", "Sequential"),
    ("torch.nn.modules.activation", "Tanh"),
    ("torch.nn.modules.activation", "ReLU"),
}

_BUILTINS = {"set": set, "frozenset": frozenset, "complex": complex, "slice": slice}
MAX_PICKLE_BYTES = 1 << 30  # a file larger than this is refused unread


class StandIn:
    """Inert stand-in for a class the unpickler will not import (mjrl policies, torch.nn modules).

    It accepts any constructor arguments and any pickled state and does nothing else. `pickled_global` tells
    which class the file named, e.g. 'mjrl.policies.gaussian_mlp.MLP'.
    """

    pickled_global = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> StandIn:
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

    def __init__(self, file: Any, source: str, budget_bytes: int = 64 << 20):
        super().__init__(file)
        self.source = source
        self.budget = budget_bytes  # what the objects the pickle names may still allocate

    def _spend(self, nbytes: int, what: str) -> None:
        if nbytes < 0 or nbytes > self.budget:
            raise PipelineError(f"{self.source}: the pickle asks for {nbytes} bytes for {what}, beyond what a file of "
                                "its size can hold (refused unread)")
        self.budget -= nbytes

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
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name == "_reconstruct":
            return self._reconstruct_array
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name == "scalar":
            from numpy._core import multiarray

            return multiarray.scalar
        if module in ("numpy.core.numeric", "numpy._core.numeric") and name == "_frombuffer":
            from numpy._core import numeric

            return numeric._frombuffer  # type: ignore[attr-defined]  # numpy's private name, as its pickles call it
        if module == "numpy" and name == "ndarray":
            return _CheckedNdarray(self)
        if module == "numpy" and name == "dtype":
            import numpy

            return numpy.dtype
        if module == "_codecs" and name == "encode":  # how protocol 2 spells bytes in Python 3
            return self._latin1_bytes
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module in ("builtins", "__builtin__"):
            if name in _BUILTINS:
                return _BUILTINS[name]
            if name == "getattr":
                return self._restricted_getattr
            if name == "bytearray":
                return self._bytearray
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            import torch._utils

            return self._checked_rebuild(getattr(torch._utils, name))
        if module == "torch._utils" and name == "_rebuild_parameter":
            import torch._utils

            return torch._utils._rebuild_parameter
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
        raise self._refuse(f"builtins.getattr({brief(obj)}, {brief(name)})")

    def _reconstruct_array(self, subtype: Any, shape: Any, dtype: Any) -> Any:
        """numpy's _reconstruct allocates `shape` (a real pickle passes (0,) and fills it from its own bytes)."""
        import numpy
        from numpy._core import multiarray

        if not isinstance(subtype, _CheckedNdarray):
            raise self._refuse(f"numpy array subtype {brief(subtype)}")
        self._spend_array(shape, dtype)
        return multiarray._reconstruct(numpy.ndarray, shape, dtype)

    def _spend_array(self, shape: Any, dtype: Any) -> None:
        import numpy

        dims = shape if isinstance(shape, tuple) else (shape,)
        if not all(isinstance(d, int) and d >= 0 for d in dims):
            raise self._refuse(f"numpy array of shape {brief(shape)}")
        self._spend(int(numpy.prod(dims, dtype=object)) * numpy.dtype(dtype).itemsize, "an array")

    def _bytearray(self, *args: Any) -> bytearray:
        if args and not isinstance(args[0], (bytes, bytearray, str)):
            raise self._refuse(f"builtins.bytearray({brief(args[0])}) (only from bytes)")
        return bytearray(*args)

    def _checked_rebuild(self, rebuild: Any) -> Any:
        """torch's tensor rebuild, after checking that the view stays inside its storage."""

        def rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *rest: Any) -> Any:
            numbers = (offset, *tuple(size), *tuple(stride))
            if not all(isinstance(v, int) and v >= 0 for v in numbers) or len(tuple(size)) != len(tuple(stride)):
                raise self._refuse(f"a tensor view (offset {brief(offset)}, size {brief(size)}, stride {brief(stride)})")
            extent = offset + sum((n - 1) * s for n, s in zip(size, stride)) + 1 if all(n > 0 for n in size) else 0
            with warnings.catch_warnings():  # mjrl-era pickles hold TypedStorage, whose size() warns it is deprecated
                warnings.simplefilter("ignore", UserWarning)
                available = storage.size() if callable(getattr(storage, "size", None)) else -1
            if extent > available:
                raise PipelineError(f"{self.source}: a tensor in the pickle reaches element {extent} of a "
                                    f"{available}-element storage (refused)")
            return rebuild(storage, offset, size, stride, *rest)

        return rebuild_tensor

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
        except Exception as exc:  # noqa: BLE001 - torch raises UnpicklingError, RuntimeError, ... on foreign content
            raise PipelineError(f"{self.source}: a torch storage inside the pickle could not be loaded safely "
                                f"({exception_line(exc)})") from None

    def persistent_load(self, pid: Any) -> Any:
        raise PipelineError(f"{self.source}: the pickle uses persistent ids ({brief(pid)}), which are not supported")


class _CheckedNdarray:
    """What a pickle gets for `numpy.ndarray`: as the subtype of `_reconstruct`, or called to allocate an array,
    which is charged to the budget first (`ndarray((10**7, 39))` is 96 bytes of pickle and 3 GB of memory)."""

    def __init__(self, unpickler: SafeUnpickler):
        self.unpickler = unpickler

    def __call__(self, shape: Any, dtype: Any = float, buffer: Any = None, *rest: Any) -> Any:
        import numpy

        if buffer is None:
            self.unpickler._spend_array(shape, dtype)
        elif not isinstance(buffer, (bytes, bytearray)):
            raise self.unpickler._refuse(f"numpy.ndarray over a {type(buffer).__name__} buffer")
        return numpy.ndarray(shape, dtype, buffer, *rest)


def expanded_bytes(root: Any, limit: int) -> int:
    """About the bytes `root` would take with every shared reference copied out (lists of lists as numpy.asarray
    expands them); computed once per distinct object, iteratively, stopping early past `limit`."""
    import numpy

    sizes: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        obj, children_done = stack.pop()
        if isinstance(obj, dict):
            children = [*obj.keys(), *obj.values()]
        elif isinstance(obj, (list, tuple, set, frozenset)):
            children = list(obj)
        elif isinstance(obj, StandIn):
            children = list(obj.__dict__.values())
        else:
            children = []
        if not children_done:
            if id(obj) in sizes:
                continue
            sizes[id(obj)] = 0  # a cycle counts once
            stack.append((obj, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        own = obj.nbytes if isinstance(obj, numpy.ndarray) else 8
        sizes[id(obj)] = min(limit + 1, own + sum(sizes[id(child)] for child in children))
    return sizes[id(root)]


def safe_loads(data: bytes, source: str = "<bytes>") -> Any:
    """Unpickle `data` with the allow-list; `source` names the file in error messages."""
    budget = 8 * len(data) + (64 << 20)
    try:
        obj = SafeUnpickler(io.BytesIO(data), source, budget_bytes=budget).load()
    except PipelineError:
        raise
    except Exception as exc:  # noqa: BLE001 - EOFError, UnpicklingError, TypeError from a malformed REDUCE, ...: all bad input
        raise PipelineError(f"{source}: not a readable pickle, truncated or corrupt ({exception_line(exc)})") from None
    if expanded_bytes(obj, budget) > budget:
        raise PipelineError(f"{source}: the pickle's shared references expand past {budget} bytes, beyond what a "
                            f"file of its size can hold (refused)")
    return obj


def safe_load(path: str | os.PathLike) -> Any:
    """Unpickle a file with the allow-list. Missing, truncated or foreign files raise PipelineError."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: no such file")
    if path.stat().st_size > MAX_PICKLE_BYTES:
        raise PipelineError(f"{path}: {path.stat().st_size} bytes, larger than any demo or policy pickle ({MAX_PICKLE_BYTES})")
    return safe_loads(path.read_bytes(), str(path))
