"""check_profile: one selfie against a whole profile, with real models on the licensed photos
and generated variants, plus the decision logic on synthetic scores."""

from __future__ import annotations

import io
import json

import cv2
import numpy as np
import pytest
from conftest import absent_photo
from PIL import Image
from test_quality import degrade_exposure, tiny_face

from faceproof import FaceProof, errors
from faceproof.decision.policy import Policy
from faceproof.decision.profile import (
    PhotoCheck,
    PhotoStatus,
    ProfileCheck,
    Reason,
    SelfieCheck,
    SelfieStatus,
    Verdict,
    consistent_other_person,
    decide,
    photo_status,
)
from faceproof.decision.quality import HeadPose, QualityIssue, assess_face
from faceproof.runtime.compare import Metric, Threshold
from faceproof.types import BBox, Face

OBAMA = "pytopenface/obama1.jpg"
OBAMA_PROFILE = [
    "pytopenface/obama2.jpg",
    "pytopenface/obama3.jpg",
    "kerns_dummy/obama_nasa_hq_photo.jpg",
    "kerns_dummy/obama_fatherhood_townhall.jpg",  # group photo: Biden (left), Obama (right)
]
# What the photos show (manifest.csv; docs/policy.md): obama2, obama3 and the NASA photo are
# Obama alone, facing the camera; in the town hall photo he is turned away (estimated yaw
# ~52 degrees, beyond the 50-degree limit), so his match there rests on an unusable face.
OBAMA_PROFILE_STATUSES = [
    PhotoStatus.PERSON_PRESENT,
    PhotoStatus.PERSON_PRESENT,
    PhotoStatus.PERSON_PRESENT,
    PhotoStatus.UNCERTAIN,
]
CHIRAC_PROFILE = ["pytopenface/chirac1.jpg", "pytopenface/chirac2.jpg", "pytopenface/chirac4.jpg"]
CAT = "skimage/chelsea.png"


def jpeg(image: np.ndarray, exif_orientation: int | None = None) -> bytes:
    """JPEG bytes; with an EXIF orientation the pixels are stored turned, as phones do."""
    pil = Image.fromarray(image)
    buf = io.BytesIO()
    if exif_orientation is None:
        pil.save(buf, "JPEG", quality=95)
    else:
        undo = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        pil.transpose(undo[exif_orientation]).save(buf, "JPEG", quality=95, exif=exif.tobytes())
    return buf.getvalue()


@pytest.fixture(scope="module")
def selfie(fp, photos):
    return fp.load_image(photos / OBAMA)


@pytest.fixture(scope="module")
def obama_check(fp, photos):
    return fp.check_profile(photos / OBAMA, [photos / p for p in OBAMA_PROFILE])


# ----------------------------------------------------------------------------- real images


def test_obama_profile_with_a_group_photo_is_verified(obama_check):
    r = obama_check
    assert r.verdict is Verdict.VERIFIED and r.reasons == (Reason.PERSON_PRESENT,)
    assert r.selfie.status is SelfieStatus.OK and r.selfie.face.quality.usable
    assert r.checked and r.comparable_photos == 4 and r.present_photos == 3
    assert [p.status for p in r.photos] == OBAMA_PROFILE_STATUSES
    group = r.photos[3]
    assert len(group.faces) == 2 and len(group.similarities) == len(group.distances) == 2
    assert group.face_index == 1, "Obama stands on the right of the town hall photo"
    assert group.reasons == (Reason.LOW_QUALITY_MATCH,)
    assert not group.faces[1].quality.usable and QualityIssue.POSE_TOO_EXTREME in group.faces[1].quality.issues
    assert group.similarities[1] > group.similarities[0] + 0.3
    assert group.bbox == group.faces[1].bbox and group.similarity == group.similarities[1]
    for p in r.photos[:3]:
        assert p.status is PhotoStatus.PERSON_PRESENT and p.similarity > 1 - r.band[0]
    assert r.other_person_photos == ()


