"""``POST /v1/check-profile`` with the real models on the licensed photos: verdicts, the
selfie's statuses and their HTTP answers, per-photo statuses for photos the service or
the library cannot read, the photos-per-request limit, options, and the confirmation
backend."""

from __future__ import annotations

import http.server
import io
import json

import pytest
from PIL import Image, ImageFilter

from faceproof import errors
from faceproof.decision.policy import Policy
from faceproof.decision.profile import SelfieCheck, SelfieStatus
from faceproof.server import ServiceSettings, create_app
from faceproof.server.profile_routes import photos_not_checked_note, selfie_error
from faceproof.server.schemas import CheckProfileResponse, ErrorResponse

from .server_helpers import CHIRAC_1, GROUP, NO_FACE, OBAMA_1, OBAMA_2, assert_envelope, data_uri, encode, running_app

CHIRAC_2 = "pytopenface/chirac2.jpg"
CHIRAC_4 = "pytopenface/chirac4.jpg"
PATH = "/v1/check-profile"


def upload(selfie: bytes, photos: list[bytes]) -> list[tuple[str, tuple[str, bytes]]]:
    """Multipart parts: the selfie, then one ``photos`` part per profile photo."""
    return [("selfie", ("selfie.jpg", selfie)), *(("photos", (f"p{i}.jpg", p)) for i, p in enumerate(photos))]


def ok(response) -> dict:
    assert response.status_code == 200, (response.status_code, response.text[:500])
    doc = response.json()
    CheckProfileResponse.model_validate(doc)
    assert doc["request_id"] == response.headers["x-request-id"] and "error" not in doc
    return doc


def statuses(doc: dict) -> list[tuple[int, str, str | None]]:
    return [(p["index"], p["status"], p["error"] and p["error"]["code"]) for p in doc["photos"]]


def same_as_library(doc: dict, lib: dict) -> None:
    """The service's answer is the library's result (up to timings and float noise)."""
    for key in ("verdict", "reasons", "checked", "summary", "metric", "threshold", "threshold_source", "band"):
        assert doc[key] == lib[key], key
    assert doc["policy"] == lib["policy"] and doc["model"] == lib["model"] and doc["detector"] == lib["detector"]
    assert doc["selfie"]["status"] == lib["selfie"]["status"]
    assert len(doc["photos"]) == len(lib["photos"])
    for mine, theirs in zip(doc["photos"], lib["photos"], strict=True):
        assert (mine["index"], mine["status"], mine["face_index"]) == (
            theirs["index"],
            theirs["status"],
            theirs["face_index"],
        )
        assert mine["similarities"] == pytest.approx(theirs["similarities"], abs=2e-4)


# ------------------------------------------------------------------ verdicts (real models)


def test_obama_selfie_vs_obama_photos_and_a_group_photo_is_verified(api, img):
    r = api.post(PATH, files=upload(img(OBAMA_1), [img(OBAMA_2), img(GROUP)]))
    doc = ok(r)
    assert doc["verdict"] == "verified" and doc["reasons"] == ["person_present"] and doc["checked"] is True
    assert doc["selfie"]["status"] == "ok" and doc["selfie"]["face"]["quality"]["usable"] is True
    assert doc["selfie"]["face"]["quality"]["confirmed"] is True  # the worker's dlib confirmation ran
    first, group = doc["photos"]
    assert first["status"] == "person_present" and first["similarity"] > 1 - doc["band"][0]
    # Biden (left) and Obama (right): the whole row is reported, Obama is the face compared
    assert len(group["faces"]) == 2 and len(group["similarities"]) == 2 and group["face_index"] == 1
    assert group["similarities"][1] > group["similarities"][0] + 0.3
    assert doc["summary"]["photos"] == 2 and doc["summary"]["present"] >= 1
    assert {"selfie_decode", "selfie_faces", "photos", "total", "request", "queue_wait"} <= set(doc["timings_ms"])
    assert doc["model"] == "sface" and doc["metric"] == "cosine" and doc["policy"] == Policy.default().to_dict()


