"""The one image loader: every source becomes an RGB uint8 array of shape (H, W, 3).

Accepted sources: a file path (``str`` or ``os.PathLike``; non-ASCII names work), an
``http://`` / ``https://`` URL string, raw bytes, a binary file object, a PIL image, or a
numpy array (RGB, RGBA or grayscale, uint8). A string is a path unless it starts with
``http://`` or ``https://``: faceproof never guesses base64 from a string.

The format is sniffed from the bytes, never from the file name. EXIF orientation is
applied. JPEG, PNG (8/16-bit, palette, alpha), WebP, BMP, GIF (first frame), HEIC/HEIF
(the iPhone camera's default; decoded by ``pillow-heif``, whose libheif applies the
file's rotation) and AVIF (Pillow's own decoder) are accepted; grayscale and CMYK become
RGB; transparent areas become white. Every format goes through the same byte and pixel
caps.

Guards: a byte cap, a decoded-pixel cap (decompression bombs are refused before any
pixel is decoded), truncated/empty/non-image data raise typed errors, and URL fetching
refuses private, loopback, link-local and cloud-metadata addresses unless explicitly
allowed (checked for every resolved address and again on every redirect, with the
connection pinned to the address that was checked).

Why this module is long: it is the one loader, the single door for untrusted image bytes
(paths, URLs, uploads; every format with its caps); keeping it whole keeps every source
behind the same checks. The fetch deadline lives in :mod:`.http_deadline`.
"""

from __future__ import annotations

import io as _io
import ipaddress
import logging
import os
import re
import socket
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Union
from urllib.parse import urljoin, urlsplit

import numpy as np

from ..errors import (
    EmptyImage,
    ImageDecodeError,
    ImageError,
    ImageNotFound,
    ImageTooLarge,
    InvalidArgument,
    UnsupportedImageType,
    URLFetchError,
    URLNotAllowed,
)
from ..types import ImageArray
from .http_deadline import deadline_transport

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = [
    "ACCEPTED_FORMATS",
    "ImageLimits",
    "ImageSource",
    "URLPolicy",
    "decodable_formats",
    "decode_image",
    "fetch_url",
    "is_url",
    "load_image",
    "read_source_bytes",
]

logger = logging.getLogger(__name__)

ImageSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, BinaryIO, "PILImage.Image", np.ndarray]

#: Pillow format names faceproof decodes (the JPEG decoder also reads MPO, the multi-picture
#: JPEG variant many phone cameras write). HEIF needs ``pillow-heif`` (a core dependency),
#: AVIF a Pillow built with libavif (the PyPI wheels are); see :func:`decodable_formats`.
ACCEPTED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "HEIF", "AVIF")
_PHONE_FORMATS = {"HEIF": "HEIC/HEIF", "AVIF": "AVIF"}
_decodable: tuple[str, ...] | None = None

_URL_RE = re.compile(r"^https?://", re.IGNORECASE)
_SCHEME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


@dataclass(frozen=True)
class ImageLimits:
    """Caps applied to every image before and while it is decoded."""

    max_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 50_000_000

    def __post_init__(self) -> None:
        if self.max_bytes <= 0 or self.max_pixels <= 0:
            raise InvalidArgument("image limits must be positive")


@dataclass(frozen=True)
class URLPolicy:
    """How (and whether) http(s) URLs are fetched.

    ``allow_private`` lifts the private/loopback/link-local/metadata address guard
    entirely (tests, intranets); ``allowed_hosts`` lifts it for named hosts or networks
    only (``"10.0.0.0/8"``, ``"images.internal"``).
    """

    enabled: bool = True
    allow_private: bool = False
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)
    timeout: float = 10.0
    max_redirects: int = 3
    user_agent: str = "faceproof"

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise InvalidArgument("URL timeout must be positive")
        if self.max_redirects < 0:
            raise InvalidArgument("max_redirects must be >= 0")
        object.__setattr__(self, "allowed_hosts", frozenset(h.lower() for h in self.allowed_hosts))


DEFAULT_LIMITS = ImageLimits()
DEFAULT_URL_POLICY = URLPolicy()


def is_url(source: object) -> bool:
    """True for a string that starts with http:// or https:// (case-insensitive)."""
    return isinstance(source, str) and bool(_URL_RE.match(source.strip()))


# --------------------------------------------------------------------------------------
# public entry point