def test_chirac_profile_is_not_verified_and_flagged_as_one_other_person(fp, photos):
    r = fp.check_profile(photos / OBAMA, [photos / p for p in CHIRAC_PROFILE])
    assert r.verdict is Verdict.NOT_VERIFIED
    assert r.reasons == (Reason.PERSON_ABSENT, Reason.CONSISTENT_OTHER_PERSON)
    assert r.other_person_photos == (0, 1, 2)
    assert all(p.status is PhotoStatus.PERSON_ABSENT for p in r.photos)


def test_member_photos_plus_several_of_another_person_need_review(fp, photos):
    r = fp.check_profile(photos / OBAMA, [photos / OBAMA_PROFILE[0], *(photos / p for p in CHIRAC_PROFILE[:2])])
    assert r.verdict is Verdict.NEEDS_REVIEW
    assert Reason.CONSISTENT_OTHER_PERSON in r.reasons and Reason.TOO_FEW_PHOTOS in r.reasons
    assert r.other_person_photos == (1, 2)


def test_a_selfie_with_two_faces_is_refused(fp, photos):
    a = Image.open(photos / OBAMA).convert("RGB")
    b = Image.open(photos / "pytopenface/chirac2.jpg").convert("RGB").resize((a.width, a.height))
    two = Image.new("RGB", (a.width * 2, a.height))
    two.paste(a, (0, 0))
    two.paste(b, (a.width, 0))
    r = fp.check_profile(np.asarray(two), [photos / OBAMA_PROFILE[0]])
    assert r.selfie.status is SelfieStatus.SEVERAL_FACES and len(r.selfie.faces) == 2
    assert r.verdict is Verdict.NOT_VERIFIED and r.reasons == (Reason.SELFIE_SEVERAL_FACES,)
    assert r.photos == () and not r.checked


def test_a_small_bystander_does_not_make_several_faces(fp, photos, selfie):
    canvas = selfie.copy()
    small = np.asarray(Image.fromarray(fp.load_image(photos / "pytopenface/chirac2.jpg")).resize((174, 240)))
    canvas[-240:, -174:] = small  # a face ~5x smaller than the selfie's, in a corner
    r = fp.check_profile(canvas, [photos / OBAMA_PROFILE[0]])
    assert len(r.selfie.faces) == 2
    assert r.selfie.status is SelfieStatus.OK and r.verdict is Verdict.VERIFIED


@pytest.mark.parametrize(
    ("make", "status"),
    [
        ("cat", SelfieStatus.NO_FACE),
        ("tiny", SelfieStatus.FACE_TOO_SMALL),
        ("blur", SelfieStatus.TOO_BLURRY),
        ("dark", SelfieStatus.TOO_DARK),
        ("bright", SelfieStatus.OVEREXPOSED),
        ("truncated", SelfieStatus.UNREADABLE),
    ],
)
def test_an_unusable_selfie_gives_its_reason(fp, photos, selfie, make, status):
    source = {
        "cat": lambda: photos / CAT,
        "tiny": lambda: tiny_face(fp, photos, 20),
        "blur": lambda: cv2.GaussianBlur(selfie, (0, 0), 14.0),
        "dark": lambda: degrade_exposure(selfie, 1 / 128),
        "bright": lambda: degrade_exposure(selfie, 12),
        "truncated": lambda: (photos / OBAMA).read_bytes()[:20000],
    }[make]()
    r = fp.check_profile(source, [photos / p for p in OBAMA_PROFILE[:2]])
    assert r.selfie.status is status
    assert r.verdict is Verdict.NOT_VERIFIED and r.reasons == (Reason(f"selfie_{status.value}"),)
    assert not r.checked and r.photos == ()
    assert (r.selfie.error is not None) == (make == "truncated")
    json.dumps(r.to_dict())


