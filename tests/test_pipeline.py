"""The Pipeline and the decisions on it, with fakes (no model, no test data): face
selection, threshold resolution, configuration checks, verify codes, and the profile
check's statuses and verdicts on planted embeddings."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import FakeDetector, FakeRecognizer, face_at, fake_pipeline, image, unit

from faceproof import (
    FaceProof,
    InvalidArgument,
    PhotoStatus,
    Pipeline,
    PipelineConfig,
    Policy,
    SelfieStatus,
    Verdict,
    VerifyCode,
    check_profile,
)
from faceproof.decision.profile import check_profile as check_profile_fn
from faceproof.decision.quality import QualityThresholds
from faceproof.errors import ImageDecodeError
from faceproof.runtime.compare import Metric

ME, OTHER = unit(1.0), unit(0.0, 1.0)
NEAR_ME = unit(1.0, 0.2)  # cosine distance ~0.0194 from ME


def _permissive() -> Policy:
    """Quality limits that blank test images pass (the logic under test is the decision)."""
    q = QualityThresholds.default().to_dict()
    q.update(
        min_inter_eye_px=0.0,
        good_inter_eye_px=0.0,
        min_sharpness=0.0,
        good_sharpness=0.0,
        min_brightness=0.0,
        good_brightness=0.0,
        min_detector_score=0.0,
        good_detector_score=0.0,
    )
    return Policy.default().replace(quality=QualityThresholds.from_dict(q), confirm="none")


# ----------------------------------------------------------------------------- pipeline


def test_detect_keeps_the_largest_faces_left_to_right_and_counts_the_rest():
    faces = [face_at(10, 10, 20), face_at(60, 10, 60), face_at(130, 10, 40)]
    pipe = fake_pipeline({1: faces}, {}, max_faces=2)
    kept, dropped = pipe.detect(image(1))
    assert [f.bbox.x1 for f in kept] == [60, 130] and dropped == 1


def test_faces_are_embedded_unit_vectors_from_the_recognizer():
    pipe = fake_pipeline({1: [face_at(10, 10, 50)]}, {(10, 10): unit(3.0, 4.0)})
    (face,) = pipe.faces(image(1))
    assert np.allclose(face.embedding, [0.6, 0.8, 0, 0, 0, 0, 0, 0]) and face.model == "fake"


def test_threshold_for_is_the_given_number_else_the_configured_one():
    pipe = fake_pipeline({}, {}, threshold=0.3)
    assert pipe.threshold_for().value == 0.3 and pipe.threshold_for() is pipe.default_threshold
    assert pipe.threshold_for(None, 0.0).value == 0.0  # 0.0 is a threshold, not "unset"
    assert pipe.threshold_for("cosine", 0.7).value == 0.7


def test_builtin_thresholds_follow_the_flip_setting():
    flip = Pipeline(PipelineConfig(attributes=()))
    noflip = Pipeline(PipelineConfig(attributes=(), flip=False))
    assert flip.threshold_key == "sface" and noflip.threshold_key == "sface/noflip"
    assert flip.default_threshold.value != noflip.default_threshold.value


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_faces": 0}, "max_faces"),
        ({"crop_size": 8}, "crop_size"),
        ({"attributes": ("gender", "mood")}, "unknown attributes"),
        ({"attributes": "gender"}, "list of names"),
        ({"metric": "manhattan"}, "manhattan"),
        ({"detector": " "}, "detector"),
    ],
)
def test_bad_configuration_is_refused_at_once(changes, message):
    with pytest.raises(InvalidArgument, match=message):
        PipelineConfig(**changes)


def test_a_given_backend_must_be_the_one_configured():
    with pytest.raises(InvalidArgument, match="detector"):
        Pipeline(PipelineConfig(attributes=()), detector=FakeDetector({}))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="recognizer"):
        Pipeline(
            PipelineConfig(detector="fake", attributes=()), detector=FakeDetector({}), recognizer=FakeRecognizer({})
        )  # type: ignore[arg-type]


def test_building_a_pipeline_loads_no_model():
    pipe = Pipeline(PipelineConfig())
    assert getattr(pipe.recognizer, "_net", None) is None


# ----------------------------------------------------------------------------- verify on fakes


def _verify_pipeline() -> Pipeline:
    return fake_pipeline(
        {1: [face_at(10, 10, 50)], 2: [face_at(20, 20, 50), face_at(100, 20, 50)], 3: [face_at(30, 30, 50)], 4: []},
        {(10, 10): ME, (20, 20): OTHER, (100, 20): NEAR_ME, (30, 30): OTHER},
    )


@pytest.mark.parametrize(
    ("origin", "target", "code"),
    [
        (1, 2, VerifyCode.SAME_PERSON),  # the second face of the group photo is near
        (1, 3, VerifyCode.NOT_SAME_PERSON),
        (4, 1, VerifyCode.ORIGIN_NO_FACE),
        (1, 4, VerifyCode.TARGET_NO_FACE),
    ],
)
def test_verify_codes_on_fakes(origin, target, code):
    r = FaceProof(pipeline=_verify_pipeline()).verify(image(origin), image(target))
    assert r.code is code


def test_verify_matrix_marks_the_matching_face():
    r = FaceProof(pipeline=_verify_pipeline()).verify(image(1), image(2))
    assert r.matches.tolist() == [[False, True]] and r.similarity.shape == (1, 2)
    assert r.distances[0, 1] == pytest.approx(1 - float(ME @ NEAR_ME), abs=1e-6)


# ----------------------------------------------------------------------------- the profile check on fakes

SELFIE, PHOTO_ME, PHOTO_GROUP, PHOTO_OTHER, PHOTO_EMPTY, SELFIE_EMPTY = 1, 2, 3, 4, 5, 6


def _profile_pipeline() -> Pipeline:
    faces = {
        SELFIE: [face_at(50, 50, 80)],
        PHOTO_ME: [face_at(40, 40, 80)],
        PHOTO_GROUP: [face_at(10, 40, 60), face_at(110, 40, 60)],
        PHOTO_OTHER: [face_at(60, 60, 80)],
        PHOTO_EMPTY: [],
        SELFIE_EMPTY: [],
    }
    embeddings = {(50, 50): ME, (40, 40): NEAR_ME, (10, 40): OTHER, (110, 40): ME, (60, 60): OTHER}
    return fake_pipeline(faces, embeddings)


def test_profile_verified_when_the_member_is_in_every_photo():
    r = check_profile_fn(
        _profile_pipeline(), image(SELFIE), [image(PHOTO_ME), image(PHOTO_GROUP)], policy=_permissive()
    )
    assert r.verdict is Verdict.VERIFIED
    assert [p.status for p in r.photos] == [PhotoStatus.PERSON_PRESENT, PhotoStatus.PERSON_PRESENT]
    assert r.photos[1].face_index == 1  # the right-hand face of the group photo


def test_profile_not_verified_when_the_member_is_in_no_photo():
    r = check_profile_fn(_profile_pipeline(), image(SELFIE), [image(PHOTO_OTHER)], policy=_permissive())
    assert r.verdict is Verdict.NOT_VERIFIED and [p.status for p in r.photos] == [PhotoStatus.PERSON_ABSENT]


def test_profile_review_when_the_member_is_in_too_few_photos():
    photos = [image(PHOTO_ME), image(PHOTO_OTHER), image(PHOTO_OTHER)]
    r = check_profile_fn(_profile_pipeline(), image(SELFIE), photos, policy=_permissive())
    assert r.verdict is Verdict.NEEDS_REVIEW
    assert [x.value for x in r.reasons] == ["person_present", "consistent_other_person", "person_in_too_few_photos"]


def test_a_photo_the_caller_could_not_read_is_unreadable_in_its_place():
    unreadable = ImageDecodeError("not an image")
    r = check_profile_fn(
        _profile_pipeline(), image(SELFIE), [image(PHOTO_ME), unreadable, image(PHOTO_EMPTY)], policy=_permissive()
    )
    assert [p.status for p in r.photos] == [PhotoStatus.PERSON_PRESENT, PhotoStatus.UNREADABLE, PhotoStatus.NO_FACE]
    assert [p.index for p in r.photos] == [0, 1, 2] and r.photos[1].error is unreadable
    assert r.verdict is Verdict.VERIFIED  # unreadable and faceless photos are not comparable


def test_a_selfie_without_a_face_is_not_verified_and_no_photo_is_checked():
    r = check_profile_fn(_profile_pipeline(), image(SELFIE_EMPTY), [image(PHOTO_ME)], policy=_permissive())
    assert r.selfie.status is SelfieStatus.NO_FACE and r.photos == ()
    assert r.verdict is Verdict.NOT_VERIFIED and [x.value for x in r.reasons] == ["selfie_no_face"]


def test_the_facade_and_the_function_give_the_same_check():
    pipe = _profile_pipeline()
    a = FaceProof(pipeline=pipe).check_profile(image(SELFIE), [image(PHOTO_GROUP)], policy=_permissive())
    b = check_profile_fn(pipe, image(SELFIE), [image(PHOTO_GROUP)], policy=_permissive())
    assert (a.verdict, a.reasons, a.threshold) == (b.verdict, b.reasons, b.threshold)


def test_profile_threshold_and_metric_resolve_through_the_pipeline():
    r = check_profile_fn(
        _profile_pipeline(), image(SELFIE), [image(PHOTO_ME)], policy=_permissive(), threshold=0.001, metric="cosine"
    )
    assert r.threshold.value == 0.001 and r.metric is Metric.COSINE
    assert r.photos[0].status is PhotoStatus.PERSON_ABSENT  # 0.0194 > 0.001 * 1.1


def test_check_profile_is_exported():
    assert callable(check_profile)