def load_image(
    source: ImageSource,
    *,
    limits: ImageLimits = DEFAULT_LIMITS,
    url_policy: URLPolicy = DEFAULT_URL_POLICY,
) -> ImageArray:
    """Load any supported source into a C-contiguous RGB uint8 array (H, W, 3).

    Raises a subclass of :class:`faceproof.errors.ImageError` for anything that is not a
    usable image, and :class:`faceproof.errors.InvalidArgument` for a source of a type
    faceproof does not accept at all.
    """
    if isinstance(source, np.ndarray):
        return _from_array(source, limits)
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - Pillow is a core dependency
        raise ImageDecodeError("Pillow is required to decode images") from exc
    if isinstance(source, Image.Image):
        return _from_pil(source, limits)
    data = read_source_bytes(source, limits=limits, url_policy=url_policy)
    return decode_image(data, limits=limits)


def read_source_bytes(
    source: ImageSource,
    *,
    limits: ImageLimits = DEFAULT_LIMITS,
    url_policy: URLPolicy = DEFAULT_URL_POLICY,
) -> bytes:
    """The encoded bytes of a path, URL, bytes-like or file-object source (capped)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        _check_byte_count(len(data), limits)
        return data
    if isinstance(source, str):
        text = source.strip()
        if is_url(text):
            return fetch_url(text, policy=url_policy, limits=limits)
        if _SCHEME_RE.match(text):
            raise URLNotAllowed("only http:// and https:// URLs are accepted", scheme=text.split(":", 1)[0].lower())
        return _read_path(Path(source), limits)
    if isinstance(source, os.PathLike):
        return _read_path(Path(source), limits)
    if hasattr(source, "read"):
        try:
            data = source.read(limits.max_bytes + 1)
        except (OSError, ValueError) as exc:
            raise ImageDecodeError(f"could not read the file object: {exc}") from exc
        if isinstance(data, str):
            raise InvalidArgument("file objects must be opened in binary mode")
        _check_byte_count(len(data), limits)
        return bytes(data)
    raise InvalidArgument(
        f"unsupported image source type {type(source).__name__}: pass a path, an http(s) URL, "
        "bytes, a binary file object, a PIL image or an RGB numpy array"
    )


# --------------------------------------------------------------------------------------
# bytes -> pixels


def decodable_formats() -> tuple[str, ...]:
    """The accepted formats this installation decodes: HEIF when ``pillow-heif`` imports
    (its opener is registered with Pillow on the first call), AVIF when Pillow has libavif."""
    global _decodable
    if _decodable is None:
        from PIL import Image, features

        found = ["JPEG", "PNG", "WEBP", "BMP", "GIF"]
        try:
            from pillow_heif import register_heif_opener

            register_heif_opener()  # rotation (irot/imir) is applied by libheif; EXIF says 1 after
            found.append("HEIF")
        except ImportError:  # pragma: no cover - a core dependency
            logger.warning("pillow-heif is not installed: HEIC/HEIF images are refused as unsupported")
        Image.init()
        if features.check("avif") and "AVIF" in Image.OPEN:
            found.append("AVIF")
        _decodable = tuple(found)
    return _decodable


def decode_image(data: bytes, *, limits: ImageLimits = DEFAULT_LIMITS) -> ImageArray:
    """Decode encoded image bytes (format sniffed from content) into RGB uint8."""
    from PIL import Image, UnidentifiedImageError

    if len(data) == 0:
        raise EmptyImage("the image is empty (0 bytes)")
    _check_byte_count(len(data), limits)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        formats = decodable_formats()
        try:
            im = Image.open(_io.BytesIO(data), formats=list(formats))
        except UnidentifiedImageError as exc:
            kind = _sniff_unsupported(data)
            if kind is not None and kind in {_PHONE_FORMATS[f] for f in formats if f in _PHONE_FORMATS}:
                raise ImageDecodeError(f"the {kind} image is corrupt", format=kind) from exc
            if kind is not None:
                raise UnsupportedImageType(
                    f"{kind} is not a supported image type; send JPEG, PNG, WebP, HEIC, AVIF, BMP or GIF",
                    format=kind,
                ) from exc
            raise ImageDecodeError("the data is not a readable image") from exc
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageTooLarge(f"the image has too many pixels: {exc}") from exc
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImageDecodeError(f"the image header is corrupt: {exc}") from exc
        try:
            return _from_pil(im, limits, source_format=im.format)
        finally:
            im.close()


def _from_pil(im: PILImage.Image, limits: ImageLimits, source_format: str | None = None) -> ImageArray:
    from PIL import Image, ImageOps

    width, height = im.size
    _check_pixels(width, height, limits)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            if getattr(im, "n_frames", 1) > 1 and im.format != "HEIF":  # a HEIF opens on its primary image
                im.seek(0)
            im.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageTooLarge(f"the image has too many pixels: {exc}") from exc
        except MemoryError as exc:
            raise ImageTooLarge("the image is too large to decode") from exc
        except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
            what = "truncated" if "truncated" in str(exc).lower() else "corrupt"
            raise ImageDecodeError(f"the image data is {what}: {exc}", format=source_format) from exc
    try:
        oriented = ImageOps.exif_transpose(im)
    except Exception as exc:
        logger.warning("ignoring unreadable EXIF orientation: %s", exc)
        oriented = im
    return _to_rgb_array(oriented if oriented is not None else im)


def _to_rgb_array(im: PILImage.Image) -> ImageArray:
    from PIL import Image

    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im)
        if mode == "F":
            gray = np.clip(arr, 0, 255).astype(np.uint8)
        else:
            wide = arr.astype(np.float64)
            peak = 65535.0 if wide.max(initial=0) > 255 or mode.startswith("I;16") else 255.0
            gray = np.clip(np.rint(wide * (255.0 / peak)), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in im.info)
    if has_alpha:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        rgb = Image.alpha_composite(white, rgba).convert("RGB")
    elif mode != "RGB":
        rgb = im.convert("RGB")
    else:
        rgb = im
    arr = np.asarray(rgb, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ImageDecodeError(f"unexpected decoded shape {arr.shape}")
    return np.ascontiguousarray(arr)


def _from_array(arr: np.ndarray, limits: ImageLimits) -> ImageArray:
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ImageDecodeError(f"an image array must be (H, W), (H, W, 3) RGB or (H, W, 4) RGBA, got shape {arr.shape}")
    height, width = arr.shape[:2]
    if height == 0 or width == 0:
        raise EmptyImage(f"the image array is empty, shape {arr.shape}")
    _check_pixels(width, height, limits)
    if arr.dtype == np.uint16:
        arr = np.rint(arr.astype(np.float32) / 257.0).astype(np.uint8)
    elif arr.dtype != np.uint8:
        raise ImageDecodeError(f"an image array must be uint8 (or uint16), got {arr.dtype}")
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.shape[2] == 4:
        alpha = arr[:, :, 3:4].astype(np.float32) / 255.0
        arr = np.rint(arr[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(arr)


_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "PDF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"PK\x03\x04", "ZIP"),
    (b"\x1f\x8b", "GZIP"),
    (b"8BPS", "PSD"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
)


def _sniff_unsupported(data: bytes) -> str | None:
    """Name a recognisable but unsupported file type, or None if the data is just garbage."""
    head = data[:512]
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"):
            return "HEIC/HEIF"
        if brand in (b"avif", b"avis"):
            return "AVIF"
        return "ISO media (video)"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in data[:4096].lower()):
        return "SVG"
    if text.startswith((b"<!doctype html", b"<html")):
        return "HTML"
    return None


def _check_byte_count(n: int, limits: ImageLimits) -> None:
    if n > limits.max_bytes:
        raise ImageTooLarge(f"the image is larger than {limits.max_bytes} bytes", max_bytes=limits.max_bytes)


def _check_pixels(width: int, height: int, limits: ImageLimits) -> None:
    if width <= 0 or height <= 0:
        raise EmptyImage(f"the image has no pixels ({width}x{height})")
    if width * height > limits.max_pixels:
        raise ImageTooLarge(
            f"the image has {width}x{height} pixels, more than the limit of {limits.max_pixels}",
            width=width,
            height=height,
            max_pixels=limits.max_pixels,
        )


def _read_path(path: Path, limits: ImageLimits) -> bytes:
    try:
        st = path.stat()
    except FileNotFoundError as exc:
        raise ImageNotFound(f"no such file: {path}") from exc
    except (OSError, ValueError) as exc:
        raise ImageNotFound(f"cannot access {path}: {exc}") from exc
    if not path.is_file():
        raise ImageNotFound(f"not a regular file: {path}")
    _check_byte_count(st.st_size, limits)
    try:
        with path.open("rb") as fh:
            data = fh.read(limits.max_bytes + 1)
    except OSError as exc:
        raise ImageNotFound(f"cannot read {path}: {exc}") from exc
    _check_byte_count(len(data), limits)
    return data


# --------------------------------------------------------------------------------------
# URLs


def _address_blocked(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return bool(
        addr.is_private
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
        or not addr.is_global
    )


def _host_allowlisted(host: str, addr: ipaddress.IPv4Address | ipaddress.IPv6Address, allowed: Iterable[str]) -> bool:
    for entry in allowed:
        if entry == host:
            return True
        try:
            if addr in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def _resolve_checked(host: str, port: int, policy: URLPolicy) -> str:
    """Resolve ``host`` and return one address that passed the guard (all must pass)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise URLFetchError(f"cannot resolve host {host!r}", host=host) from exc
    addresses: list[str] = []
    for info in infos:
        ip_text = str(info[4][0]).split("%", 1)[0]
        if ip_text not in addresses:
            addresses.append(ip_text)
    if not addresses:
        raise URLFetchError(f"host {host!r} has no address", host=host)
    if not policy.allow_private:
        for ip_text in addresses:
            addr = ipaddress.ip_address(ip_text)
            if _address_blocked(addr) and not _host_allowlisted(host.lower(), addr, policy.allowed_hosts):
                raise URLNotAllowed(
                    f"refusing to fetch from {host!r}: it resolves to a private, loopback, "
                    "link-local or otherwise non-public address",
                    host=host,
                )
    return addresses[0]


