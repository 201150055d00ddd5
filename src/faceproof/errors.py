"""One exception tree for everything faceproof raises.

Every exception carries a stable machine-readable ``code`` (a short string that never
changes once released) and the HTTP status the service answers it with. Input problems
(unreadable image, no face, bad argument) are :class:`InputError` subclasses; problems of
the installation (missing optional package, altered model file) are
:class:`SetupError` subclasses.

The seed's integer result codes (-22/-21/-11 unreadable, -2/-1 no face) depend on which
image failed; :func:`faceproof.codes.code_for_error` maps an exception plus the image's
role to them.
"""

from __future__ import annotations

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
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, *, role: Role | None = None, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.role: Role | None = role
        self.detail: dict[str, Any] = detail

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
    http_status = 400


class InvalidArgument(InputError):
    """An option has a wrong type or value (unknown metric, negative threshold, ...)."""

    code = "invalid_argument"
    http_status = 400


class UnknownBackend(InvalidArgument):
    """A detector, recognition model or attribute model name that faceproof does not have."""

    code = "unknown_backend"
    http_status = 400


class ImageError(InputError):
    """An image could not be read. The seed reports these as -22 / -21 / -11."""

    code = "image_unreadable"
    http_status = 422


class ImageNotFound(ImageError):
    code = "image_not_found"
    http_status = 422


class EmptyImage(ImageError):
    code = "image_empty"
    http_status = 422


class ImageDecodeError(ImageError):
    """The bytes are not a decodable image (corrupt, truncated, not an image at all)."""

    code = "image_unreadable"
    http_status = 422


class UnsupportedImageType(ImageError):
    """The data is a recognisable file type that faceproof does not accept (SVG, PDF, ...)."""

    code = "unsupported_image_type"
    http_status = 415


class ImageTooLarge(ImageError):
    """Too many bytes or too many pixels (decompression bomb guard)."""

    code = "image_too_large"
    http_status = 413


class URLNotAllowed(ImageError):
    """A URL was refused before any request: scheme, or a private/loopback/metadata host."""

    code = "url_not_allowed"
    http_status = 422


class URLFetchError(ImageError):
    """The URL was allowed but fetching it failed (timeout, HTTP error, too many redirects)."""

    code = "url_fetch_failed"
    http_status = 422


class NoFaceError(InputError):
    """The image was read but no face was found in it. Seed codes -2 / -1."""

    code = "no_face"
    http_status = 422


# --- problems of the installation or the running service --------------------------------


class SetupError(FaceProofError):
    """faceproof is installed incompletely or its model files are not what they should be."""

    code = "setup_error"
    http_status = 500


class BackendUnavailable(SetupError):
    """A known backend whose optional dependencies are not installed."""

    code = "backend_unavailable"
    http_status = 501


class ModelFileError(SetupError):
    """A model file is missing from the installed package that should carry it."""

    code = "model_file_missing"
    http_status = 500


class ModelIntegrityError(ModelFileError):
    """A model file's SHA-256 is not the one faceproof was built and measured with."""

    code = "model_integrity"
    http_status = 500


class Overloaded(FaceProofError):
    """The service has no capacity left for this request; retry later."""

    code = "overloaded"
    http_status = 503
