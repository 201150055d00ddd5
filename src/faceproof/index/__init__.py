"""The member face index (1:N search): does this face already belong to another
account, a banned one above all? Answers are candidates for human review.

    from faceproof.index import MemberIndex, ModelId
    index = MemberIndex("sqlite:///members.db", model=ModelId.from_client(fp))
    index.enroll("m-123", embeddings, ["selfie-2026-11-29"], status="active")
    result = index.search(embedding, k=10, exclude_members=["m-456"])
    index.remove("m-123")                      # right to erasure: VACUUMed off the disk

See docs/index.md for the backends, the open-set thresholds and the measurements.
"""

from __future__ import annotations

from .calibration import ImpostorDistribution, fit_impostor_distribution, impostor_distribution
from .core import Candidate, IndexStats, MemberIndex, OpenSetThreshold, SearchResult
from .errors import CalibrationUnavailable, ModelMismatch, UnknownMember
from .model import ModelId
from .schema import INDEX_SCHEMA

__all__ = [
    "INDEX_SCHEMA",
    "CalibrationUnavailable",
    "Candidate",
    "ImpostorDistribution",
    "IndexStats",
    "MemberIndex",
    "ModelId",
    "ModelMismatch",
    "OpenSetThreshold",
    "SearchResult",
    "UnknownMember",
    "fit_impostor_distribution",
    "impostor_distribution",
]