def fetch_url(
    url: str,
    *,
    policy: URLPolicy = DEFAULT_URL_POLICY,
    limits: ImageLimits = DEFAULT_LIMITS,
) -> bytes:
    """Fetch an image over http(s) with the address guard, redirects re-checked, a byte cap
    while streaming and one overall deadline (``policy.timeout``) for connecting, the
    headers and the body of every hop together. (Resolving the host name is not under
    it: ``getaddrinfo`` cannot be interrupted.)"""
    if not policy.enabled:
        raise URLNotAllowed("fetching images by URL is disabled")
    try:
        import httpx
    except ImportError as exc:  # pragma: no cover - httpx is a core dependency
        raise URLFetchError("httpx is required to fetch URLs") from exc

    deadline = time.monotonic() + policy.timeout
    current = url.strip()
    with httpx.Client(
        timeout=httpx.Timeout(policy.timeout),
        follow_redirects=False,
        trust_env=False,
        transport=deadline_transport(deadline),
    ) as client:
        for _hop in range(policy.max_redirects + 1):
            parts = urlsplit(current)
            scheme = (parts.scheme or "").lower()
            if scheme not in ("http", "https"):
                raise URLNotAllowed("only http:// and https:// URLs are accepted", scheme=scheme)
            host = parts.hostname
            if not host:
                raise URLNotAllowed("the URL has no host")
            if parts.username or parts.password:
                raise URLNotAllowed("URLs with credentials are not accepted")
            try:
                port = parts.port or (443 if scheme == "https" else 80)
            except ValueError as exc:
                raise URLNotAllowed(f"invalid port in URL: {exc}") from exc
            ip = _resolve_checked(host, port, policy)
            pinned = httpx.URL(current).copy_with(host=ip)
            headers = {"Host": parts.netloc.rsplit("@", 1)[-1], "User-Agent": policy.user_agent}
            extensions: dict[str, Any] = {"sni_hostname": host} if scheme == "https" else {}
            try:
                with client.stream("GET", pinned, headers=headers, extensions=extensions) as resp:
                    if resp.status_code in (301, 302, 303, 307, 308):
                        location = resp.headers.get("location")
                        if not location:
                            raise URLFetchError("redirect without a Location header")
                        current = urljoin(current, location)
                        continue
                    if resp.status_code != 200:
                        raise URLFetchError(f"the server answered HTTP {resp.status_code}", status=resp.status_code)
                    declared = resp.headers.get("content-length")
                    if declared is not None and declared.isdigit():
                        _check_byte_count(int(declared), limits)
                    chunks: list[bytes] = []
                    total = 0
                    for chunk in resp.iter_bytes():
                        total += len(chunk)
                        _check_byte_count(total, limits)
                        if time.monotonic() > deadline:
                            raise URLFetchError(f"fetching the URL took longer than {policy.timeout}s")
                        chunks.append(chunk)
                    return b"".join(chunks)
            except ImageError:
                raise
            except httpx.TimeoutException as exc:
                raise URLFetchError(f"fetching the URL timed out after {policy.timeout}s") from exc
            except httpx.HTTPError as exc:
                # never the URL, its host, path or query (signed URLs, member ids): the code only
                logger.info("URL fetch failed: url_fetch_failed (%s)", type(exc).__name__)
                raise URLFetchError(f"fetching the URL failed: {type(exc).__name__}") from exc
        raise URLFetchError(f"more than {policy.max_redirects} redirects")
