"""``POST /v1/challenges``: a signed, single-use challenge for the next selfie
(docs/authenticity.md). The token is then sent as the ``challenge`` option of
``POST /v1/check-profile``; any replica holding the same secret accepts it, and the
spent nonces live in the service's store so that a token is redeemed once in all."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..authenticity import new_challenge
from ..authenticity.challenge import Instruction
from ..errors import BackendUnavailable, InvalidArgument
from .common import ERROR_RESPONSES
from .schemas import ErrorResponse
from .state import request_id_of, service_of

__all__ = ["router"]

router = APIRouter(tags=["authenticity"])


def _instruction(body: bytes) -> Instruction | None:
    if not body.strip():
        return None
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument('the body must be empty or a JSON object such as {"instruction": "tilt_left"}') from None
    if not isinstance(doc, dict) or set(doc) - {"instruction"}:
        raise InvalidArgument('the body may only hold an "instruction"')
    value = doc.get("instruction")
    if value is None:
        return None
    try:
        return Instruction(value)
    except ValueError:
        known = ", ".join(i.value for i in Instruction)
        raise InvalidArgument(f"unknown instruction {value!r}; known: {known}") from None


@router.post(
    "/challenges",
    summary="A signed, single-use challenge (a head pose) for the next verification selfie",
    responses={
        **ERROR_RESPONSES,
        501: {"model": ErrorResponse, "description": "challenges are not configured (FACEPROOF_CHALLENGE_SECRET)"},
    },
)
async def create_challenge(request: Request) -> JSONResponse:
    """``token`` (send it as check-profile's ``challenge``), ``instruction`` (show it to the
    member: ``turn_left`` = turn the head to *their* left, ``tilt_left`` = lean it to their
    left shoulder; the selfie is judged unmirrored), ``issued_at`` and ``expires_at`` (Unix s)."""
    settings = service_of(request).settings
    if settings.challenge_secret is None:
        raise BackendUnavailable("challenges are not configured: set FACEPROOF_CHALLENGE_SECRET (>= 32 bytes)")
    instruction = _instruction(await request.body())
    challenge = new_challenge(settings.challenge_secret.encode(), instruction, settings.challenge_ttl)
    body: dict[str, Any] = {"request_id": request_id_of(request), **challenge.to_dict()}
    return JSONResponse(body)  # the middleware marks every answer Cache-Control: no-store
