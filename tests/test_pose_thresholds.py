"""Pose-aware thresholds (``data/pose_thresholds.json``, ``runtime.thresholds.PoseThresholds``):
the bins of ``|yaw_a - yaw_b|``, when they apply and when the table's threshold stays, the
shipped file's provenance, and the wiring into ``verify``, its N x M matrices and
``check_profile``. Logic on synthetic landmarks; the wiring on real CFP photos."""

from __future__ import annotations

import json
import math
from importlib import resources

import numpy as np
import pytest

from faceproof import FaceProof, Pipeline, PipelineConfig
from faceproof.decision.policy import Policy
from faceproof.decision.profile import photo_status
from faceproof.decision.results import PhotoStatus
from faceproof.errors import InvalidArgument
from faceproof.runtime.compare import Metric, Threshold
from faceproof.runtime.pose import NEUTRAL_MOUTH_DROP, NEUTRAL_NOSE_DROP, NOSE_DEPTH, estimate_pose, turn_angle
from faceproof.runtime.thresholds import PairThresholds, PoseThresholds, face_turns, weights_sha256
from faceproof.types import BBox, Face


def turned(turn: float, x: float = 100.0) -> Face:
    """A synthetic face whose landmarks read a yaw of ``2 * turn`` degrees (pitch 0) and no
    foreshortening, so ``turn_angle`` (the mean of the two cues) reads ``turn``."""
    ie = 40.0
    nose_x = NOSE_DEPTH * math.tan(math.radians(2.0 * turn))
    pts = np.array(
        [[-0.5, 0.0], [0.5, 0.0], [nose_x, NEUTRAL_NOSE_DROP], [-0.35, NEUTRAL_MOUTH_DROP], [0.35, NEUTRAL_MOUTH_DROP]]
    )
    lm = (pts * ie + np.array([x, 100.0])).astype(np.float32)
    return Face(bbox=BBox(x - 40, 60, x + 40, 160), score=0.9, landmarks=lm, detector="fake")


TABLE = PoseThresholds(
    edges=(20.0, 35.0),
    values={"sface": {Metric.COSINE: (0.64, 0.70, 0.72)}},
    source="test table",
)
BASE = Threshold(0.64, "table")


def test_synthetic_faces_read_their_turn():
    for turn in (-25.0, -5.0, 0.0, 12.5, 30.0, 40.0):
        assert estimate_pose(turned(turn).landmarks).yaw == pytest.approx(2 * turn, abs=1e-4)
        assert turn_angle(turned(turn).landmarks) == pytest.approx(abs(turn), abs=1e-4)


def test_turn_reads_the_foreshortened_eye_line():
    """A face turned by a: the eyes close up by cos(a), the nose stays centred here, so the
    yaw cue reads 0 and the foreshortening cue reads a: the turn is a / 2."""
    lm = turned(0.0).landmarks.copy()
    mid = lm[:2].mean(axis=0)
    lm[:2] = mid + (lm[:2] - mid) * math.cos(math.radians(60.0))
    lm[3:, 0] = mid[0] + (lm[3:, 0] - mid[0]) * math.cos(math.radians(60.0))
    assert turn_angle(lm) == pytest.approx(30.0, abs=1.0)


def test_bins_follow_the_absolute_yaw_difference():
    got = TABLE.bins_of(np.array([0.0, 19.9, 20.0, -30.0, 34.9, 35.0, 90.0, np.nan]))
    assert got.tolist() == [0, 0, 1, 1, 1, 2, 2, -1]


def test_pair_thresholds_matrix_per_pair():
    origin = [turned(0.0), turned(40.0)]
    target = [turned(5.0), turned(25.0), turned(-40.0)]
    pt = TABLE.pair_thresholds("sface", Metric.COSINE, BASE, origin, target)
    assert pt.bins.tolist() == [[0, 1, 2], [2, 0, 0]]
    assert np.allclose(pt.values, [[0.64, 0.70, 0.72], [0.72, 0.64, 0.64]])
    assert pt.pose_aware and pt.describe(0, 2)["turn_difference_deg"] == ">= 35"
    assert pt.describe(0, 0)["source"] == "table" and "test table" in pt.describe(0, 1)["source"]


def small(face: Face, scale: float) -> Face:
    """``face`` with its box scaled about its centre (a background face of its photo)."""
    b = face.bbox
    cx, cy, h = (b.x1 + b.x2) / 2, (b.y1 + b.y2) / 2, (b.y2 - b.y1) * scale / 2
    return Face(bbox=BBox(cx - h, cy - h, cx + h, cy + h), score=0.9, landmarks=face.landmarks, detector="fake")


