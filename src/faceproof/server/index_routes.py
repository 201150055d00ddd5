"""The member face index over HTTP (behind the API key, like every ``/v1`` route):

* ``POST /v1/index/members/{member_id}/faces``: enrol the dominant face of each image;
* ``POST /v1/index/search``: accounts whose enrolled face resembles the image's dominant
  face, candidates for human review (never an automatic ban);
* ``DELETE /v1/index/members/{member_id}``: erase the member's templates (right to
  erasure; the next search no longer sees them).

The index lives in the service's store (``FACEPROOF_STORE_URL``: SQLite for one node,
PostgreSQL for several replicas); without one the routes answer 501. Only embeddings and
ids are stored, never images; every search and deletion is an audit row naming the API
key's id, without biometric data. Embedding runs on an inference worker's pipeline.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..decision.subject import selfie_subject
from ..errors import InvalidArgument, NoFaceError
from ..index import MemberIndex, ModelId
from .common import ERROR_RESPONSES, check_threshold, report_response, server_timings
from .inputs import ImageField, OptionField, ParsedRequest, RequestSpec, read_request
from .middleware import state_of
from .parsing import parse_float, parse_int
from .schemas import ErrorResponse
from .state import deadline_of, service_of
from .workers import Worker

__all__ = ["ENROL_SPEC", "SEARCH_SPEC", "router"]

router = APIRouter(prefix="/index", tags=["index"])

_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
_STATUS = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def _member_id(value: str) -> str:
    if not _ID.match(value):
        raise InvalidArgument("member_id must be 1-128 characters of letters, digits and ._:@/+=-")
    return value


def _status(name: str, value: Any) -> str:
    if not isinstance(value, str) or not _STATUS.match(value):
        raise InvalidArgument(f"{name} must be a lowercase label such as active or banned")
    return value


def _ids(name: str, value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else str(value).split(",")
    out = tuple(str(v).strip() for v in items if str(v).strip())
    if len(out) > 100 or any(not _ID.match(v) for v in out):
        raise InvalidArgument(f"{name} must be at most 100 ids of letters, digits and ._:@/+=-")
    return out


STATUS = OptionField("status", _status, {"type": "string"}, "the member's label (new members: active), e.g. banned")
PHOTO_IDS = OptionField(
    "photo_ids", _ids, {"type": "string"}, "comma-separated ids, one per image (default: photo-1, photo-2, ...)"
)
K = OptionField(
    "k",
    lambda n, v: parse_int(n, v, minimum=1, maximum=100),
    {"type": "integer", "minimum": 1, "maximum": 100},
    "at most this many candidates (default 10)",
)
MIN_SIMILARITY = OptionField(
    "threshold",
    lambda n, v: parse_float(n, v, minimum=-1.0, maximum=1.0),
    {"type": "number", "minimum": -1, "maximum": 1},
    "cosine similarity floor (default: the open-set threshold for the index's target FPIR at its size); "
    "refused unless the server allows per-request thresholds",
)
EXCLUDE = OptionField(
    "exclude", _ids, {"type": "string"}, "comma-separated member ids to leave out (the searching one)"
)

ENROL_SPEC = RequestSpec(
    images=(ImageField("images", "image", "photos of the member (1 to 10)", multiple=True, max_count=10),),
    options=(STATUS, PHOTO_IDS),
)
SEARCH_SPEC = RequestSpec(
    images=(ImageField("image", "image", "the face to search for"),), options=(K, MIN_SIMILARITY, EXCLUDE)
)

_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    404: {"model": ErrorResponse, "description": "unknown member"},
    409: {"model": ErrorResponse, "description": "the index holds another model's templates"},
    501: {"model": ErrorResponse, "description": "no store is configured (FACEPROOF_STORE_URL)"},
}


async def _index(request: Request) -> MemberIndex:
    return await asyncio.to_thread(service_of(request).member_index)


def _actor(request: Request) -> str:
    key_id = state_of(request.scope).get("key_id")
    return f"key:{key_id}" if key_id else "anonymous"


def _embed_subjects(worker: Worker, images: list[bytes]) -> tuple[np.ndarray, ModelId]:
    pipeline = worker.pipeline()
    vectors = []
    for i, data in enumerate(images):
        faces = pipeline.faces(pipeline.load_image(data))
        if not faces:
            raise NoFaceError(f"no face was detected in image {i + 1}").with_role("image")
        subject, _ = selfie_subject(faces, 0.5)
        assert subject.embedding is not None  # pipeline.faces embeds every face
        vectors.append(subject.embedding)
    return np.stack(vectors).astype(np.float32), ModelId.from_client(pipeline)


@router.post(
    "/members/{member_id}/faces",
    summary="Enrol the dominant face of each photo under a member",
    openapi_extra=ENROL_SPEC.openapi(),
    responses=_RESPONSES,
)
async def enrol(member_id: str, request: Request) -> JSONResponse:
    svc = service_of(request)
    index = await _index(request)
    member = _member_id(member_id)
    parsed: ParsedRequest = await read_request(request, ENROL_SPEC, svc.settings, deadline_of(request))
    images = parsed.images["images"]
    photo_ids = parsed.option("photo_ids") or tuple(f"photo-{i + 1}" for i in range(len(images)))
    if len(photo_ids) != len(images):
        raise InvalidArgument(f"{len(images)} images but {len(photo_ids)} photo ids")
    assert svc.pool is not None
    (vectors, model), waited = await svc.pool.run(lambda w: _embed_subjects(w, images), deadline=deadline_of(request))  # type: ignore[arg-type]
    written = await asyncio.to_thread(
        index.enroll,
        member,
        vectors,
        list(photo_ids),
        status=parsed.option("status"),
        model=model,
        actor=_actor(request),
    )
    report = {"member_id": member, "enrolled": written, "photo_ids": list(photo_ids)}
    return report_response(request, report, None, server_timings(request, waited))


@router.post(
    "/search",
    summary="Accounts whose enrolled face resembles this face (candidates for review)",
    openapi_extra=SEARCH_SPEC.openapi(),
    responses=_RESPONSES,
)
async def search(request: Request) -> JSONResponse:
    svc = service_of(request)
    index = await _index(request)
    parsed = await read_request(request, SEARCH_SPEC, svc.settings, deadline_of(request))
    check_threshold(request, parsed.options)  # a floor that hides candidates is the server's to set
    image = parsed.image("image")
    assert svc.pool is not None
    (vectors, model), waited = await svc.pool.run(lambda w: _embed_subjects(w, [image]), deadline=deadline_of(request))  # type: ignore[arg-type]
    found = await asyncio.to_thread(
        index.search,
        vectors[0],
        k=parsed.option("k") or 10,
        model=model,
        threshold=parsed.option("threshold"),
        exclude_members=parsed.option("exclude") or (),
        actor=_actor(request),
    )
    return report_response(request, found.to_dict(), None, server_timings(request, waited))


@router.delete("/members/{member_id}", summary="Erase a member's templates (right to erasure)", responses=_RESPONSES)
async def remove(member_id: str, request: Request) -> JSONResponse:
    index = await _index(request)
    removed = await asyncio.to_thread(index.remove, _member_id(member_id), actor=_actor(request))
    return report_response(request, {"member_id": member_id, "removed": removed}, None, server_timings(request, None))
