"""The one checkpoint/resume scheme of everything trained here (the policy, the VAE, the reward encoder).

A run's checkpoint is one file, rewritten atomically after every step (an iteration, an epoch):
{"format", "step", "code" (sha256 of the trainer's source), "key" (what the run depends on: its config less what
only changes speed or length, the data's fingerprint; JSON), "state" (the trainer's tensors: models, optimizer,
RNG), "curve" (the rows so far; JSON)}. A rerun with the same key and code continues from it, and the curve goes
on exactly as an uninterrupted run's would. Any other checkpoint (another key, other code, more steps than asked
for, a damaged or foreign file) is not resumed: one line on stderr says why, and the run starts over. Starting over
rather than refusing is what DVC needs: the checkpoint outlives the stage's outputs, and `dvc exp run -S` after a
params edit must train the new config, not stop on the old one's file.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from pipeline.training.scaffold import torch_bytes, write_bytes

PACKAGE = Path(__file__).resolve().parent.parent  # pipeline/


def code_digest(parts: tuple[str, ...]) -> str:
    """sha256 of the source of some parts of pipeline/ (packages): a checkpoint written by other code of the trainer
    is not resumed, since the same config would otherwise quietly continue a run of the old code."""
    digest = hashlib.sha256()
    for path in sorted(p for part in parts for p in (PACKAGE / part).rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@dataclass
class Resumed:
    step: int  # steps done: the next one to run
    state: dict[str, Any]
    curve: list[dict[str, Any]]


class Checkpoint:
    """The checkpoint file of one run: `kind` names the trainer, `key` what the run depends on, `code` the parts of
    pipeline/ whose source it was written by."""

    def __init__(self, path: Path, kind: str, key: dict[str, Any], code: tuple[str, ...]):
        self.path, self.kind, self.code = Path(path), kind, code
        self.key = json.loads(json.dumps(key, sort_keys=True, default=str))  # as it reads back: tuples are lists
        self.digest = code_digest(code)

    def load(self, end: int) -> Resumed | None:
        """The saved run if it is this one and has at most `end` steps; else None (and a line saying why)."""
        if not self.path.exists():
            return None
        why: str | None
        try:
            saved = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - a damaged checkpoint is only a lost head start
            saved, why = None, f"not a loadable checkpoint ({exc.__class__.__name__})"
        else:
            why = self._why_not_resumed(saved, end)
        if why is not None:
            print(f"{self.path}: {why}; not resumed, starting over", file=sys.stderr)
            return None
        return Resumed(int(saved["step"]), saved["state"], json.loads(saved["curve"]))

    def save(self, step: int, state: dict[str, Any], curve: list[dict[str, Any]]) -> None:
        write_bytes(self.path, torch_bytes({"format": self.kind, "step": step, "code": self.digest,
                                            "key": json.dumps(self.key, sort_keys=True), "state": state,
                                            "curve": json.dumps(curve)}))

    def resume_training(self, end: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> list[dict[str, Any]]:
        """For a model fit by an optimizer (the encoders trained here): load the saved model, optimizer and torch RNG
        into these; the curve so far (empty when starting over)."""
        resumed = self.load(end)
        if resumed is None:
            return []
        model.load_state_dict(resumed.state["model"])
        optimizer.load_state_dict(resumed.state["optimizer"])
        torch.set_rng_state(resumed.state["rng"])
        return resumed.curve

    def save_training(self, step: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                      curve: list[dict[str, Any]]) -> None:
        self.save(step, {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "rng": torch.get_rng_state()},
                  curve)

    def _why_not_resumed(self, saved: Any, end: int) -> str | None:
        """Why a loaded checkpoint is not this run's head start, or None if it is."""
        if not isinstance(saved, dict) or saved.get("format") != self.kind:
            return f"not a {self.kind} checkpoint"
        if saved["code"] != self.digest:
            return f"written by other code (pipeline/{', '.join(self.code)})"
        old = json.loads(saved["key"])
        if old != self.key:
            return f"written with another configuration ({key_changes(old, self.key)})"
        if saved["step"] > end:
            return f"holds {saved['step']} steps, more than the {end} asked for"
        return None


def config_key(cfg: Any, ignored: tuple[str, ...], **data: Any) -> dict[str, Any]:
    """A run's key: its config's fields less those in `ignored` (what changes only speed, or the length a rerun may
    extend), and what it trains on (`data`: a dataset fingerprint, an observation layout)."""
    return {**{k: v for k, v in asdict(cfg).items() if k not in ignored}, **data}


def key_changes(old: dict[str, Any], new: dict[str, Any]) -> str:
    """`lr 0.003 -> 0.001, dataset 'a1b2c3d4e5f6...' -> ...`: the keys whose values differ, values shortened."""

    def short(value: Any) -> str:
        text = repr(value)
        return text if len(text) <= 40 else text[:37] + "..."

    keys = [k for k in {**old, **new} if old.get(k) != new.get(k)]
    return ", ".join(f"{k} {short(old.get(k))} -> {short(new.get(k))}" for k in keys)
