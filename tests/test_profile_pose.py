"""``check_profile``'s consistent other person (issue 14): the profile photos' main faces are
linked to each other at each pair's pose-aware threshold, as each photo is judged against
the selfie. Table-driven logic on synthetic turned faces with the shipped tables; the
wiring with the real model on CFP photos (a frontal and a turned photo of one person whose
distance lies between the frontal threshold and the turned bin's)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import absent_photo

from faceproof import FaceProof, Pipeline, PipelineConfig
from faceproof.decision.profile import consistent_other_person
from faceproof.decision.quality import FaceQuality
from faceproof.decision.results import PhotoCheck, PhotoStatus, Reason
from faceproof.errors import InvalidArgument
from faceproof.runtime.compare import Metric
from faceproof.runtime.pose import NEUTRAL_MOUTH_DROP, NEUTRAL_NOSE_DROP, NOSE_DEPTH, estimate_pose, turn_angle
from faceproof.types import BBox, Face, HeadPose

PIPE = Pipeline(PipelineConfig(attributes=()))  # the default: pose-aware thresholds on
T_FRONT = PIPE.default_threshold.value  # 0.640968


def head(yaw: float, fore: float, x: float) -> Face:
    """A face whose landmarks read ``yaw`` (nose offset, pitch 0) and an eye line
    foreshortened by ``fore`` degrees: its turn is ``(|yaw| + fore) / 2`` while the quality
    gate's yaw stays ``yaw`` (a usable turned head)."""
    ie, c = 40.0, math.cos(math.radians(fore))
    pts = np.array(
        [
            [-0.5, 0.0],
            [0.5, 0.0],
            [NOSE_DEPTH * math.tan(math.radians(yaw)), NEUTRAL_NOSE_DROP / c],
            [-0.35, NEUTRAL_MOUTH_DROP / c],
            [0.35, NEUTRAL_MOUTH_DROP / c],
        ]
    )
    lm = (pts * ie + np.array([x, 100.0])).astype(np.float32)
    quality = FaceQuality(
        inter_eye_px=ie,
        sharpness=0.5,
        brightness=120.0,
        clipped=0.0,
        pose=HeadPose(yaw, 0.0, 0.0),
        detector_score=0.9,
        confirmed=None,
        score=0.8,
        issues=(),
    )
    return Face(bbox=BBox(x - 40, 60, x + 40, 160), score=0.9, landmarks=lm, detector="fake", quality=quality)


FRONTAL = (0.0, 0.0)  # turn 0
TURNED = (40.0, 50.0)  # turn 45, quality yaw 40 (< the 50-degree limit: usable)
T_TURNED = PIPE.threshold_for(Metric.COSINE, faces=(head(*FRONTAL, 0), head(*TURNED, 0))).value  # 0.708064


def vectors(distances: np.ndarray) -> np.ndarray:
    """Unit vectors whose pairwise cosine distances are ``distances`` (a valid Gram matrix)."""
    gram = 1.0 - np.asarray(distances, np.float64)
    low = np.linalg.cholesky(gram)
    return low.astype(np.float32)


def photos_of(poses: list[tuple[float, float]], distances: list[list[float]]) -> list[PhotoCheck]:
    """One person_absent photo per pose, its main face embedded at the given distances."""
    emb = vectors(np.array(distances))
    out = []
    for i, pose in enumerate(poses):
        face = head(*pose, x=100.0 + i).evolve(embedding=emb[i] / np.linalg.norm(emb[i]))
        out.append(absent_photo(i, face))
    return out


def pose_aware(a, b):
    return PIPE.pair_thresholds(a, b, Metric.COSINE).values


def callers(a, b):
    return PIPE.pair_thresholds(a, b, Metric.COSINE, 0.65).values


def test_the_synthetic_heads_read_their_turn_and_the_shipped_thresholds():
    assert turn_angle(head(*TURNED, 0).landmarks) == pytest.approx(45.0, abs=1e-3)
    assert estimate_pose(head(*TURNED, 0).landmarks).yaw == pytest.approx(40.0, abs=1e-3)
    assert turn_angle(head(*FRONTAL, 0).landmarks) == pytest.approx(0.0, abs=1e-3)
    assert T_FRONT == pytest.approx(0.640968) and T_TURNED == pytest.approx(0.708064)


D_BETWEEN = 0.67  # above the frontal threshold, below the turned bin's
D_ABOVE = 0.75  # above both