@pytest.mark.parametrize(
    ("target_scale", "origin_scale", "want"),
    [(1.0, 1.0, [[0, 2]]), (0.45, 1.0, [[0, 0]]), (0.5, 1.0, [[0, 2]]), (1.0, 0.3, [[0, 0], [0, 2]])],
)
def test_a_background_face_keeps_the_frontal_threshold(target_scale: float, origin_scale: float, want) -> None:
    """The turned bins were calibrated on each image's subject: a face under half its
    image's largest face (a bystander) keeps bin 0, the table's threshold, on either side."""
    target = [turned(0.0, x=100.0), small(turned(-40.0, x=300.0), target_scale)]
    # a second case: the origin's small face is turned (40 degrees from either target face's pose)
    origin = [turned(0.0)] if origin_scale == 1.0 else [small(turned(40.0), origin_scale), turned(0.0, x=400.0)]
    pt = TABLE.pair_thresholds("sface", Metric.COSINE, BASE, origin, target)
    assert pt.bins.tolist() == want
    assert np.allclose(pt.values, np.where(np.array(want) == 2, 0.72, 0.64))


def test_a_face_without_landmarks_or_another_base_keeps_the_uniform_threshold():
    bare = Face(bbox=BBox(0, 0, 50, 50), score=0.9, landmarks=None, detector="fake")
    assert np.isnan(face_turns([bare])[0])
    pt = TABLE.pair_thresholds("sface", Metric.COSINE, BASE, [bare], [turned(40.0)])
    assert pt.bins.tolist() == [[-1]] and np.allclose(pt.values, [[0.64]])
    # a calibration file moved the table's threshold: the bins were fitted next to another one
    moved = TABLE.pair_thresholds("sface", Metric.COSINE, Threshold(0.6, "calibration"), [turned(0)], [turned(40)])
    assert moved.bins.tolist() == [[-1]] and np.allclose(moved.values, [[0.6]])
    # a model or metric the table does not know
    other = TABLE.pair_thresholds("dlib", Metric.COSINE, BASE, [turned(0)], [turned(40)])
    assert not other.pose_aware and np.allclose(other.values, [[0.64]])


def test_malformed_tables_are_refused():
    good = {"edges_deg": [20, 35], "source": "x", "thresholds": {"sface": {"cosine": {"values": [0.6, 0.7, 0.8]}}}}
    assert PoseThresholds.from_json(good, "t").edges == (20.0, 35.0)
    for bad in (
        {**good, "edges_deg": [35, 20]},
        {**good, "thresholds": {"sface": {"cosine": {"values": [0.6, 0.7]}}}},
        {"edges_deg": [20]},
        {
            **good,
            "thresholds": {"sface": {"cosine": {"values": [0.6, 0.7, 0.8], "weights_sha256": {"sface": "0" * 64}}}},
        },
    ):
        with pytest.raises(InvalidArgument):
            PoseThresholds.from_json(bad, "t")


def test_the_shipped_table_has_its_provenance_and_keeps_the_frontal_threshold():
    doc = json.loads(resources.files("faceproof").joinpath("data/pose_thresholds.json").read_text(encoding="utf-8"))
    assert doc["command"].startswith("python bench/pose_calibrate.py")
    assert "cfp_dev" in doc["source"] and "lfw_view1/pairs_dev_train.csv" in doc["source"]
    assert doc["date"] and doc["target_far"] >= 0 and doc["model"] == "sface"
    assert len(doc["cascade_margins"]["values"]["cosine"]) == len(doc["edges_deg"]) + 1
    table = PoseThresholds.builtin()
    for key, flip in (("sface", True), ("sface/noflip", False)):
        for metric in ("cosine", "euclidean_l2"):
            entry = doc["thresholds"][key][metric]
            assert entry["weights_sha256"] == weights_sha256("sface")
            base = Pipeline(PipelineConfig(attributes=(), flip=flip, metric=metric, pose_thresholds=False))
            values = table.entries(key, Metric.parse(metric))
            assert values is not None and values[0] == pytest.approx(base.default_threshold.value, abs=5e-7)
            # turned pairs of the same person score farther apart: their bins are not stricter
            assert min(values[1:]) >= values[0]


def test_photo_status_takes_one_threshold_per_face():
    faces = [turned(0.0, x=100.0), turned(40.0, x=300.0)]
    policy = Policy.default()
    thr = np.array([0.64, 0.75])
    lows, highs = zip(*(policy.band(float(t)) for t in thr), strict=True)
    # the profile face (0.70) is under its own threshold, the frontal one (0.66) is not under its own
    status, idx, _ = photo_status(faces, np.array([0.66, 0.70]), thr, (np.array(lows), np.array(highs)), policy)
    assert idx == 1
    lo, hi = policy.band(0.64)
    uniform = photo_status(faces, np.array([0.66, 0.70]), 0.64, (lo, hi), policy)
    assert uniform[1] == 0 and uniform[0] in (PhotoStatus.UNCERTAIN, PhotoStatus.PERSON_ABSENT)
    assert status in (PhotoStatus.PERSON_PRESENT, PhotoStatus.UNCERTAIN)