def test_a_chirac_profile_is_not_verified_and_matches_the_library(api, img, fp):
    photos = [img(CHIRAC_1), img(CHIRAC_2), img(CHIRAC_4)]
    r = api.post(PATH, json={"selfie": data_uri(img(OBAMA_1)), "photos": [data_uri(p) for p in photos]})
    doc = ok(r)
    assert doc["verdict"] == "not_verified" and doc["checked"] is True
    assert doc["reasons"] == ["person_absent", "consistent_other_person"]  # one other person: a likely catfish
    assert doc["summary"]["other_person_photos"] == [0, 1, 2] and doc["summary"]["absent"] == 3
    same_as_library(doc, fp.check_profile(img(OBAMA_1), photos).to_dict())


def test_caller_threshold_and_metric(api_caller_threshold, img):
    api = api_caller_threshold  # per-request thresholds are refused by default (issue 15)
    # a very strict caller threshold: the same person's photo is now beyond the band
    r = api.post(PATH, files=upload(img(OBAMA_1), [img(OBAMA_2)]), params={"threshold": "0.05"})
    doc = ok(r)
    assert doc["threshold"] == 0.05 and doc["threshold_source"] == "caller"
    assert doc["band"] == pytest.approx([0.045, 0.055])
    assert doc["photos"][0]["status"] == "person_absent" and doc["verdict"] == "not_verified"
    l2 = ok(
        api.post(
            PATH, json={"selfie": data_uri(img(OBAMA_1)), "photos": [data_uri(img(OBAMA_2))], "metric": "euclidean_l2"}
        )
    )
    assert l2["metric"] == "euclidean_l2" and l2["verdict"] == "verified"
    # euclidean_l2 of unit vectors: sqrt(2 * cosine distance)
    cos = 1 - l2["photos"][0]["similarity"]
    assert l2["photos"][0]["distance"] == pytest.approx((2 * cos) ** 0.5, abs=1e-3)


# ------------------------------------------------------------------ the selfie is the problem


def test_a_cat_selfie_is_422_no_face_with_the_result(api, img):
    r = api.post(PATH, files=upload(img(NO_FACE), [img(OBAMA_2)]))
    doc = assert_envelope(r, 422, "no_face")
    CheckProfileResponse.model_validate(doc)
    assert doc["verdict"] == "not_verified" and doc["reasons"] == ["selfie_no_face"] and doc["checked"] is False
    assert doc["selfie"]["status"] == "no_face" and doc["photos"] == []
    assert doc["notes"] == [photos_not_checked_note]


def test_a_blurred_selfie_is_422_selfie_unusable(api, img):
    blurred = Image.open(io.BytesIO(img(OBAMA_1))).convert("RGB").filter(ImageFilter.GaussianBlur(14))
    r = api.post(PATH, files=upload(encode(blurred, "JPEG", quality=95), [img(OBAMA_2)]))
    doc = assert_envelope(r, 422, "selfie_unusable")
    assert doc["selfie"]["status"] == "too_blurry" and doc["reasons"] == ["selfie_too_blurry"]
    assert "too_blurry" in doc["selfie"]["faces"][0]["quality"]["issues"] and doc["selfie"]["face"] is None


