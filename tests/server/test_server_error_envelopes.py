"""Error envelopes the other server tests do not reach: unknown paths (404), wrong methods
(405), and a deployment whose model file is missing (``model_file_missing``)."""

from __future__ import annotations

import dataclasses
import time

import pytest

from faceproof.runtime import models as model_files
from faceproof.server import ServiceSettings, create_app

from .server_helpers import OBAMA_1, OBAMA_2, TestClient, assert_envelope


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/no-such-endpoint"),
        ("POST", "/v1/verifyy"),
        ("GET", "/no-such-page"),
        ("GET", "/v2/verify"),
    ],
)
def test_an_unknown_path_gets_the_404_envelope(api, method, path):
    r = api.request(method, path)
    body = assert_envelope(r, 404, "not_found")
    assert body["error"]["message"] == f"no such endpoint: {method} {path}"
    assert r.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/verify"),  # POST only
        ("PUT", "/v1/check-profile"),
        ("DELETE", "/v1/distinguish"),
        ("POST", "/v1/models"),  # GET only
        ("POST", "/healthz"),
    ],
)
def test_a_wrong_method_gets_the_405_envelope(api, method, path):
    r = api.request(method, path)
    body = assert_envelope(r, 405, "method_not_allowed")
    assert body["error"]["message"] == f"{method} is not allowed here"


def test_a_post_with_images_to_an_unknown_path_gets_404_and_the_service_keeps_answering(api, img):
    r = api.post("/v1/nope", files={"origin": ("o.jpg", img(OBAMA_1)), "target": ("t.jpg", img(OBAMA_2))})
    assert_envelope(r, 404, "not_found")
    ok = api.post("/v1/verify", files={"origin": ("o.jpg", img(OBAMA_1)), "target": ("t.jpg", img(OBAMA_2))})
    assert ok.status_code == 200 and ok.json()["result_code"] == 2


@pytest.fixture
def sface_file_missing(monkeypatch):
    """The SFace entry of the model-file registry points at a file its package does not
    carry, as after a broken install (the registry's dict is patched, not the package)."""
    spec = model_files.MODEL_FILES["sface"]
    missing = dataclasses.replace(spec, resource="models/face_recognition_sface_MISSING.onnx")
    monkeypatch.setitem(model_files.MODEL_FILES, "sface", missing)
    return missing


def test_a_missing_model_file_keeps_the_service_unready_and_says_why(sface_file_missing, img):
    app = create_app(ServiceSettings(threads=1, attributes=()))
    with TestClient(app, raise_server_exceptions=False) as client:
        # the warm-up (a background task) fails as soon as it looks the file up
        deadline = time.monotonic() + 30
        ready = client.get("/readyz")
        while "warm-up failed" not in ready.text and time.monotonic() < deadline:
            time.sleep(0.05)
            ready = client.get("/readyz")
        body = assert_envelope(ready, 503, "not_ready")
        assert body["ready"] is False
        message = body["error"]["message"]
        assert message.startswith("warm-up failed: model_file_missing: ")
        assert "face_recognition_sface_MISSING.onnx" in message and "reinstall" in message
        assert ready.headers["retry-after"] == "30"  # as the /v1 routes say below

        # the process is up, and every /v1 request is refused with the reason, not a 500
        assert client.get("/healthz").status_code == 200
        r = client.post("/v1/verify", files={"origin": ("o.jpg", img(OBAMA_1)), "target": ("t.jpg", img(OBAMA_2))})
        body = assert_envelope(r, 503, "not_ready")
        assert body["error"]["message"].startswith("the models failed to load: ")
        assert "face_recognition_sface_MISSING.onnx" in body["error"]["message"]
        assert r.headers["retry-after"] == "30"  # not a transient state: retry much later
        assert "Traceback" not in r.text


def test_a_405_names_the_allowed_methods(api):
    r = api.get("/v1/verify")
    assert r.status_code == 405
    assert r.headers.get("allow") == "POST"