def test_photo_statuses_unreadable_no_face_and_no_usable_face(fp, photos, selfie):
    tiny = tiny_face(fp, photos, 16)  # the selfie's own person, 16 px wide: too small to decide on
    profile = [b"not an image", photos / CAT, tiny, photos / OBAMA_PROFILE[0]]
    # the tiny photo is the selfie itself, shrunk: the copy check (on by default) rightly
    # calls the selfie a copy of it; the statuses and the share rule are checked without it
    copied = fp.check_profile(selfie, profile)
    assert copied.verdict is Verdict.NOT_VERIFIED and copied.reasons[0] is Reason.SELFIE_COPIED
    assert copied.authenticity.copy.best.photo_index == 2
    r = fp.check_profile(selfie, profile, authenticity=False)
    assert [p.status for p in r.photos[:2]] == [PhotoStatus.UNREADABLE, PhotoStatus.NO_FACE]
    assert r.photos[0].error is not None and r.photos[0].error.code == "image_unreadable"
    small = r.photos[2]
    assert len(small.faces) == 1 and not small.faces[0].quality.usable
    # the selfie's own person still matches at 16 px (distance ~0.37, well under the
    # threshold), but a match on an unusable face is evidence for review, never a plain "present"
    assert small.status is PhotoStatus.UNCERTAIN and small.reasons == (Reason.LOW_QUALITY_MATCH,)
    assert small.face_index == 0 and small.comparable
    assert r.photos[3].status is PhotoStatus.PERSON_PRESENT
    assert r.comparable_photos == 2
    assert r.verdict is Verdict.VERIFIED  # 1 of 2 comparable photos: share >= 0.5


def test_a_score_just_above_the_threshold_needs_review(fp, photos):
    """A pair the model scores right at the threshold: set the threshold a hair above the
    measured distance (relative to whatever threshold is in force), so the similarity is
    just above the threshold's and inside the band."""
    base = fp.check_profile(photos / OBAMA, [photos / OBAMA_PROFILE[0]])
    d = base.photos[0].distance
    thr = d / (1 - 0.25 * base.policy.band_width)  # d sits a quarter band under the threshold
    r = fp.check_profile(photos / OBAMA, [photos / OBAMA_PROFILE[0]], threshold=thr)
    assert r.threshold.value == pytest.approx(thr) and r.threshold.source == "caller"
    assert r.band[0] < d <= r.threshold.value < r.band[1]
    assert r.photos[0].status is PhotoStatus.UNCERTAIN and r.photos[0].reasons == (Reason.SCORE_IN_BAND,)
    assert r.verdict is Verdict.NEEDS_REVIEW and r.reasons == (Reason.SCORE_IN_BAND,)
    # at the threshold in force the same photo is a plain match
    assert base.photos[0].status is PhotoStatus.PERSON_PRESENT and base.verdict is Verdict.VERIFIED


def test_the_band_follows_the_default_threshold(photos):
    fp = FaceProof(attributes=(), calibration=None)
    r = fp.check_profile(photos / OBAMA, [])
    w = r.policy.band_width
    assert r.threshold == fp.default_threshold
    assert r.band == pytest.approx((fp.default_threshold.value * (1 - w), fp.default_threshold.value * (1 + w)))
    assert r.verdict is Verdict.NOT_VERIFIED and r.reasons == (Reason.NO_COMPARABLE_PHOTO,) and r.photos == ()


@pytest.mark.parametrize("variant", ["mirror", "exif3", "exif6", "exif8"])
def test_mirrored_and_exif_rotated_selfies_verify_like_the_original(fp, photos, selfie, obama_check, variant):
    if variant == "mirror":
        source: object = np.ascontiguousarray(selfie[:, ::-1])  # a front camera's mirrored selfie
    else:
        source = jpeg(selfie, int(variant[-1]))
    r = fp.check_profile(source, [photos / p for p in OBAMA_PROFILE])
    assert r.verdict is obama_check.verdict is Verdict.VERIFIED
    assert [p.status for p in r.photos] == [p.status for p in obama_check.photos] == OBAMA_PROFILE_STATUSES
    for a, b in zip(r.photos, obama_check.photos, strict=True):
        assert a.similarity == pytest.approx(b.similarity, abs=0.06)


