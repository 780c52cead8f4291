"""The rollout service must run the encoder the features a policy learnt from were made with."""

from __future__ import annotations

from typing import Any

from pipeline.errors import PipelineError

KEY_FIELDS = ("model", "layer", "weights_sha256", "preprocessing", "precision")  # what makes features differ


def check_encoder_matches(service_key: dict[str, str], expected: dict[str, Any], source: str,
                          source_kind: str = "store") -> None:
    """The service must run the encoder the cached demo features came from (or the policy was trained on), or the
    features differ. The error names every field that differs (model, weights, precision, ...)."""
    diffs = [k for k in KEY_FIELDS if service_key.get(k) != expected.get(k)]
    if diffs:
        detail = ", ".join(f"{k}: {source_kind} {expected.get(k)!s:.24} vs service {service_key.get(k)!s:.24}"
                           for k in diffs)
        raise PipelineError(f"{source}: features come from another encoder than the service runs ({detail})")
