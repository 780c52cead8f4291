"""The allow-list unpickler: loads what the hand_dapg files need, refuses everything else before calling it."""

from __future__ import annotations

import collections
import os
import pickle
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline.demos.safe_pickle import Activation, StandIn, safe_load, safe_loads
from pipeline.errors import PipelineError


def _fake_mjrl_pickle(payload: dict) -> bytes:
    """Pickle an object whose class claims to be mjrl.policies.gaussian_mlp.MLP (mjrl is not installed)."""
    names = ("mjrl", "mjrl.policies", "mjrl.policies.gaussian_mlp")
    for name in names:
        sys.modules[name] = types.ModuleType(name)
    cls = type("MLP", (), {"__module__": "mjrl.policies.gaussian_mlp"})
    sys.modules["mjrl.policies.gaussian_mlp"].MLP = cls
    try:
        obj = cls()
        obj.__dict__.update(payload)
        return pickle.dumps(obj, protocol=2)
    finally:
        for name in names:
            del sys.modules[name]


def test_loads_numpy_torch_and_mjrl_stand_in(tmp_path):
    weights = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    data = _fake_mjrl_pickle(
        {
            "arr": np.linspace(0, 1, 5),
            "scalar": np.float64(2.5),
            "tensor": weights,
            "param": torch.nn.Parameter(torch.ones(3)),
            "od": collections.OrderedDict(a=1),
            "things": {1, 2},
        }
    )
    path = tmp_path / "policy.pickle"
    path.write_bytes(data)
    obj = safe_load(path)
    assert isinstance(obj, StandIn) and obj.pickled_global == "mjrl.policies.gaussian_mlp.MLP"
    np.testing.assert_array_equal(obj.arr, np.linspace(0, 1, 5))
    assert obj.scalar == 2.5
    assert torch.equal(obj.tensor, weights)
    assert torch.equal(obj.param.detach(), torch.ones(3))
    assert obj.od == {"a": 1} and obj.things == {1, 2}
    assert "mjrl" not in sys.modules


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_refuses_os_system_and_does_not_run_it(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pickle"
    path.write_bytes(pickle.dumps([np.zeros(2), _Evil(marker)]))
    with pytest.raises(PipelineError) as err:
        safe_load(path)
    message = str(err.value)
    assert str(path) in message and "system" in message and "refused" in message
    assert "\n" not in message
    assert not marker.exists()


def test_refuses_getattr_outside_the_activation_case():
    class Sneaky:
        def __reduce__(self):
            return (getattr, (collections.OrderedDict, "fromkeys"))

    with pytest.raises(PipelineError, match="getattr"):
        safe_loads(pickle.dumps(Sneaky()), "sneaky.pickle")


def test_activation_reference_becomes_marker():
    # what an mjrl pickle made with torch 0.4 holds for `torch.tanh`
    data = b"\x80\x02cbuiltins\ngetattr\nctorch._C\n_VariableFunctions\nX\x04\x00\x00\x00tanh\x86R."
    act = safe_loads(data, "x")
    assert isinstance(act, Activation) and act.name == "tanh"


@pytest.mark.parametrize("global_name", [b"builtins\neval\n", b"subprocess\nPopen\n", b"torch\nload\n"])
def test_refuses_other_globals(global_name):
    data = b"\x80\x02c" + global_name + b"."
    with pytest.raises(PipelineError, match="refused to unpickle global"):
        safe_loads(data, "bad.pickle")


def test_truncated_and_missing(tmp_path):
    path = tmp_path / "cut.pickle"
    path.write_bytes(pickle.dumps({"a": np.arange(100)})[:-30])
    with pytest.raises(PipelineError, match="cut.pickle.*truncated or corrupt"):
        safe_load(path)
    with pytest.raises(PipelineError, match="no such file"):
        safe_load(tmp_path / "absent.pickle")


class _Reduce:
    """Pickles as `func(*args)`: how an attacker spells a call in a pickle."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def test_allocation_bombs_are_refused_before_they_allocate():
    import warnings

    from numpy._core import multiarray

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # TypedStorage is what mjrl-era pickles hold
        storage = torch.zeros(4).storage()
    bombs = {
        "an array": _Reduce(multiarray._reconstruct, np.ndarray, (10**10,), b"b"),
        "builtins.bytearray": _Reduce(bytearray, 10**10),
        "reaches element 1000000": _Reduce(torch._utils._rebuild_tensor_v2, storage, 0, (1000, 1000), (1000, 1),
                                           False, collections.OrderedDict()),
    }
    for expect, bomb in bombs.items():
        with pytest.raises(PipelineError, match=expect) as info:
            safe_loads(pickle.dumps(bomb, protocol=2), "bomb.pkl")
        assert "\n" not in str(info.value)


def test_ndarray_and_billion_laughs_bombs_are_refused_fast_in_little_memory(tmp_path):
    """The 96-byte ndarray pickle (5.4 GB if allocated) and lists of lists built from memo references (10**12
    floats once copied out), each loaded in a subprocess capped at 4 GB of address space: one line, exit 2, < 5 s."""
    row = [0.0] * 1000
    block = [row] * 1000
    laughs = [{"observations": [block] * 1000, "actions": [[0.0] * 28]}]
    bombs = {
        "ndarray": [{"observations": _Reduce(np.ndarray, (10**7, 39)), "actions": _Reduce(np.ndarray, (10**7, 28))}],
        "laughs": laughs,
    }
    script = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30)); "
              "from pipeline.demos.hand_dapg import load_human_demos; from pipeline.errors import PipelineError\n"
              "try: load_human_demos(sys.argv[1], 'door', 'rrl')\n"
              "except PipelineError as exc: print(exc.one_line()); sys.exit(2)")
    for name, bomb in bombs.items():
        path = tmp_path / f"{name}.pickle"
        path.write_bytes(pickle.dumps(bomb, protocol=2))
        assert path.stat().st_size < 20_000
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60,
                              cwd=Path(__file__).resolve().parents[2])
        seconds = time.perf_counter() - start
        assert proc.returncode == 2, proc.stderr[-2000:]
        assert ("asks for" in proc.stdout if name == "ndarray" else "expand past" in proc.stdout), proc.stdout
        assert len(proc.stdout.strip().splitlines()) == 1 and seconds < 5, (proc.stdout, seconds)


def test_deep_and_self_similar_objects_never_reach_an_error_message_whole(tmp_path):
    from pipeline.demos.hand_dapg import load_expert_policy

    depth = 200_000  # nested lists: built iteratively by the unpickler, but repr would recurse
    deep = tmp_path / "deep.pickle"
    deep.write_bytes(b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b".")
    shared = []
    for _ in range(60):  # 2**60 leaves in repr, 60 objects in the pickle
        shared = [shared, shared]
    wide = tmp_path / "wide.pickle"
    wide.write_bytes(pickle.dumps(shared, protocol=2))
    # the deep one loads and is refused as no policy; the wide one would expand to 2**60 lists: refused on load
    for path, message in ((deep, r"not an mjrl policy \(found a list;"), (wide, "shared references expand past")):
        with pytest.raises(PipelineError, match=message) as info:
            load_expert_policy(path, "door")
        assert "\n" not in str(info.value)
