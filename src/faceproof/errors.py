"""One exception tree for everything faceproof raises.

Every exception carries a stable machine-readable ``code`` (a short string that never
changes once released). HTTP statuses belong to the service
(:func:`faceproof.server.errors.http_status_of`). Input problems
(unreadable image, no face, bad argument) are :class:`InputError` subclasses; problems of
the installation (missing optional package, altered model file) are
:class:`SetupError` subclasses.

The seed's integer result codes (-22/-21/-11 unreadable, -2/-1 no face) depend on which
image failed; :func:`faceproof.codes.code_for_error` maps an exception plus the image's
role to them.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar, Literal

Role = Literal["origin", "target", "image"]

__all__ = [
    "BackendUnavailable",
    "EmptyImage",
    "FaceProofError",
    "ImageDecodeError",
    "ImageError",
    "ImageNotFound",
    "ImageTooLarge",
    "InputError",
    "InvalidArgument",
    "ModelFileError",
    "ModelIntegrityError",
    "NoFaceError",
    "Overloaded",
    "Role",
    "SetupError",
    "URLFetchError",
    "URLNotAllowed",
    "UnknownBackend",
    "UnsupportedImageType",
]


class FaceProofError(Exception):
    """Root of every error faceproof raises on purpose."""

    code: ClassVar[str] = "faceproof_error"

    def __init__(self, message: str, *, role: Role | None = None, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.role: Role | None = role
        self.detail: dict[str, Any] = detail

    @property
    def http_status(self) -> int:
        """Deprecated: the HTTP status the service answers this error with; use
        :func:`faceproof.server.errors.http_status_of` (HTTP belongs to the server layer)."""
        warnings.warn(
            "FaceProofError.http_status is deprecated: use faceproof.server.errors.http_status_of(exc)",
            DeprecationWarning,
            stacklevel=2,
        )
        from .server.errors import http_status_of  # the one table of statuses (a deprecated bridge)

        return http_status_of(self)

    def with_role(self, role: Role) -> FaceProofError:
        """Tag the error with the image it concerns (origin, target or image)."""
        self.role = role
        return self

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.role is not None:
            out["role"] = self.role
        if self.detail:
            out["detail"] = dict(self.detail)
        return out

    def __str__(self) -> str:
        return self.message


# --- problems with what the caller passed in -------------------------------------------


class InputError(FaceProofError, ValueError):
    """The caller's input cannot be used."""

    code = "invalid_input"


class InvalidArgument(InputError):
    """An option has a wrong type or value (unknown metric, negative threshold, ...)."""

    code = "invalid_argument"


class UnknownBackend(InvalidArgument):
    """A detector, recognition model or attribute model name that faceproof does not have."""

    code = "unknown_backend"


class ImageError(InputError):
    """An image could not be read. The seed reports these as -22 / -21 / -11."""

    code = "image_unreadable"


class ImageNotFound(ImageError):
    code = "image_not_found"


class EmptyImage(ImageError):
    code = "image_empty"


class ImageDecodeError(ImageError):
    """The bytes are not a decodable image (corrupt, truncated, not an image at all)."""

    code = "image_unreadable"


class UnsupportedImageType(ImageError):
    """The data is a recognisable file type that faceproof does not accept (SVG, PDF, ...)."""

    code = "unsupported_image_type"


class ImageTooLarge(ImageError):
    """Too many bytes or too many pixels (decompression bomb guard)."""

    code = "image_too_large"


class URLNotAllowed(ImageError):
    """A URL was refused before any request: scheme, or a private/loopback/metadata host."""

    code = "url_not_allowed"


class URLFetchError(ImageError):
    """The URL was allowed but fetching it failed (timeout, HTTP error, too many redirects)."""

    code = "url_fetch_failed"


class NoFaceError(InputError):
    """The image was read but no face was found in it. Seed codes -2 / -1."""

    code = "no_face"


# --- problems of the installation or the running service --------------------------------


class SetupError(FaceProofError):
    """faceproof is installed incompletely or its model files are not what they should be."""

    code = "setup_error"


class BackendUnavailable(SetupError):
    """A known backend whose optional dependencies are not installed."""

    code = "backend_unavailable"


class ModelFileError(SetupError):
    """A model file is missing from the installed package that should carry it."""

    code = "model_file_missing"


class ModelIntegrityError(ModelFileError):
    """A model file's SHA-256 is not the one faceproof was built and measured with."""

    code = "model_integrity"


class Overloaded(FaceProofError):
    """The service has no capacity left for this request; retry later."""

    code = "overloaded"
