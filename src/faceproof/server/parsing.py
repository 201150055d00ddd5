"""Strict parsing of everything a client (or the environment) sends as text.

Booleans are ``true``/``false``/``1``/``0`` (any case) or JSON booleans: the string
``"false"`` is false and ``"yes"``, ``""`` or ``2`` are errors, never truthy. Numbers are
plain decimal literals (or JSON numbers); ``nan``, ``inf``, hex and booleans are refused.
Images in JSON are ``data:`` URIs with strict base64 (the standard alphabet, correct
padding, no whitespace) or ``http(s)://`` URLs; any other string is refused, so a client's
string is never taken for a file path.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import EmptyImage, ImageDecodeError, ImageTooLarge, InvalidArgument, Role

__all__ = [
    "ImageRef",
    "OptionParser",
    "decode_data_uri",
    "parse_bool",
    "parse_choice",
    "parse_csv",
    "parse_float",
    "parse_image_ref",
    "parse_int",
]

_INT_RE = re.compile(r"^[+-]?\d{1,18}$")
_FLOAT_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?$")
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})
_B64_RE = re.compile(rb"^[A-Za-z0-9+/]*={0,2}$")
_DATA_HEADER_RE = re.compile(
    r"^data:(?P<mime>[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+)?(?P<params>(;[a-z0-9!#$&^_.+-]+=[^;,]*)*);base64$",
    re.IGNORECASE,
)

#: a parser turns a raw option value (text from a query or form, or a JSON value) into a
#: typed value, or raises InvalidArgument
OptionParser = Callable[[str, Any], Any]


def parse_bool(name: str, value: Any) -> bool:
    """``True``/``False``, ``"true"``/``"false"``/``"1"``/``"0"`` (any case); anything else is an error."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        key = value.strip().lower()
        if key in _TRUE:
            return True
        if key in _FALSE:
            return False
    raise InvalidArgument(f"{name} must be true or false, got {_show(value)}")


def parse_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """A whole number, from a JSON integer or a plain decimal string."""
    if isinstance(value, bool):
        raise InvalidArgument(f"{name} must be an integer, not a boolean")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _INT_RE.match(value.strip()):
        number = int(value.strip())
    else:
        raise InvalidArgument(f"{name} must be an integer, got {_show(value)}")
    _check_range(name, number, minimum, maximum)
    return number


def parse_float(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_maximum: float | None = None,
) -> float:
    """A finite number, from a JSON number or a plain decimal string (no nan/inf/hex)."""
    if isinstance(value, bool):
        raise InvalidArgument(f"{name} must be a number, not a boolean")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str) and _FLOAT_RE.match(value.strip()):
        number = float(value.strip())
    else:
        raise InvalidArgument(f"{name} must be a number, got {_show(value)}")
    if not math.isfinite(number):
        raise InvalidArgument(f"{name} must be a finite number, got {_show(value)}")
    _check_range(name, number, minimum, maximum)
    if exclusive_maximum is not None and number >= exclusive_maximum:
        raise InvalidArgument(f"{name} must be < {exclusive_maximum:g}, got {number:g}")
    return number


def parse_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (compared lower-case, surrounding spaces ignored)."""
    if not isinstance(value, str):
        raise InvalidArgument(f"{name} must be a string, got {_show(value)}")
    key = value.strip().lower()
    if key not in choices:
        raise InvalidArgument(f"{name} must be one of {', '.join(choices)}, got {_show(value)}")
    return key


def parse_csv(value: str) -> tuple[str, ...]:
    """``"a, b,,c"`` -> ``("a", "b", "c")``; an empty string gives ``()``."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _check_range(name: str, number: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and number < minimum:
        raise InvalidArgument(f"{name} must be >= {minimum}, got {number:g}")
    if maximum is not None and number > maximum:
        raise InvalidArgument(f"{name} must be <= {maximum}, got {number:g}")


def _show(value: Any) -> str:
    """A short, safe rendering of a client value for an error message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# ------------------------------------------------------------------ images in JSON


@dataclass(frozen=True)
class ImageRef:
    """An image a JSON client sent: decoded bytes, or a URL still to be fetched."""

    kind: Literal["bytes", "url"]
    role: Role
    data: bytes = b""
    url: str = ""


def decode_data_uri(text: str, *, role: Role, max_bytes: int) -> bytes:
    """The bytes of a ``data:[<type>][;param=value]*;base64,<data>`` URI, parsed strictly.

    The declared media type is not trusted (the loader sniffs the format from the bytes).
    The size is checked before anything is decoded.
    """
    header, sep, payload = text.partition(",")
    if not sep or not _DATA_HEADER_RE.match(header):
        raise ImageDecodeError(
            f"the {role} image is not a base64 data: URI (expected data:image/jpeg;base64,...)"
        ).with_role(role)
    size = len(payload)
    if size % 4 != 0:
        raise ImageDecodeError(f"the {role} image's base64 data has a wrong length or padding").with_role(role)
    decoded_size = size // 4 * 3 - (payload.endswith("=") + payload.endswith("=="))
    if decoded_size > max_bytes:
        raise ImageTooLarge(f"the {role} image is larger than {max_bytes} bytes", max_bytes=max_bytes).with_role(role)
    if decoded_size == 0:
        raise EmptyImage(f"the {role} image is empty (0 bytes)").with_role(role)
    raw = payload.encode("ascii", errors="replace")
    if not _B64_RE.match(raw):
        raise ImageDecodeError(f"the {role} image's base64 data has characters outside the base64 alphabet").with_role(
            role
        )
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageDecodeError(f"the {role} image's base64 data is invalid").with_role(role) from exc


def parse_image_ref(value: Any, *, role: Role, max_bytes: int) -> ImageRef:
    """A JSON image value: a ``data:`` URI (decoded now) or an ``http(s)://`` URL (fetched
    later, if the server allows it). Any other value is an invalid argument: a string from
    a client is never a file path."""
    if not isinstance(value, str):
        raise InvalidArgument(f"{role} must be a string (a data: URI or an http(s) URL), got {type(value).__name__}")
    text = value.strip()
    lowered = text[:8].lower()
    if lowered.startswith("data:"):
        return ImageRef("bytes", role, data=decode_data_uri(text, role=role, max_bytes=max_bytes))
    if lowered.startswith(("http://", "https://")):
        return ImageRef("url", role, url=text)
    raise InvalidArgument(f"{role} must be a data: URI (base64) or an http(s) URL; file paths are not accepted")