def test_exif_rotated_profile_photos_verify_like_the_originals(fp, photos, obama_check):
    rotated = [jpeg(fp.load_image(photos / p), o) for p, o in zip(OBAMA_PROFILE, (6, 8, 3, 6), strict=True)]
    r = fp.check_profile(photos / OBAMA, rotated)
    assert r.verdict is Verdict.VERIFIED
    assert [p.status for p in r.photos] == [p.status for p in obama_check.photos] == OBAMA_PROFILE_STATUSES
    for a, b in zip(r.photos, obama_check.photos, strict=True):
        assert a.similarity == pytest.approx(b.similarity, abs=0.05)


def test_to_dict_is_json_ready_and_complete(obama_check):
    doc = json.loads(json.dumps(obama_check.to_dict()))
    assert doc["verdict"] == "verified" and doc["reasons"] == ["person_present"] and doc["checked"] is True
    assert doc["selfie"]["status"] == "ok" and doc["selfie"]["face"]["quality"]["usable"] is True
    group = doc["photos"][3]
    assert group["face_index"] == 1 and len(group["similarities"]) == 2 and len(group["bbox"]) == 4
    assert len(group["faces"]) == 2 and "quality" in group["faces"][0]
    assert doc["summary"] == {
        "photos": 4,
        "comparable": 4,
        "present": 3,
        "uncertain": 1,  # the town hall photo (OBAMA_PROFILE_STATUSES)
        "absent": 0,
        "other_person_photos": [],
    }
    assert doc["threshold"] == obama_check.threshold.value and doc["band"][0] < doc["threshold"] < doc["band"][1]
    assert doc["policy"]["profile"]["band_width"] == obama_check.policy.band_width


def test_bad_arguments_raise_invalid_argument(fp, photos):
    with pytest.raises(errors.InvalidArgument):
        fp.check_profile(photos / OBAMA, str(photos / OBAMA_PROFILE[0]))  # one path, not a list
    with pytest.raises(errors.InvalidArgument):
        fp.check_profile(photos / OBAMA, [photos / OBAMA_PROFILE[0]] * 31)
    with pytest.raises(errors.InvalidArgument):
        fp.check_profile(photos / OBAMA, [], threshold=-1)
    with pytest.raises(errors.InvalidArgument):
        fp.check_profile(photos / OBAMA, [], policy={"profile": {"band_width": 2}})
    with pytest.raises(errors.InvalidArgument):
        fp.check_profile(photos / OBAMA, [], policy={"profile": {"no_such_knob": 1}})


def test_policy_knobs_change_the_decision(fp, photos, obama_check):
    strict = fp.check_profile(
        photos / OBAMA, [photos / p for p in OBAMA_PROFILE], policy={"profile": {"min_share": 1.0}}
    )
    # 3 of the 4 photos show the member plainly (OBAMA_PROFILE_STATUSES): under a 100 % share
    # that is too few, while the default 50 % verifies (obama_check)
    assert obama_check.verdict is Verdict.VERIFIED
    assert strict.verdict is Verdict.NEEDS_REVIEW
    assert strict.reasons == (Reason.PERSON_PRESENT, Reason.TOO_FEW_PHOTOS)
    cheap = fp.check_profile(photos / OBAMA, [photos / OBAMA_PROFILE[0]], policy={"profile": {"confirm": "none"}})
    assert cheap.selfie.face.quality.confirmed is None
    confirmed = fp.check_profile(photos / OBAMA, [photos / OBAMA_PROFILE[0]], policy={"profile": {"confirm": "all"}})
    assert confirmed.selfie.face.quality.confirmed is True and confirmed.photos[0].faces[0].quality.confirmed is True


def test_policy_file_round_trip(tmp_path):
    pol = Policy.default()
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"profile": {"band_width": 0.2}, "quality": {"min_inter_eye_px": 8}}))
    custom = Policy.from_file(path)
    assert custom.band_width == 0.2 and custom.quality.min_inter_eye_px == 8
    assert custom.min_share == pol.min_share and custom.quality.min_sharpness == pol.quality.min_sharpness
    assert Policy.from_dict(pol.to_dict()) == pol
    with pytest.raises(errors.InvalidArgument):
        Policy.from_file(tmp_path / "missing.json")


# ----------------------------------------------------------------------------- decision logic


