"""The identity of the recognizer whose embeddings an index holds."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidArgument

__all__ = ["ModelId"]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# recognizer name -> the faceproof.models.MODEL_FILES key of its weights
_WEIGHTS_KEY = {"sface": "sface", "dlib": "dlib_resnet"}


@dataclass(frozen=True)
class ModelId:
    """A recognizer by name (the threshold-table key: ``"sface"`` with flip TTA,
    ``"sface/noflip"`` without) and the SHA-256 of its weights file."""

    name: str
    weights_sha256: str

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > 64:
            raise InvalidArgument("model name must be 1-64 characters")
        if not _SHA256.match(self.weights_sha256):
            raise InvalidArgument("weights_sha256 must be 64 lowercase hex digits")

    @classmethod
    def from_client(cls, client: Any) -> ModelId:
        """The ModelId of a :class:`faceproof.Pipeline`'s (or a FaceProof's) recognizer (name with its
        flip setting, weights digest from ``faceproof.models.MODEL_FILES``)."""
        from ..runtime import models

        recognizer = client.recognizer
        name = getattr(client, "threshold_key", None) or recognizer.name
        own = getattr(recognizer, "weights_sha256", None)  # a backend that knows its own digest
        if isinstance(own, str):
            return cls(str(name), own)
        key = _WEIGHTS_KEY.get(recognizer.name)
        if key is None or key not in models.MODEL_FILES:
            raise InvalidArgument(f"no weights digest known for recognizer {recognizer.name!r}")
        return cls(str(name), models.MODEL_FILES[key].sha256)

    def __str__(self) -> str:
        return f"{self.name}@{self.weights_sha256[:12]}"
