"""The selfie's subject: its dominant face. ``check_profile`` checks the member on it
(never on a bystander); ``verify`` lets only it, and faces of comparable size, decide
whether the selfie's person is present (issue 14)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..runtime.thresholds import dominant_faces
from ..types import Face
from .policy import Policy

__all__ = ["face_size", "selfie_subject", "subject_rows_of"]


def face_size(face: Face) -> float:
    """How large a face is, independent of where it looks: its box height (a head turned
    sideways keeps its height while its inter-eye distance shrinks)."""
    return face.bbox.height


def subject_rows_of(faces: Sequence[Face]) -> tuple[np.ndarray | None, float]:
    """``verify``'s selfie side: per face, does it decide (the subject and faces of
    comparable size, by the built-in ``background_face_ratio``)? None when all do."""
    ratio = Policy.default().background_face_ratio
    if len(faces) < 2:
        return None, ratio
    rows = dominant_faces(faces, ratio)  # the subject and the faces selfie_subject counts beside it
    return (None if rows.all() else rows), ratio


def selfie_subject(faces: Sequence[Face], ratio: float) -> tuple[Face, list[Face]]:
    """The selfie's subject, its dominant face (the tallest box), and the other faces at
    least ``ratio`` of its size (bystanders smaller than that are not counted)."""
    subject = max(faces, key=face_size)
    others = [f for f in faces if f is not subject and face_size(f) >= ratio * face_size(subject)]
    return subject, others
