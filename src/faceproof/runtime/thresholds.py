"""Calibration files: thresholds fitted by ``faceproof calibrate`` (or by hand) that replace
entries of the built-in table, refused when they were calibrated on other weights than the
installed ones. Read by the runtime (:class:`~faceproof.runtime.pipeline.Pipeline`), written by
:mod:`faceproof.evaluation.calibrate`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import InvalidArgument
from .compare import ThresholdTable

__all__ = ["check_calibration", "load_calibration", "weights_sha256"]


def weights_sha256(model: str) -> dict[str, str]:
    """The SHA-256 of every weight file a recognition model uses (from the registry)."""
    from ..runtime import registry
    from ..runtime.models import MODEL_FILES

    return {k: MODEL_FILES[k].sha256 for k in sorted(registry.get_spec("recognizer", model).model_files)}


def check_calibration(doc: Mapping[str, Any], name: str = "calibration") -> None:
    """Refuse entries calibrated on other weights than the installed registry's
    (``weights_sha256`` recorded in an entry must match); entries without it pass."""
    from ..runtime.models import MODEL_FILES

    for model, metrics in doc.get("thresholds", {}).items():
        for metric, entry in metrics.items():
            recorded = entry.get("weights_sha256") if isinstance(entry, Mapping) else None
            if not recorded:
                continue
            for key, sha in recorded.items():
                known = MODEL_FILES.get(key)
                if known is None or known.sha256 != sha:
                    raise InvalidArgument(
                        f"{name}: the {model}/{metric} threshold was calibrated on {key} weights with SHA-256 "
                        f"{sha}, not the installed {known.sha256 if known else 'nothing'}: recalibrate"
                    )


def load_calibration(path: str | Path) -> ThresholdTable:
    """A calibration file as a :class:`ThresholdTable` (checked with :func:`check_calibration`)."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidArgument(f"cannot read calibration file {path}: {exc}") from exc
    if not isinstance(doc, dict):
        raise InvalidArgument(f"calibration file {path} is not a JSON object")
    try:
        check_calibration(doc, name=f"calibration file {path}")
        return ThresholdTable.from_json(doc, name=f"calibration {path.name}")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, InvalidArgument):
            raise
        raise InvalidArgument(f"calibration file {path} is malformed: {exc}") from exc
