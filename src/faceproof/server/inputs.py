"""Reading image requests: multipart uploads or JSON (data: URIs / URLs), plus options
from the query string or the body, all under the service's limits.

An endpoint declares a :class:`RequestSpec` (its image fields and options) and calls
:func:`read_request`; the same spec generates the endpoint's OpenAPI request body and
query parameters. Uploads are held in memory only (Starlette's form parser spools files
over 1 MiB to a temporary file, so multipart bodies are parsed here with
python-multipart's streaming parser instead), and strings from clients are never
treated as file paths.

Why this module is long: the spec, the multipart reader and the JSON reader are one
entry point (:func:`read_request`) over the same limits, option parsing and image
ordering rules; split apart, each would need the others' internals.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ..errors import FaceProofError, ImageError, ImageTooLarge, InvalidArgument, Role, URLFetchError, URLNotAllowed
from ..runtime.io import ImageLimits, URLPolicy, fetch_url
from .errors import MalformedRequest, RequestTimeout, UnsupportedMediaType
from .parsing import ImageRef, OptionParser, parse_image_ref
from .settings import ServiceSettings

__all__ = ["ImageField", "OptionField", "ParsedRequest", "RequestSpec", "read_request"]

MAX_TEXT_FIELD = 1024  # bytes of a non-image multipart field
#: an image request in JSON is one flat object of strings (a list for multiple images):
#: a body with more objects/lists or values than this is refused while it streams in,
#: before it is parsed (millions of tiny values cost seconds of parsing and ~100x their
#: size in memory; base64 and URLs have no brackets and few commas)
MAX_JSON_CONTAINERS = 64
MAX_JSON_COMMAS = 1024


@dataclass(frozen=True)
class ImageField:
    """An image the endpoint takes. ``multiple`` fields take 1..``max_count`` images
    (repeated multipart parts, or a JSON list).

    With ``keep_errors``, an image of the field that the service cannot take (bad base64,
    too many bytes, URL refused or failed) does not fail the request: its
    :class:`~faceproof.errors.ImageError` takes the image's place in
    ``ParsedRequest.images`` (check-profile's photos, which are statuses in the result).
    """

    name: str
    role: Role
    description: str
    multiple: bool = False
    max_count: int = 1
    required: bool = True
    keep_errors: bool = False


@dataclass(frozen=True)
class OptionField:
    name: str
    parse: OptionParser
    schema: dict[str, Any]
    description: str


@dataclass(frozen=True)
class RequestSpec:
    images: tuple[ImageField, ...]
    options: tuple[OptionField, ...] = ()

    def option(self, name: str) -> OptionField:
        for opt in self.options:
            if opt.name == name:
                return opt
        raise KeyError(name)

    def image_field(self, name: str) -> ImageField | None:
        for img in self.images:
            if img.name == name:
                return img
        return None

    def openapi(self) -> dict[str, Any]:
        """``openapi_extra`` for the route: query parameters and both body encodings."""
        params = [
            {"name": o.name, "in": "query", "required": False, "schema": o.schema, "description": o.description}
            for o in self.options
        ]
        upload: dict[str, Any] = {}
        inline: dict[str, Any] = {}
        for img in self.images:
            binary = {"type": "string", "format": "binary"}
            text = {"type": "string", "description": "a data: URI (base64) or an http(s) URL"}
            if img.multiple:
                upload[img.name] = {"type": "array", "items": binary, "maxItems": img.max_count}
                inline[img.name] = {"type": "array", "items": text, "maxItems": img.max_count}
            else:
                upload[img.name] = binary
                inline[img.name] = text
            upload[img.name]["description"] = img.description
            inline[img.name]["description"] = f"{img.description} ({text['description']})"
        for o in self.options:
            upload[o.name] = {**o.schema, "description": o.description}
            inline[o.name] = {**o.schema, "description": o.description}
        required = [i.name for i in self.images if i.required]
        return {
            "parameters": params,
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {"schema": {"type": "object", "properties": upload, "required": required}},
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": inline,
                            "required": required,
                            "additionalProperties": False,
                        }
                    },
                },
            },
        }


@dataclass
class ParsedRequest:
    #: the images of each field, in order; an ImageError only in fields with ``keep_errors``
    images: dict[str, list[bytes | ImageError]] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def image(self, name: str) -> bytes:
        value = self.images[name][0]
        if isinstance(value, ImageError):  # only fields with keep_errors hold errors
            raise value
        return value

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)


# ------------------------------------------------------------------ entry point


async def read_request(
    request: Request,
    spec: RequestSpec,
    settings: ServiceSettings,
    deadline: float,
    into: ParsedRequest | None = None,
) -> ParsedRequest:
    """Parse the query string and the body of an image request.

    ``deadline`` is in the event loop's clock. Errors are typed: image problems carry
    the image's role (origin/target/image), the rest are request or argument errors.
    Options are parsed as soon as they are read, into ``into`` when given, so that a
    caller answering an image error still knows the options read before it (``lang``).
    """
    parsed = ParsedRequest() if into is None else into
    for name, value in _query_options(request, spec).items():
        parsed.options[name] = spec.option(name).parse(name, value)
    query_names = set(parsed.options)
    media_type, params = _content_type(request)
    try:
        async with asyncio.timeout_at(deadline):
            if media_type == "multipart/form-data":
                boundary = params.get("boundary", "")
                if not boundary or len(boundary) > 200:
                    raise MalformedRequest("the multipart Content-Type has no valid boundary")
                await _read_multipart(request, boundary.encode("latin-1"), spec, settings, parsed, query_names)
            elif media_type == "application/json":
                await _read_json(request, spec, settings, parsed, query_names, deadline)
            else:
                raise UnsupportedMediaType(
                    "send the images as multipart/form-data or application/json"
                    + (f", not {media_type}" if media_type else "")
                )
    except TimeoutError:
        raise RequestTimeout(f"the request was not received within {settings.request_timeout:g} s") from None
    for img in spec.images:
        if img.required and not parsed.images.get(img.name):
            raise InvalidArgument(
                f"{img.name} needs at least one image" if img.multiple else f"the {img.name} image is missing"
            )
    return parsed


def _set_option(spec: RequestSpec, parsed: ParsedRequest, query_names: set[str], name: str, value: Any) -> None:
    if name in query_names:
        raise InvalidArgument(f"{name} is given both in the query string and in the body")
    parsed.options[name] = spec.option(name).parse(name, value)


def _content_type(request: Request) -> tuple[str, dict[str, str]]:
    from python_multipart.multipart import parse_options_header

    raw = request.headers.get("content-type", "")
    if not raw:
        return "", {}
    kind, params = parse_options_header(raw)
    return (
        kind.decode("latin-1").strip().lower(),
        {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in params.items()},
    )


def _query_options(request: Request, spec: RequestSpec) -> dict[str, str]:
    raw = request.scope.get("query_string", b"").decode("latin-1")
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=bool(raw), max_num_fields=32)
    except ValueError as exc:
        raise InvalidArgument(f"the query string is malformed: {exc}") from None
    known = {o.name for o in spec.options}
    out: dict[str, str] = {}
    for name, value in pairs:
        if name not in known:
            raise InvalidArgument(
                f"unknown query parameter {name[:40]!r}; accepted: {', '.join(sorted(known)) or 'none'}"
            )
        if name in out:
            raise InvalidArgument(f"query parameter {name!r} is given more than once")
        out[name] = value
    return out


# ------------------------------------------------------------------ multipart


class _MultipartCollector:
    """python-multipart callbacks that keep every part in memory, within limits."""

    def __init__(self, spec: RequestSpec, settings: ServiceSettings, parsed: ParsedRequest, query: set[str]) -> None:
        self.spec = spec
        self.max_image = settings.max_image_bytes
        self.images = parsed.images
        self.parsed = parsed
        self.query = query
        self.seen_options: set[str] = set()
        self.finished = False
        self._field = bytearray()
        self._value = bytearray()
        self._headers: dict[str, bytes] = {}
        self._name = ""
        self._image: ImageField | None = None
        self._data = bytearray()
        self._error: ImageError | None = None  # a kept error of the current part (keep_errors fields)

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self._headers = {}
        self._data = bytearray()
        self._name = ""
        self._image = None
        self._error = None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[bytes(self._field).decode("latin-1").strip().lower()] = bytes(self._value)
        self._field = bytearray()
        self._value = bytearray()

    def on_headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        disposition = self._headers.get("content-disposition")
        if disposition is None:
            raise MalformedRequest("a multipart part has no Content-Disposition header")
        kind, params = parse_options_header(disposition)
        raw_name = params.get(b"name")
        if kind.lower() != b"form-data" or not raw_name:
            raise MalformedRequest("a multipart part is not a named form-data field")
        name = raw_name.decode("utf-8", errors="replace")
        image = self.spec.image_field(name)
        known_option = any(o.name == name for o in self.spec.options)
        if image is None and not known_option:
            accepted = [i.name for i in self.spec.images] + [o.name for o in self.spec.options]
            raise InvalidArgument(f"unexpected form field {name[:40]!r}; accepted: {', '.join(accepted)}")
        count = len(self.images.get(name, ())) if image is not None else int(name in self.seen_options)
        limit = image.max_count if image is not None and image.multiple else 1
        if count >= limit:
            raise InvalidArgument(
                f"{name} is given more than once" if limit == 1 else f"{name} takes at most {limit} images"
            )
        self._name = name
        self._image = image

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._error is not None:  # an image already refused (kept error): drop the rest of it
            return
        size = len(self._data) + (end - start)
        if self._image is not None:
            if size > self.max_image:
                error = ImageTooLarge(
                    f"the {self._image.role} image is larger than {self.max_image} bytes", max_bytes=self.max_image
                ).with_role(self._image.role)
                if not self._image.keep_errors:
                    raise error
                assert isinstance(error, ImageError)
                self._error = error
                self._data = bytearray()
                return
        elif size > MAX_TEXT_FIELD:
            raise InvalidArgument(f"form field {self._name!r} is longer than {MAX_TEXT_FIELD} bytes")
        self._data += data[start:end]

    def on_part_end(self) -> None:
        if self._image is not None:
            self.images.setdefault(self._name, []).append(bytes(self._data) if self._error is None else self._error)
        else:
            try:
                text = bytes(self._data).decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidArgument(f"form field {self._name!r} is not UTF-8 text") from None
            self.seen_options.add(self._name)
            _set_option(self.spec, self.parsed, self.query, self._name, text)
        self._data = bytearray()

    def on_end(self) -> None:
        self.finished = True


async def _read_multipart(
    request: Request,
    boundary: bytes,
    spec: RequestSpec,
    settings: ServiceSettings,
    parsed: ParsedRequest,
    query: set[str],
) -> None:
    from python_multipart import MultipartParser
    from python_multipart.exceptions import MultipartParseError

    collector = _MultipartCollector(spec, settings, parsed, query)
    callbacks: Any = collector.callbacks()
    parser = MultipartParser(boundary, callbacks, max_size=settings.max_body_bytes)
    try:
        async for chunk in request.stream():
            if chunk:
                parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise MalformedRequest(f"the multipart body is malformed: {str(exc)[:120]}") from None
    if not collector.finished:
        raise MalformedRequest("the multipart body ended before its closing boundary")


# ------------------------------------------------------------------ JSON


def _no_constants(name: str) -> Any:
    raise MalformedRequest(f"the JSON body contains {name}, which is not valid JSON")


def _parse_json(body: bytes) -> Any:
    """``json.loads`` with the service's errors (run in a worker thread)."""
    if not body.strip():
        raise MalformedRequest("the JSON body is empty")
    try:
        return json.loads(body, parse_constant=_no_constants)
    except FaceProofError:
        raise
    except (ValueError, RecursionError) as exc:
        raise MalformedRequest(f"the body is not valid JSON: {str(exc)[:120]}") from None


async def _read_json_body(request: Request) -> bytes:
    """The body, refused while it streams in once it holds more objects, lists or values
    than an image request can (see ``MAX_JSON_CONTAINERS``)."""
    chunks: list[bytes] = []
    containers = commas = 0
    async for chunk in request.stream():
        containers += chunk.count(b"{") + chunk.count(b"[")
        commas += chunk.count(b",")
        if containers > MAX_JSON_CONTAINERS or commas > MAX_JSON_COMMAS:
            raise MalformedRequest(
                f"the JSON body has more than {MAX_JSON_CONTAINERS} objects or lists or more than "
                f"{MAX_JSON_COMMAS} values; an image request is one object of strings"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _image_refs(
    doc: dict[str, Any], spec: RequestSpec, settings: ServiceSettings
) -> list[tuple[ImageField, ImageRef | ImageError]]:
    """Every image of the document in field order, data: URIs decoded (run in a worker thread).
    An image error is kept (not raised) so that the first image's problem is the one
    reported, as the library reports origin before target."""
    items: list[tuple[ImageField, ImageRef | ImageError]] = []
    for img in spec.images:
        if img.name not in doc:
            continue
        value = doc[img.name]
        if img.multiple:
            if not isinstance(value, list) or not value:
                raise InvalidArgument(f"{img.name} must be a non-empty list of images")
            if len(value) > img.max_count:
                raise InvalidArgument(f"{img.name} takes at most {img.max_count} images")
            values = value
        else:
            values = [value]
        for item in values:
            try:
                items.append((img, parse_image_ref(item, role=img.role, max_bytes=settings.max_image_bytes)))
            except ImageError as exc:
                items.append((img, exc))
    return items


async def _read_json(
    request: Request,
    spec: RequestSpec,
    settings: ServiceSettings,
    parsed: ParsedRequest,
    query: set[str],
    deadline: float,
) -> None:
    body = await _read_json_body(request)
    # parsing and base64 decoding run in a worker thread: the event loop keeps answering
    # between them (each is one C call holding the GIL, bounded by the body caps)
    doc = await run_in_threadpool(_parse_json, body)
    del body
    if not isinstance(doc, dict):
        raise MalformedRequest("the JSON body must be an object")
    accepted = [i.name for i in spec.images] + [o.name for o in spec.options]
    for key in doc:
        if key not in accepted:
            raise InvalidArgument(f"unexpected field {str(key)[:40]!r}; accepted: {', '.join(accepted)}")
    for opt in spec.options:
        if doc.get(opt.name) is not None:
            _set_option(spec, parsed, query, opt.name, doc[opt.name])
    items = await run_in_threadpool(_image_refs, doc, spec, settings)
    for (img, _), data in zip(items, await _resolve(items, settings, deadline), strict=True):
        parsed.images.setdefault(img.name, []).append(data)


async def _resolve(
    items: list[tuple[ImageField, ImageRef | ImageError]], settings: ServiceSettings, deadline: float
) -> list[bytes | ImageError]:
    """The bytes of every image, fetching URLs (in threads, concurrently) up to the first
    image that already failed in a field without ``keep_errors``; raises the first such
    image's error in field order. Errors of ``keep_errors`` fields take their image's place."""
    first_error = next(
        (i for i, (img, item) in enumerate(items) if isinstance(item, ImageError) and not img.keep_errors), len(items)
    )
    urls = [
        (i, item)
        for i, (_, item) in enumerate(items[:first_error])
        if isinstance(item, ImageRef) and item.kind == "url"
    ]
    outcomes: dict[int, bytes | BaseException] = {}
    if urls and not settings.url_fetch:
        for i, ref in urls:
            outcomes[i] = URLNotAllowed(
                f"the {ref.role} image is a URL, and fetching images by URL is disabled on this server"
            )
    elif urls:
        policy = URLPolicy(
            enabled=True,
            allow_private=settings.url_allow_private,
            allowed_hosts=frozenset(settings.url_allowed_hosts),
            # the fetch ends by the request's own deadline too: its thread never outlives the request
            timeout=max(0.001, min(settings.url_timeout, deadline - asyncio.get_running_loop().time())),
            max_redirects=settings.url_max_redirects,
        )
        limits = ImageLimits(max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels)
        results = await asyncio.gather(
            *(run_in_threadpool(fetch_url, ref.url, policy=policy, limits=limits) for _, ref in urls),
            return_exceptions=True,
        )
        outcomes.update({i: result for (i, _), result in zip(urls, results, strict=True)})
    out: list[bytes | ImageError] = []
    for i, (img, item) in enumerate(items):
        if isinstance(item, ImageError):
            if not img.keep_errors:
                raise item
            out.append(item)
            continue
        outcome: bytes | BaseException = outcomes.get(i, item.data)
        if isinstance(outcome, BaseException):
            error = (
                outcome
                if isinstance(outcome, FaceProofError)
                else URLFetchError(f"fetching the {item.role} image failed")
            )
            error.with_role(item.role)
            if error is not outcome:
                error.__cause__ = outcome
            if not (img.keep_errors and isinstance(error, ImageError)):
                raise error
            out.append(error)
            continue
        out.append(outcome)
    return out