def _face(embedding: np.ndarray, *, usable: bool = True, score: float = 1.0, ie: float = 50.0) -> Face:
    from faceproof.decision.quality import FaceQuality, QualityIssue

    quality = FaceQuality(
        inter_eye_px=ie,
        sharpness=0.5,
        brightness=120.0,
        clipped=0.0,
        pose=HeadPose(0.0, 0.0, 0.0),
        detector_score=0.9,
        confirmed=None,
        score=score if usable else 0.0,
        issues=() if usable else (QualityIssue.TOO_SMALL,),
    )
    emb = np.asarray(embedding, np.float32)
    emb = emb / np.linalg.norm(emb)
    return Face(
        bbox=BBox(0, 0, ie * 2, ie * 2),
        score=0.9,
        landmarks=np.array([[0, 0], [ie, 0], [ie / 2, ie / 2], [0, ie], [ie, ie]], np.float32),
        embedding=emb,
        quality=quality,
    )


POLICY = Policy.default()
THR = 0.6  # a synthetic cosine-distance threshold: the logic must not depend on the real one
BAND = (THR * (1 - POLICY.band_width), THR * (1 + POLICY.band_width))


@pytest.mark.parametrize(
    ("distances", "usable", "status", "index", "reasons"),
    [
        ([THR * 0.5], [True], PhotoStatus.PERSON_PRESENT, 0, ()),
        ([THR * 1.5], [True], PhotoStatus.PERSON_ABSENT, 0, ()),
        ([THR * (1 - POLICY.band_width / 2)], [True], PhotoStatus.UNCERTAIN, 0, (Reason.SCORE_IN_BAND,)),
        ([THR * (1 + POLICY.band_width / 2)], [True], PhotoStatus.UNCERTAIN, 0, (Reason.SCORE_IN_BAND,)),
        ([THR * 1.5, THR * 0.4], [True, True], PhotoStatus.PERSON_PRESENT, 1, ()),
        ([THR * 0.4], [False], PhotoStatus.UNCERTAIN, 0, (Reason.LOW_QUALITY_MATCH,)),
        ([THR * 1.5], [False], PhotoStatus.NO_USABLE_FACE, None, ()),
        ([THR * 1.5, THR * 0.4], [True, False], PhotoStatus.UNCERTAIN, 1, (Reason.LOW_QUALITY_MATCH,)),
        ([], [], PhotoStatus.NO_FACE, None, ()),
    ],
)
def test_photo_status_from_scores(distances, usable, status, index, reasons):
    rng = np.random.default_rng(0)
    faces = [_face(rng.normal(size=8), usable=u) for u in usable]
    got = photo_status(faces, np.array(distances), THR, BAND, POLICY)
    assert got == (status, index, reasons)


def test_a_match_on_a_low_quality_face_is_uncertain():
    face = _face(np.ones(8), score=POLICY.review_below_quality / 2)
    assert photo_status([face], np.array([THR * 0.3]), THR, BAND, POLICY) == (
        PhotoStatus.UNCERTAIN,
        0,
        (Reason.LOW_QUALITY_MATCH,),
    )


def _photo(i: int, status: PhotoStatus, reasons: tuple[Reason, ...] = ()) -> PhotoCheck:
    return PhotoCheck(index=i, status=status, reasons=reasons)


