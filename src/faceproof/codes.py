"""The seed's stable integer result codes and their messages (Korean and English).

The integers never change: existing callers branch on them. Messages come in Korean
(the seed's wording, kept exactly) and English.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Literal

from .errors import FaceProofError, ImageError, NoFaceError, Role

Lang = Literal["ko", "en"]
LANGS: tuple[Lang, ...] = ("ko", "en")

__all__ = [
    "LANGS",
    "AnalyzeCode",
    "Lang",
    "VerifyCode",
    "analyze_code_for_error",
    "check_lang",
    "message",
    "verify_code_for_error",
]


class VerifyCode(IntEnum):
    """Outcome of :meth:`faceproof.FaceProof.verify`."""

    SAME_PERSON = 2
    NOT_SAME_PERSON = 0
    ORIGIN_UNREADABLE = -22
    TARGET_UNREADABLE = -21
    ORIGIN_NO_FACE = -2
    TARGET_NO_FACE = -1


class AnalyzeCode(IntEnum):
    """Outcome of :meth:`faceproof.FaceProof.distinguish` (gender/age per face)."""

    SUCCESS = 0
    UNREADABLE = -11
    NO_FACE = -1


# Keyed by (enum class, value): VerifyCode and AnalyzeCode share integers (0, -1) with
# different meanings, and IntEnum members with equal values are equal dict keys.
_MESSAGES: dict[tuple[type[IntEnum], int], dict[Lang, str]] = {
    (VerifyCode, VerifyCode.SAME_PERSON.value): {
        "ko": "동일인이 존재합니다.",
        "en": "The same person is present in both images.",
    },
    (VerifyCode, VerifyCode.NOT_SAME_PERSON.value): {
        "ko": "동일인이 존재하지 않습니다.",
        "en": "The same person is not present in both images.",
    },
    (VerifyCode, VerifyCode.ORIGIN_UNREADABLE.value): {
        "ko": "원본 이미지를 읽어올 수 없습니다.",
        "en": "The original image could not be read.",
    },
    (VerifyCode, VerifyCode.TARGET_UNREADABLE.value): {
        "ko": "대상 이미지를 읽어올 수 없습니다.",
        "en": "The target image could not be read.",
    },
    (VerifyCode, VerifyCode.ORIGIN_NO_FACE.value): {
        "ko": "원본 이미지에서 얼굴이 검출되지 않았습니다.",
        "en": "No face was detected in the original image.",
    },
    (VerifyCode, VerifyCode.TARGET_NO_FACE.value): {
        "ko": "비교할 이미지에서 얼굴이 검출되지 않았습니다.",
        "en": "No face was detected in the image to compare.",
    },
    (AnalyzeCode, AnalyzeCode.SUCCESS.value): {
        "ko": "원본 이미지에서 성별을 분석했습니다.",
        "en": "Gender was analysed in the original image.",
    },
    (AnalyzeCode, AnalyzeCode.UNREADABLE.value): {
        "ko": "원본 이미지를 읽어올 수 없습니다.",
        "en": "The original image could not be read.",
    },
    (AnalyzeCode, AnalyzeCode.NO_FACE.value): {
        "ko": "원본 이미지에서 얼굴이 검출되지 않았습니다.",
        "en": "No face was detected in the original image.",
    },
}


def check_lang(lang: str) -> Lang:
    from .errors import InvalidArgument

    if lang not in LANGS:
        raise InvalidArgument(f"lang must be one of {', '.join(LANGS)}, got {lang!r}")
    return lang  # type: ignore[return-value]


def message(code: VerifyCode | AnalyzeCode, lang: Lang = "ko") -> str:
    """The human message for a result code, in Korean (default, as the seed) or English."""
    return _MESSAGES[(type(code), int(code))][check_lang(lang)]


def verify_code_for_error(error: FaceProofError, role: Role) -> VerifyCode | None:
    """The seed code for an input error about the origin or target image, else None."""
    if isinstance(error, ImageError):
        return VerifyCode.ORIGIN_UNREADABLE if role == "origin" else VerifyCode.TARGET_UNREADABLE
    if isinstance(error, NoFaceError):
        return VerifyCode.ORIGIN_NO_FACE if role == "origin" else VerifyCode.TARGET_NO_FACE
    return None


def analyze_code_for_error(error: FaceProofError) -> AnalyzeCode | None:
    """The seed code for an input error in :meth:`distinguish`, else None."""
    if isinstance(error, ImageError):
        return AnalyzeCode.UNREADABLE
    if isinstance(error, NoFaceError):
        return AnalyzeCode.NO_FACE
    return None