def test_a_callers_threshold_is_uniform():
    pipe = Pipeline(PipelineConfig(attributes=()))
    pt = pipe.pair_thresholds([turned(0)], [turned(40)], Metric.COSINE, 0.5)
    assert isinstance(pt, PairThresholds) and pt.values.tolist() == [[0.5]] and not pt.pose_aware
    assert pipe.threshold_for(Metric.COSINE, 0.5, faces=(turned(0), turned(40))).source == "caller"
    on = pipe.threshold_for(Metric.COSINE, None, faces=(turned(0), turned(40)))
    assert on.source.startswith("pose bin 1") and on.value > pipe.default_threshold.value
    assert pipe.threshold_for(Metric.COSINE, None, faces=(turned(0), turned(5))) == pipe.default_threshold
    off = Pipeline(PipelineConfig(attributes=(), pose_thresholds=False))
    assert off.threshold_for(Metric.COSINE, None, faces=(turned(0), turned(40))) == off.default_threshold


# --------------------------------------------------------------------- real model, CFP photos

#: a frontal and a profile photo of one CFP person whose flip distance (0.667) lies between the
#: table's threshold and the turned bin's, turns ~59 degrees apart (from bench/pose_calibrate.py's data)
SAME_TURNED = ("images/006/frontal/06.jpg", "images/006/profile/03.jpg")
#: a frontal and a profile photo of two people, among the closest such impostor pairs (0.747)
OTHER_TURNED = ("images/095/frontal/06.jpg", "images/068/profile/04.jpg")


@pytest.mark.testdata
def test_verify_reports_the_pose_bin_and_threshold_of_each_pair(cfp):
    a, b = cfp / SAME_TURNED[0], cfp / SAME_TURNED[1]
    pose = FaceProof(attributes=(), cascade=False)
    flat = FaceProof(
        pipeline=Pipeline(PipelineConfig(attributes=(), pose_thresholds=False, cascade=False)), lang=pose.lang
    )
    r, r0 = pose.verify(a, b), flat.verify(a, b)
    assert np.allclose(r.distances, r0.distances)  # same embeddings: only the threshold differs
    assert r.pair_thresholds is not None and r.pair_thresholds.pose_aware
    rep = r.to_report()
    decisive = rep["decisive_pair"]
    assert decisive["pose_bin"] is not None and decisive["pose_bin"] >= 1
    assert decisive["threshold"] > r.threshold.value
    assert rep["pose_bins"] == [[decisive["pose_bin"]]]
    assert r0.pair_thresholds is not None and not r0.pair_thresholds.pose_aware
    d = float(r.distances[0, 0])
    assert r.matches[0, 0] == (d <= decisive["threshold"]) and r0.matches[0, 0] == (d <= r0.threshold.value)
    # the turned pair of one person: verified with its bin's threshold, missed with the frontal one
    assert r.verdict is True and r0.verdict is False
    other = pose.verify(cfp / OTHER_TURNED[0], cfp / OTHER_TURNED[1])
    assert other.verdict is False and other.to_report()["decisive_pair"]["pose_bin"] == 1


@pytest.mark.testdata
def test_cascade_uses_the_pairs_pose_threshold(cfp):
    a, b = cfp / SAME_TURNED[0], cfp / SAME_TURNED[1]
    flip = FaceProof(attributes=(), cascade=False)
    cascade = FaceProof(pipeline=Pipeline(PipelineConfig(attributes=(), cascade=True)), lang=flip.lang)
    r1, r2 = flip.verify(a, b), cascade.verify(a, b)
    assert r2.code is r1.code and r2.matches.tolist() == r1.matches.tolist()
    assert r2.pair_thresholds is not None
    assert r2.pair_thresholds.values.tolist() == r1.pair_thresholds.values.tolist()


@pytest.mark.testdata
def test_check_profile_records_each_faces_threshold(cfp):
    fp = FaceProof(attributes=())
    r = fp.check_profile(cfp / SAME_TURNED[0], [cfp / SAME_TURNED[1], cfp / "images/001/frontal/08.jpg"])
    photo_turned, photo_frontal = r.photos
    if photo_turned.faces:
        assert len(photo_turned.thresholds) == len(photo_turned.faces) == len(photo_turned.pose_bins)
    assert photo_frontal.pose_bins == (0,) and photo_frontal.thresholds == pytest.approx((fp.default_threshold.value,))
    assert "thresholds" in r.to_dict()["photos"][1]