@pytest.mark.parametrize(
    ("poses", "d", "threshold", "linked"),
    [
        # two frontal photos: the table's threshold, as before
        ([FRONTAL, FRONTAL], D_BETWEEN, pose_aware, ()),
        ([FRONTAL, FRONTAL], 0.60, pose_aware, (0, 1)),
        # a frontal and a turned photo: the turned bin's threshold links them
        ([FRONTAL, TURNED], D_BETWEEN, pose_aware, (0, 1)),
        ([TURNED, FRONTAL], D_BETWEEN, pose_aware, (0, 1)),
        ([FRONTAL, TURNED], D_ABOVE, pose_aware, ()),
        # two heads turned alike: nearly the same pose, the table's threshold
        ([TURNED, TURNED], D_BETWEEN, pose_aware, ()),
        # one uniform threshold (the behaviour before): the turned pair is not linked
        ([FRONTAL, TURNED], D_BETWEEN, T_FRONT, ()),
        ([FRONTAL, TURNED], 0.60, T_FRONT, (0, 1)),
        # a caller's threshold is uniform, as for the per-photo decisions
        ([FRONTAL, TURNED], D_BETWEEN, callers, ()),
        ([FRONTAL, TURNED], 0.64, callers, (0, 1)),
    ],
)
def test_pairs_of_main_faces_are_linked_at_their_own_threshold(poses, d, threshold, linked):
    dist = [[0.0, d], [d, 0.0]]
    assert consistent_other_person(photos_of(poses, dist), Metric.COSINE, threshold, 2) == linked


def test_a_turned_photo_links_two_frontal_ones_that_do_not_match_each_other():
    """frontal A - turned B - frontal C: A and C are too far apart, each is within the turned
    bin's threshold of B, so the three photos are one other person."""
    dist = [[0.0, D_BETWEEN, 0.90], [D_BETWEEN, 0.0, D_BETWEEN], [0.90, D_BETWEEN, 0.0]]
    photos = photos_of([FRONTAL, TURNED, FRONTAL], dist)
    assert consistent_other_person(photos, Metric.COSINE, pose_aware, 2) == (0, 1, 2)
    assert consistent_other_person(photos, Metric.COSINE, pose_aware, 4) == ()
    assert consistent_other_person(photos, Metric.COSINE, T_FRONT, 2) == ()


def test_a_threshold_function_of_the_wrong_shape_is_refused():
    photos = photos_of([FRONTAL, TURNED], [[0.0, 0.5], [0.5, 0.0]])
    with pytest.raises(InvalidArgument):
        consistent_other_person(photos, Metric.COSINE, lambda a, b: np.zeros((1, 1)), 2)


# ----------------------------------------------------------------------------- real model, CFP

#: a frontal and a turned (yaw ~35 degrees, usable) photo of one CFP person, turns ~42 degrees
#: apart, flip distance ~0.669: between the frontal threshold and the turned bin's (found with
#: the bench/pose_collect.py data of both CFP folds)
OTHER_SAME_TURNED = ("images/044/frontal/04.jpg", "images/044/profile/02.jpg")
SELFIE = "images/001/frontal/01.jpg"  # someone else
#: a frontal and a usable turned photo of two other people, distance ~0.79: above the turned bin's threshold
TWO_OTHERS_TURNED = ("images/064/frontal/04.jpg", "images/055/profile/01.jpg")


@pytest.mark.testdata
def test_check_profile_links_a_turned_photo_of_another_person_at_its_bins_threshold(cfp):
    on = FaceProof(attributes=())
    off = FaceProof(pipeline=Pipeline(PipelineConfig(attributes=(), pose_thresholds=False)), lang=on.lang)
    photos = [cfp / p for p in OTHER_SAME_TURNED]
    r, r0 = on.check_profile(cfp / SELFIE, photos), off.check_profile(cfp / SELFIE, photos)
    assert [p.status for p in r.photos] == [PhotoStatus.PERSON_ABSENT] * 2
    assert [p.status for p in r0.photos] == [PhotoStatus.PERSON_ABSENT] * 2
    front, side = (p.faces[p.main_face_index] for p in r.photos if p.main_face_index is not None)
    pair = on.pipeline.pair_thresholds([front], [side], Metric.COSINE)
    assert int(pair.bins[0, 0]) == 1 and float(pair.values[0, 0]) == pytest.approx(T_TURNED)
    d = float(1.0 - front.embedding @ side.embedding)
    assert T_FRONT < d <= T_TURNED  # only the turned bin's threshold links them
    assert r.other_person_photos == (0, 1) and Reason.CONSISTENT_OTHER_PERSON in r.reasons
    assert r0.other_person_photos == () and Reason.CONSISTENT_OTHER_PERSON not in r0.reasons
    # two different people, frontal and turned, are not linked at the turned bin's threshold
    r2 = on.check_profile(cfp / SELFIE, [cfp / p for p in TWO_OTHERS_TURNED])
    assert [p.status for p in r2.photos] == [PhotoStatus.PERSON_ABSENT] * 2
    a, b = (p.faces[p.main_face_index] for p in r2.photos if p.main_face_index is not None)
    assert int(on.pipeline.pair_thresholds([a], [b], Metric.COSINE).bins[0, 0]) == 1
    assert float(1.0 - a.embedding @ b.embedding) > T_TURNED and r2.other_person_photos == ()