def test_an_unreadable_selfie_has_the_reading_errors_status(api, img):
    good = [img(OBAMA_2)]
    by_library = api.post(PATH, files=upload(b"\x00" * 100, good))  # read by the library's loader
    by_service = api.post(PATH, json={"selfie": "data:image/jpeg;base64,@@@@", "photos": [data_uri(good[0])]})
    unsupported = api.post(PATH, files=upload(b"%PDF-1.7\n%...", good))
    for r, status, code in (
        (by_library, 422, "image_unreadable"),
        (by_service, 422, "image_unreadable"),
        (unsupported, 415, "unsupported_image_type"),
    ):
        doc = assert_envelope(r, status, code)
        CheckProfileResponse.model_validate(doc)
        assert doc["selfie"]["status"] == "unreadable" and doc["selfie"]["error"]["code"] == code
        assert doc["selfie"]["error"]["role"] == "origin" and doc["reasons"] == ["selfie_unreadable"]
        assert doc["photos"] == [] and doc["notes"] == [photos_not_checked_note]
    # the service builds its own result for a selfie it could not take: the same shape and band
    lib, svc = by_library.json(), by_service.json()
    for key in ("verdict", "reasons", "checked", "summary", "threshold", "threshold_source", "band", "policy", "model"):
        assert svc[key] == lib[key], key


@pytest.mark.parametrize(
    ("status", "code", "http"),
    [
        (SelfieStatus.NO_FACE, "no_face", 422),
        (SelfieStatus.SEVERAL_FACES, "selfie_unusable", 422),
        (SelfieStatus.FACE_TOO_SMALL, "selfie_unusable", 422),
        (SelfieStatus.TOO_DARK, "selfie_unusable", 422),
        (SelfieStatus.OVEREXPOSED, "selfie_unusable", 422),
        (SelfieStatus.POSE_TOO_EXTREME, "selfie_unusable", 422),
    ],
)
def test_each_selfie_status_has_a_typed_error(status, code, http):
    error = selfie_error(SelfieCheck(status))
    assert error is not None and error.code == code and error.http_status == http and error.role == "origin"
    too_large = errors.ImageTooLarge("too big").with_role("origin")
    assert selfie_error(SelfieCheck(SelfieStatus.UNREADABLE, error=too_large)) is too_large


# ------------------------------------------------------------------ photos: statuses, not HTTP errors


def test_bad_photos_among_good_ones_are_statuses_and_the_service_stays_healthy(api, img):
    multipart = api.post(
        PATH, files=upload(img(OBAMA_1), [img(OBAMA_2), b"garbage", b"", b"%PDF-1.7\n%...", img(NO_FACE)])
    )
    doc = ok(multipart)
    assert statuses(doc) == [
        (0, "person_present", None),
        (1, "unreadable", "image_unreadable"),
        (2, "unreadable", "image_empty"),
        (3, "unreadable", "unsupported_image_type"),
        (4, "no_face", None),
    ]
    assert doc["verdict"] == "verified" and doc["summary"]["comparable"] == 1
    # in JSON, photos the service itself cannot take (bad base64, a URL while fetching is
    # off) become statuses in their places; the other photos keep their indices
    body = {
        "selfie": data_uri(img(OBAMA_1)),
        "photos": [
            "data:image/jpeg;base64,@@@@",
            data_uri(img(CHIRAC_1)),
            "https://images.example/profile.jpg",
            data_uri(img(CHIRAC_2)),
            "data:image/jpeg;base64,",
        ],
    }
    doc = ok(api.post(PATH, json=body))
    assert statuses(doc) == [
        (0, "unreadable", "image_unreadable"),
        (1, "person_absent", None),
        (2, "unreadable", "url_not_allowed"),
        (3, "person_absent", None),
        (4, "unreadable", "image_empty"),
    ]
    assert doc["photos"][0]["error"]["role"] == "target"
    assert doc["summary"]["other_person_photos"] == [1, 3]  # re-indexed to the request's positions
    assert doc["verdict"] == "not_verified" and doc["reasons"] == ["person_absent", "consistent_other_person"]
    # only unreadable photos: the selfie was fine, the check could not be made -> 200
    none = ok(api.post(PATH, files=upload(img(OBAMA_1), [b"garbage"])))
    assert none["verdict"] == "not_verified" and none["reasons"] == ["no_comparable_photo"] and not none["checked"]
    assert api.get("/healthz").status_code == 200 and api.get("/readyz").status_code == 200
    after = api.post("/v1/verify", files={"origin": ("o.jpg", img(OBAMA_1)), "target": ("t.jpg", img(OBAMA_2))})
    assert after.status_code == 200 and after.json()["result_code"] == 2


