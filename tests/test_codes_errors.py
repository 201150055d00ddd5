"""The seed's result codes and messages, and the exception tree's stable codes."""

from __future__ import annotations

import pytest

from faceproof import errors
from faceproof.codes import (
    AnalyzeCode,
    VerifyCode,
    analyze_code_for_error,
    message,
    verify_code_for_error,
)


@pytest.mark.parametrize(
    ("code", "value", "ko"),
    [
        (VerifyCode.SAME_PERSON, 2, "동일인이 존재합니다."),
        (VerifyCode.NOT_SAME_PERSON, 0, "동일인이 존재하지 않습니다."),
        (VerifyCode.ORIGIN_UNREADABLE, -22, "원본 이미지를 읽어올 수 없습니다."),
        (VerifyCode.TARGET_UNREADABLE, -21, "대상 이미지를 읽어올 수 없습니다."),
        (VerifyCode.ORIGIN_NO_FACE, -2, "원본 이미지에서 얼굴이 검출되지 않았습니다."),
        (VerifyCode.TARGET_NO_FACE, -1, "비교할 이미지에서 얼굴이 검출되지 않았습니다."),
        (AnalyzeCode.SUCCESS, 0, "원본 이미지에서 성별을 분석했습니다."),
        (AnalyzeCode.UNREADABLE, -11, "원본 이미지를 읽어올 수 없습니다."),
        (AnalyzeCode.NO_FACE, -1, "원본 이미지에서 얼굴이 검출되지 않았습니다."),
    ],
)
def test_seed_codes_and_korean_messages_are_exact(code, value, ko):
    assert int(code) == value
    assert message(code) == ko
    assert message(code, "ko") == ko
    en = message(code, "en")
    assert en and en != ko and en.isascii()


def test_codes_sharing_an_integer_keep_their_own_messages():
    assert int(VerifyCode.NOT_SAME_PERSON) == int(AnalyzeCode.SUCCESS) == 0
    assert message(VerifyCode.NOT_SAME_PERSON) != message(AnalyzeCode.SUCCESS)
    assert message(VerifyCode.TARGET_NO_FACE) != message(AnalyzeCode.NO_FACE)


def test_unknown_language_is_an_invalid_argument():
    with pytest.raises(errors.InvalidArgument):
        message(VerifyCode.SAME_PERSON, "fr")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exc", "origin", "target", "analyze"),
    [
        (errors.ImageDecodeError("x"), -22, -21, -11),
        (errors.ImageNotFound("x"), -22, -21, -11),
        (errors.EmptyImage("x"), -22, -21, -11),
        (errors.ImageTooLarge("x"), -22, -21, -11),
        (errors.UnsupportedImageType("x"), -22, -21, -11),
        (errors.URLNotAllowed("x"), -22, -21, -11),
        (errors.URLFetchError("x"), -22, -21, -11),
        (errors.NoFaceError("x"), -2, -1, -1),
    ],
)
def test_input_errors_map_to_seed_codes(exc, origin, target, analyze):
    assert verify_code_for_error(exc, "origin") == origin
    assert verify_code_for_error(exc, "target") == target
    assert analyze_code_for_error(exc) == analyze


@pytest.mark.parametrize(
    "exc", [errors.InvalidArgument("x"), errors.BackendUnavailable("x"), errors.ModelIntegrityError("x")]
)
def test_non_input_errors_have_no_seed_code(exc):
    assert verify_code_for_error(exc, "origin") is None
    assert analyze_code_for_error(exc) is None


@pytest.mark.parametrize(
    ("cls", "code", "status"),
    [
        (errors.InvalidArgument, "invalid_argument", 400),
        (errors.UnknownBackend, "unknown_backend", 400),
        (errors.ImageDecodeError, "image_unreadable", 422),
        (errors.ImageNotFound, "image_not_found", 422),
        (errors.EmptyImage, "image_empty", 422),
        (errors.UnsupportedImageType, "unsupported_image_type", 415),
        (errors.ImageTooLarge, "image_too_large", 413),
        (errors.URLNotAllowed, "url_not_allowed", 422),
        (errors.URLFetchError, "url_fetch_failed", 422),
        (errors.NoFaceError, "no_face", 422),
        (errors.BackendUnavailable, "backend_unavailable", 501),
        (errors.ModelFileError, "model_file_missing", 500),
        (errors.ModelIntegrityError, "model_integrity", 500),
        (errors.Overloaded, "overloaded", 503),
    ],
)
def test_every_exception_has_a_stable_code_and_status(cls, code, status):
    exc = cls("message", role="origin", extra=1)
    assert isinstance(exc, errors.FaceProofError)
    assert (exc.code, exc.http_status) == (code, status)
    assert exc.to_dict() == {"code": code, "message": "message", "role": "origin", "detail": {"extra": 1}}


def test_input_errors_are_value_errors_and_setup_errors_are_not():
    assert issubclass(errors.InputError, ValueError)
    assert issubclass(errors.NoFaceError, errors.InputError)
    assert not issubclass(errors.SetupError, errors.InputError)