@pytest.mark.parametrize(
    ("statuses", "other", "verdict", "reasons"),
    [
        (["present", "present", "absent"], (), Verdict.VERIFIED, (Reason.PERSON_PRESENT,)),
        (["present", "no_face", "unreadable"], (), Verdict.VERIFIED, (Reason.PERSON_PRESENT,)),
        (["absent", "absent"], (), Verdict.NOT_VERIFIED, (Reason.PERSON_ABSENT,)),
        (["absent", "absent"], (0, 1), Verdict.NOT_VERIFIED, (Reason.PERSON_ABSENT, Reason.CONSISTENT_OTHER_PERSON)),
        (["uncertain", "absent"], (), Verdict.NEEDS_REVIEW, (Reason.SCORE_IN_BAND,)),
        (
            ["present", "absent", "absent"],
            (1, 2),
            Verdict.NEEDS_REVIEW,
            (Reason.PERSON_PRESENT, Reason.CONSISTENT_OTHER_PERSON, Reason.TOO_FEW_PHOTOS),
        ),
        (["present", "absent", "absent"], (), Verdict.NEEDS_REVIEW, (Reason.PERSON_PRESENT, Reason.TOO_FEW_PHOTOS)),
        (["no_face", "unreadable", "no_usable_face"], (), Verdict.NOT_VERIFIED, (Reason.NO_COMPARABLE_PHOTO,)),
        ([], (), Verdict.NOT_VERIFIED, (Reason.NO_COMPARABLE_PHOTO,)),
    ],
)
def test_verdict_rules(statuses, other, verdict, reasons):
    names = {
        "present": PhotoStatus.PERSON_PRESENT,
        "absent": PhotoStatus.PERSON_ABSENT,
        "uncertain": PhotoStatus.UNCERTAIN,
        "no_face": PhotoStatus.NO_FACE,
        "unreadable": PhotoStatus.UNREADABLE,
        "no_usable_face": PhotoStatus.NO_USABLE_FACE,
    }
    photos = [_photo(i, names[s], (Reason.SCORE_IN_BAND,) if s == "uncertain" else ()) for i, s in enumerate(statuses)]
    selfie = SelfieCheck(SelfieStatus.OK, face=_face(np.ones(8)))
    assert decide(selfie, photos, POLICY, other) == (verdict, reasons)


def test_low_selfie_quality_sends_any_answer_to_review():
    selfie = SelfieCheck(SelfieStatus.OK, face=_face(np.ones(8), score=POLICY.review_below_quality / 2))
    for status in (PhotoStatus.PERSON_PRESENT, PhotoStatus.PERSON_ABSENT):
        verdict, reasons = decide(selfie, [_photo(0, status)], POLICY)
        assert verdict is Verdict.NEEDS_REVIEW and Reason.LOW_SELFIE_QUALITY in reasons


def test_an_unusable_selfie_is_not_verified_whatever_the_photos():
    for status in SelfieStatus:
        if status is SelfieStatus.OK:
            continue
        verdict, reasons = decide(SelfieCheck(status), [_photo(0, PhotoStatus.PERSON_PRESENT)], POLICY)
        assert verdict is Verdict.NOT_VERIFIED and reasons == (Reason(f"selfie_{status.value}"),)


def test_consistent_other_person_groups_main_faces_that_match_each_other():
    rng = np.random.default_rng(0)
    other, third = rng.normal(size=16), rng.normal(size=16)
    photos = []
    for i, base in enumerate([other, other, third, other]):
        photos.append(absent_photo(i, _face(base + 0.05 * rng.normal(size=16))))
    assert consistent_other_person(photos, Metric.COSINE, THR, 2) == (0, 1, 3)
    assert consistent_other_person(photos, Metric.COSINE, THR, 4) == ()
    assert consistent_other_person(photos[2:3], Metric.COSINE, THR, 1) == ()


def test_result_types_are_validated():
    with pytest.raises(ValueError):
        SelfieCheck(SelfieStatus.OK)  # ok needs a face
    with pytest.raises(ValueError):
        PhotoCheck(0, PhotoStatus.PERSON_PRESENT, similarities=(0.5,), distances=(0.5,))  # no face for the row
    with pytest.raises(ValueError):
        PhotoCheck(0, "no_such_status")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ProfileCheck(
            verdict=Verdict.VERIFIED,
            reasons=(),
            selfie=SelfieCheck(SelfieStatus.NO_FACE),
            photos=(),
            metric=Metric.COSINE,
            threshold=Threshold(0.5, "test"),
            band=(0.6, 0.7),  # does not contain the threshold
            policy=POLICY,
            model="sface",
            detector="yunet",
        )


def test_quality_of_a_real_face_feeds_the_decision(fp, photos, selfie):
    (face,) = fp.detect(selfie)
    q = assess_face(selfie, face)
    assert q.score >= POLICY.review_below_quality  # a good portrait never goes to review for quality
