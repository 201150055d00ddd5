"""Typed errors of the member face index (stable codes, under ``FaceProofError``)."""

from __future__ import annotations

from ..errors import FaceProofError, InputError

__all__ = ["CalibrationUnavailable", "IndexError_", "ModelMismatch", "UnknownMember"]


class IndexError_(FaceProofError):
    """Root of the member index's own errors."""

    code = "index_error"
    http_status = 500


class ModelMismatch(IndexError_, InputError):
    """Templates or a query embedding from a recognizer (name, weights or dimension)
    other than the one the index was built with. A model change means re-enrolment."""

    code = "index_model_mismatch"
    http_status = 409


class UnknownMember(IndexError_, InputError):
    """No template is enrolled under this member id."""

    code = "index_unknown_member"
    http_status = 404


class CalibrationUnavailable(IndexError_):
    """No impostor score distribution ships for this model, so no open-set threshold can
    be derived: pass ``threshold=`` explicitly."""

    code = "index_calibration_unavailable"
    http_status = 500