# ------------------------------------------------------------------ request limits and options


def test_too_many_or_no_photos_is_400(api, img):
    eleven = [b"x"] * 11  # refused when the 11th part starts: nothing reaches the models
    r = api.post(PATH, files=upload(img(OBAMA_1), eleven))
    assert "at most 10" in assert_envelope(r, 400, "invalid_argument")["error"]["message"]
    r = api.post(PATH, json={"selfie": data_uri(img(OBAMA_1)), "photos": ["data:,"] * 11})
    assert "at most 10" in assert_envelope(r, 400, "invalid_argument")["error"]["message"]
    for body in (
        {"selfie": data_uri(img(OBAMA_1)), "photos": []},
        {"selfie": data_uri(img(OBAMA_1)), "photos": data_uri(img(OBAMA_2))},
    ):
        assert_envelope(api.post(PATH, json=body), 400, "invalid_argument")
    missing = api.post(PATH, files=[("selfie", ("s.jpg", img(OBAMA_1)))])
    assert "photos needs at least one image" in assert_envelope(missing, 400, "invalid_argument")["error"]["message"]
    assert_envelope(api.post(PATH, files=[("photos", ("p.jpg", img(OBAMA_2)))]), 400, "invalid_argument")
    assert api.get("/v1/models").json()["limits"]["max_photos"] == 10
    post = api.get("/openapi.json").json()["paths"][PATH]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["photos"]["maxItems"] == 10 and schema["required"] == ["selfie", "photos"]
    assert {p["name"] for p in post["parameters"]} == {
        "model",
        "metric",
        "threshold",
        "review",
        "member_id",
        "challenge",
    }


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"threshold": "-1"}, "invalid_argument"),
        ({"metric": "manhattan"}, "invalid_argument"),
        ({"model": "vggface"}, "unknown_backend"),
        ({"lang": "en"}, "invalid_argument"),  # no localised message here: not an option
        ({"policy": "{}"}, "invalid_argument"),  # the policy is the server's configuration
    ],
)
def test_invalid_options_are_400(api, img, params, code):
    r = api.post(PATH, files=upload(img(OBAMA_1), [img(OBAMA_2)]), params=params)
    ErrorResponse.model_validate(assert_envelope(r, 400, code))


class _Images(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):
        found = self.path.startswith("/img.jpg")
        self.send_response(200 if found else 404)
        self.send_header("Content-Length", str(len(self.body) if found else 0))
        self.end_headers()
        if found:
            self.wfile.write(self.body)

    def log_message(self, *args):
        pass


def test_photo_limit_byte_cap_and_url_photos_with_settings(img, photos, local_http):
    _Images.body = (photos / OBAMA_2).read_bytes()  # 111 kB
    base = f"http://127.0.0.1:{local_http(_Images)}"
    settings = {"max_photos": 3, "max_image_bytes": 300_000, "url_fetch": True, "url_allowed_hosts": ("127.0.0.1",)}
    with running_app(**settings) as client:
        big = img(GROUP)  # 776 kB
        r = client.post(PATH, files=upload(img(OBAMA_1), [img(OBAMA_2)] * 4))
        assert "at most 3" in assert_envelope(r, 400, "invalid_argument")["error"]["message"]
        doc = ok(client.post(PATH, files=upload(img(OBAMA_1), [big, img(OBAMA_2)])))  # streamed, dropped
        assert statuses(doc)[0] == (0, "unreadable", "image_too_large") and doc["verdict"] == "verified"
        body = {"selfie": data_uri(img(OBAMA_1)), "photos": [f"{base}/img.jpg", f"{base}/nope.jpg", data_uri(big)]}
        doc = ok(client.post(PATH, json=body))
        assert statuses(doc) == [
            (0, "person_present", None),
            (1, "unreadable", "url_fetch_failed"),
            (2, "unreadable", "image_too_large"),
        ]
        too_big_selfie = client.post(PATH, json={"selfie": data_uri(big), "photos": [f"{base}/img.jpg"]})
        assert assert_envelope(too_big_selfie, 413, "image_too_large")["selfie"]["status"] == "unreadable"
        assert client.get("/v1/models").json()["limits"]["max_photos"] == 3


# ------------------------------------------------------------------ policy and the confirmation backend


def test_missing_confirmation_backend_is_501_unless_the_policy_needs_none(api, img, monkeypatch):
    svc = api.app.state.service
    monkeypatch.setattr(svc.reference, "confirmer", None)  # as without dlib's models installed
    monkeypatch.setattr(svc.reference, "confirmer_missing", "the detector 'dlib' needs dlib")
    r = api.post(PATH, files=upload(img(OBAMA_1), [img(OBAMA_2)]))
    assert "dlib" in assert_envelope(r, 501, "backend_unavailable")["error"]["message"]
    assert api.get("/v1/models").json()["features"]["check_profile"] is False
    monkeypatch.setattr(svc, "policy", Policy.default().replace(confirm="none"))
    doc = ok(api.post(PATH, files=upload(img(OBAMA_1), [img(OBAMA_2)])))
    assert doc["verdict"] == "verified" and doc["policy"]["profile"]["confirm"] == "none"
    assert doc["selfie"]["face"]["quality"]["confirmed"] is None  # not asked
    assert api.get("/v1/models").json()["features"]["check_profile"] is True


def test_policy_file_and_photo_limit_settings_are_checked_at_startup(tmp_path):
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"profile": {"band_width": 0.15, "max_photos": 5}}))
    app = create_app(ServiceSettings(threads=1, policy=str(path), max_photos=5))  # no model loads here
    assert app.state.service.policy.band_width == 0.15
    assert app.state.service.describe()["policy"]["profile"]["max_photos"] == 5
    with pytest.raises(errors.InvalidArgument, match="exceeds the policy's max_photos"):
        create_app(ServiceSettings(threads=1, policy=str(path), max_photos=6))
    path.write_text(json.dumps({"profile": {"band_wdth": 0.15}}))
    with pytest.raises(errors.InvalidArgument, match="unknown profile policy keys"):
        create_app(ServiceSettings(threads=1, policy=str(path)))
    with pytest.raises(errors.InvalidArgument, match="policy file not found"):
        ServiceSettings(policy=str(tmp_path / "nope.json"))
    env = ServiceSettings.from_env({"FACEPROOF_MAX_PHOTOS": "4", "FACEPROOF_POLICY": str(path)})
    assert env.max_photos == 4 and env.policy == str(path)
    for bad in ("0", "ten", "1.5"):
        with pytest.raises(errors.InvalidArgument):
            ServiceSettings.from_env({"FACEPROOF_MAX_PHOTOS": bad})


def test_a_missing_confirmation_backend_is_found_at_startup(monkeypatch, tmp_path, caplog):
    from faceproof.runtime import pipeline  # the one place that builds the confirming detector

    def unavailable(name):
        raise errors.BackendUnavailable(f"the detector {name!r} needs face_recognition_models: pip install x")

    monkeypatch.setattr(pipeline, "confirming_detector", unavailable)
    app = create_app(ServiceSettings(threads=1))  # the other endpoints still work: it starts
    svc = app.state.service
    assert svc.reference.confirmer is None and "face_recognition_models" in svc.reference.confirmer_missing
    assert svc.describe()["features"]["check_profile"] is False
    assert any("check-profile will answer 501" in r.getMessage() for r in caplog.records)
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"profile": {"confirm": "none"}}))
    assert create_app(ServiceSettings(threads=1, policy=str(path))).state.service.check_profile_available
