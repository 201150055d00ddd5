"""``faceproof evaluate`` reports the library's default verdicts (issue 14): each pair against
its pose-aware threshold and through the verification cascade, per pose bin, next to the
uniform threshold's. Logic on synthetic faces (landmarks that read a chosen turn, unit
vectors at chosen distances) with the real pipeline's tables; the agreement with
``FaceProof.verify`` on real CFP photos with the real model."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from test_pose_thresholds import OTHER_TURNED, SAME_TURNED, turned

from faceproof import FaceProof, Pipeline, PipelineConfig
from faceproof.cli.main import cli
from faceproof.evaluation import (
    ClientConfig,
    EmbeddingCache,
    ImageFaces,
    Pair,
    PairSet,
    embed_images,
    evaluate,
    group_rates,
    rates_of,
    write_report,
)
from faceproof.evaluation.embedding import CACHE_SCHEMA
from faceproof.evaluation.verdicts import NO_FACE_BIN, default_verdicts, pose_bin_label, rates_by_pose_bin
from faceproof.runtime.compare import Metric
from faceproof.runtime.thresholds import NO_POSE_BIN

PIPE = Pipeline(PipelineConfig(attributes=()))  # the default: flip, cascade, pose-aware thresholds
T1 = PIPE.default_threshold.value  # the table's flip threshold (0.640968)
T_TURNED = PIPE.threshold_for(Metric.COSINE, faces=(turned(0.0), turned(40.0))).value  # 0.708064
PLAN = PIPE.cascade_plan(Metric.COSINE, None)
assert PLAN is not None
T0, _, MARGIN = PLAN  # no-flip table threshold and the frontal margin


def unit_at(distance: float, dim: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors whose cosine distance is ``distance``."""
    theta = math.acos(1.0 - distance)
    a = np.zeros(dim)
    b = np.zeros(dim)
    a[0] = 1.0
    b[0], b[1] = math.cos(theta), math.sin(theta)
    return a, b


def image(path: str, turn: float, vector: np.ndarray, plain: np.ndarray | None = None) -> ImageFaces:
    """One face turned by ``turn`` degrees, centred in a 200x200 image."""
    face = turned(turn, x=100.0)
    v = np.asarray(vector, np.float32)[None, :]
    return ImageFaces(
        path,
        200,
        200,
        boxes=np.array([face.bbox.as_list(None)], np.float32),
        scores=np.array([0.9], np.float32),
        embeddings=v,
        norms=np.ones(1, np.float32),
        landmarks=np.asarray(face.landmarks, np.float32)[None],
        plain=np.zeros((0, 0), np.float32) if plain is None else np.asarray(plain, np.float32)[None, :],
    )


def pair_images(name: str, turn_a: float, turn_b: float, d_flip: float, d_plain: float | None = None):
    a, b = unit_at(d_flip)
    pa = pb = None
    if d_plain is not None:
        pa, pb = unit_at(d_plain)
    return image(f"{name}_a", turn_a, a, pa), image(f"{name}_b", turn_b, b, pb)


def verdicts_of(spec, threshold=None, policy="center"):
    """``spec``: (name, turn_a, turn_b, flip distance, no-flip distance or None, same)."""
    images, pairs = {}, []
    for name, ta, tb, d1, d0, same in spec:
        a, b = pair_images(name, ta, tb, d1, d0)
        images[a.path], images[b.path] = a, b
        pairs.append(Pair(a.path, b.path, same))
    return pairs, images, default_verdicts(pairs, images, PIPE, "cosine", policy, threshold)


def test_the_shipped_tables_are_what_the_cases_below_assume():
    assert T1 == pytest.approx(0.640968) and T_TURNED == pytest.approx(0.708064)
    assert T0 == pytest.approx(0.638426) and T_TURNED - T1 > 0.05


# (name, turn a, turn b, flip distance, no-flip distance, same, accepted, bin, threshold, stage)
CASES = [
    # frontal pairs: the table's threshold, as before
    ("frontal_close", 0.0, 5.0, 0.50, 0.50, True, True, 0, T1, 1),
    ("frontal_far", 2.0, 10.0, 0.90, 0.90, False, False, 0, T1, 1),
    # a turned pair between the two thresholds: accepted in its bin, refused by the uniform one
    ("turned_between", 0.0, 40.0, 0.67, 0.67, True, True, 1, T_TURNED, 2),
    ("turned_far", 40.0, 5.0, 0.80, 0.80, False, False, 1, T_TURNED, 1),
    # the cascade: far from t0 the no-flip distance decides, whatever the flip distance says
    ("stage1_decides", 0.0, 3.0, 0.645, 0.55, True, True, 0, T1, 1),
    # near t0 the flip distance decides
    ("stage2_decides", 0.0, 3.0, 0.645, 0.635, True, False, 0, T1, 2),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_default_verdict_per_case(case):
    name, ta, tb, d1, d0, same, accepted, b, thr, stage = case
    _, _, v = verdicts_of([(name, ta, tb, d1, d0, same)])
    assert v.pose_aware and v.cascade
    assert bool(v.accepted[0]) is accepted
    assert int(v.pose_bin[0]) == b and v.threshold[0] == pytest.approx(thr, abs=1e-6)
    assert int(v.stage[0]) == stage
    assert v.distance[0] == pytest.approx(d1 if stage == 2 else d0, abs=1e-6)
    assert v.turn_difference[0] == pytest.approx(abs(ta - tb), abs=1e-3)


def test_without_no_flip_embeddings_the_flip_distance_decides():
    _, _, v = verdicts_of([("x", 0.0, 3.0, 0.645, None, True), ("y", 0.0, 40.0, 0.67, None, True)])
    assert not v.cascade and v.pose_aware
    assert v.accepted.tolist() == [False, True] and v.stage.tolist() == [2, 2]
    assert v.summary(np.array([True, True]))["stage2_share"] is None


def test_a_callers_threshold_is_uniform_and_skips_the_cascade():
    spec = [("a", 0.0, 40.0, 0.67, 0.67, True), ("b", 0.0, 3.0, 0.645, 0.55, True)]
    _, _, v = verdicts_of(spec, threshold=0.65)
    assert not v.pose_aware and not v.cascade
    assert v.accepted.tolist() == [False, True] and v.threshold.tolist() == pytest.approx([0.65, 0.65])
    # the pose bin is still reported (the table's edges), though the threshold is uniform
    assert v.pose_bin.tolist() == [1, 0] and v.source == "caller"


def test_no_face_pairs_are_rejections_in_their_own_bin():
    a, b = pair_images("p", 0.0, 2.0, 0.3, 0.3)
    empty = ImageFaces("none", 100, 100, error="no_face")
    images = {a.path: a, b.path: b, "none": empty}
    pairs = [Pair(a.path, b.path, True), Pair(a.path, "none", True)]
    v = default_verdicts(pairs, images, PIPE, "cosine", "center")
    assert v.accepted.tolist() == [True, False]
    assert v.pose_bin.tolist() == [0, NO_FACE_BIN] and v.stage.tolist() == [1, 0]
    assert np.isinf(v.distance[1]) and np.isnan(v.threshold[1])
    assert v.bin_label(NO_FACE_BIN) == "no face" and v.bin_label(NO_POSE_BIN) == "no pose"


def test_faces_without_landmarks_keep_the_uniform_threshold():
    a, b = pair_images("p", 0.0, 40.0, 0.67, 0.67)
    bare = {
        p.path: ImageFaces(p.path, 200, 200, p.boxes, p.scores, p.embeddings, p.norms, plain=p.plain) for p in (a, b)
    }
    v = default_verdicts([Pair(a.path, b.path, True)], bare, PIPE, "cosine", "center")
    assert int(v.pose_bin[0]) == NO_POSE_BIN and v.threshold[0] == pytest.approx(T1)
    assert not v.accepted[0]


def test_max_policy_takes_the_pair_that_decides():
    """Two faces in one image: the turned one is within its bin's threshold, the frontal one
    is not within the table's; the image pair is accepted on the turned face."""
    a_vec, b_vec = unit_at(0.67)
    _, c_vec = unit_at(0.66)
    f_front, f_turned = turned(2.0, x=50.0), turned(40.0, x=150.0)
    origin = image("o", 0.0, a_vec, a_vec)
    target = ImageFaces(
        "t",
        200,
        200,
        boxes=np.array([f_front.bbox.as_list(None), f_turned.bbox.as_list(None)], np.float32),
        scores=np.array([0.9, 0.9], np.float32),
        embeddings=np.stack([c_vec, b_vec]).astype(np.float32),
        norms=np.ones(2, np.float32),
        landmarks=np.stack([f_front.landmarks, f_turned.landmarks]).astype(np.float32),
        plain=np.stack([c_vec, b_vec]).astype(np.float32),
    )
    images = {"o": origin, "t": target}
    v = default_verdicts([Pair("o", "t", True)], images, PIPE, "cosine", "max")
    assert v.accepted[0] and int(v.pose_bin[0]) == 1 and v.threshold[0] == pytest.approx(T_TURNED)
    assert v.distance[0] == pytest.approx(0.67, abs=1e-6)


def test_rates_by_pose_bin_by_hand():
    spec = [
        ("f1", 0.0, 5.0, 0.50, 0.50, True),  # accepted
        ("f2", 0.0, 5.0, 0.90, 0.90, False),  # rejected
        ("t1", 0.0, 40.0, 0.67, 0.67, True),  # accepted in its bin, not by the uniform threshold
        ("t2", 0.0, 40.0, 0.69, 0.69, False),  # a false accept in its bin, rejected by the uniform one
        ("t3", 0.0, 40.0, 0.95, 0.95, False),  # rejected
    ]
    pairs, _, v = verdicts_of(spec)
    y = np.array([s[-1] for s in spec])
    d = np.array([s[3] for s in spec])
    out = rates_by_pose_bin(v, y, d, T1)
    assert list(out) == ["[0, 30)", ">= 30"]
    low, high = out["[0, 30)"], out[">= 30"]
    assert (low["pairs"], low["same"], low["different"]) == (2, 1, 1)
    assert low["default"] == low["uniform"] == {"accuracy": 1.0, "tpr": 1.0, "tnr": 1.0, "far": 0.0, "frr": 0.0}
    assert (high["pairs"], high["same"], high["different"]) == (3, 1, 2)
    assert high["thresholds"] == [pytest.approx(T_TURNED)]
    assert high["default"]["tpr"] == 1.0 and high["default"]["far"] == 0.5
    assert high["default"]["accuracy"] == pytest.approx(2 / 3)
    assert high["uniform"]["tpr"] == 0.0 and high["uniform"]["far"] == 0.0
    assert high["stage2_pairs"] == 2  # 0.67 and 0.69 lie within the turned margin of 0.706
    summary = v.summary(y)
    assert summary["accuracy"] == pytest.approx(4 / 5) and summary["stage2_pairs"] == 2
    # by group, the default verdicts next to the uniform ones
    groups = {p.path1: "g" for p in pairs} | {p.path2: "g" for p in pairs}
    g = group_rates(pairs, d, groups, T1, v.accepted)["g"]
    assert g["default_decision"] == rates_of(v.accepted, y)
    assert g["at_threshold"]["accuracy"] == pytest.approx(4 / 5)
    assert pose_bin_label((30.0,), 1) == ">= 30" and pose_bin_label((20.0, 35.0), 1) == "[20, 35)"


def test_evaluate_reports_the_default_decision_and_the_uniform_one(tmp_path):
    spec = [
        ("f1", 0.0, 5.0, 0.50, 0.50, True),
        ("f2", 0.0, 5.0, 0.90, 0.90, False),
        ("t1", 0.0, 40.0, 0.67, 0.67, True),
        ("t3", 0.0, 40.0, 0.95, 0.95, False),
    ]
    pairs, images, _ = verdicts_of(spec)
    report = evaluate(
        PairSet(tuple(pairs), "synthetic.csv", "csv"),
        tmp_path,
        ClientConfig(),
        images=images,
        folds=2,
        metrics=["cosine", "euclidean"],
    )
    p = report.primary
    assert p["default_decision"]["accuracy"] == 1.0 and p["at_threshold"]["accuracy"] == 0.75
    assert p["default_decision"]["pose_aware"] and p["default_decision"]["cascade"]
    assert set(p["default_decision"]["by_pose_bin"]) == {"[0, 30)", ">= 30"}
    # raw euclidean has no pose-aware entries and no cascade: one threshold
    e = report.results["center"]["euclidean"]["default_decision"]
    assert not e["pose_aware"] and not e["cascade"]
    write_report(report, tmp_path, command="pytest")
    md = (tmp_path / "report.md").read_text()
    assert "**default decision**" in md and "at the uniform threshold" in md and "## By pose bin" in md
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["results"]["center"]["cosine"]["default_decision"]["by_pose_bin"][">= 30"]["default"]["tpr"] == 1.0
    rows = list(csv.DictReader((tmp_path / "scores.csv").open()))
    assert [r["pose_bin"] for r in rows] == ["[0, 30)", "[0, 30)", ">= 30", ">= 30"]
    assert [r["verdict"] for r in rows] == ["1", "0", "1", "0"]
    assert [r["verdict_uniform"] for r in rows] == ["1", "0", "0", "0"]


def test_cache_keeps_landmarks_and_no_flip_embeddings(tmp_path):
    a, _ = pair_images("a.jpg", 20.0, 0.0, 0.3, 0.4)
    (tmp_path / "a.jpg").write_bytes(b"x")
    cache = EmbeddingCache(tmp_path / "cache", ClientConfig(), tmp_path)
    assert cache.file.name.endswith(f"-v{CACHE_SCHEMA}.npz")
    old = ImageFaces("b.jpg", 10, 10, a.boxes, a.scores, a.embeddings, a.norms)  # no landmarks, no plain
    (tmp_path / "b.jpg").write_bytes(b"y")
    cache.save({"a.jpg": a, "b.jpg": old})
    back = cache.load()
    assert np.allclose(back["a.jpg"].landmarks, a.landmarks) and np.allclose(back["a.jpg"].plain, a.plain)
    assert back["a.jpg"].has_landmarks and back["a.jpg"].has_plain
    assert not back["b.jpg"].has_landmarks and not back["b.jpg"].has_plain


# ----------------------------------------------------------------------------- real model, CFP


#: CFP pairs: the two turned pairs of test_pose_thresholds, frontal-vs-profile and
#: frontal-vs-frontal pairs of both kinds
CFP_PAIRS = [
    Pair(*SAME_TURNED, True),
    Pair(*OTHER_TURNED, False),
    Pair("images/001/frontal/05.jpg", "images/001/profile/01.jpg", True),
    Pair("images/002/frontal/01.jpg", "images/002/profile/02.jpg", True),
    Pair("images/001/frontal/01.jpg", "images/001/frontal/04.jpg", True),
    Pair("images/003/frontal/02.jpg", "images/004/frontal/03.jpg", False),
    Pair("images/005/frontal/01.jpg", "images/007/profile/01.jpg", False),
]


@pytest.mark.testdata
def test_evaluation_gives_verify_s_verdict_on_real_cfp_pairs(cfp):
    """Every pair: the evaluation's default verdict under the ``max`` policy (all faces, as
    ``verify``) is ``FaceProof.verify``'s, with the same deciding pose bin, threshold and
    cascade stage; the turned same-person pair is accepted only thanks to its bin."""
    images = embed_images(sorted({p for pr in CFP_PAIRS for p in (pr.path1, pr.path2)}), cfp, workers=1)
    v = default_verdicts(CFP_PAIRS, images, PIPE, "cosine", "max")
    assert v.pose_aware and v.cascade
    fp = FaceProof(attributes=())
    for k, pair in enumerate(CFP_PAIRS):
        r = fp.verify(cfp / pair.path1, cfp / pair.path2)
        assert r.verdict is bool(v.accepted[k]), pair
        decisive = r.to_report()["decisive_pair"]
        i, j = decisive["pair"]
        assert decisive["threshold"] == pytest.approx(v.threshold[k], abs=1e-6), pair
        assert (decisive["pose_bin"] if decisive["pose_bin"] is not None else NO_POSE_BIN) == v.pose_bin[k]
        assert r.stages is not None and int(r.stages[i, j]) == int(v.stage[k]), pair
        assert float(r.distances[i, j]) == pytest.approx(v.distance[k], abs=1e-5), pair
    assert v.accepted[0] and v.pose_bin[0] == 1 and v.distance[0] > T1  # only its bin accepts it
    assert not v.accepted[1] and v.pose_bin[1] == 1
    # the embeddings are the pipeline's: the flip ones as Pipeline.faces gives them
    faces = PIPE.faces(PIPE.load_image(cfp / SAME_TURNED[0]))
    assert np.allclose(images[SAME_TURNED[0]].embeddings[0], faces[0].embedding, atol=1e-6)


@pytest.mark.slow
@pytest.mark.testdata
def test_evaluate_cli_on_cfp_pairs_reports_pose_bins(cfp, tmp_path):
    rows = ["path1,path2,same,fold"] + [
        f"{p.path1},{p.path2},{int(p.same)},{1 + k % 2}" for k, p in enumerate(CFP_PAIRS)
    ]
    pairs_file = tmp_path / "pairs.csv"
    pairs_file.write_text("\n".join(rows) + "\n")
    out = tmp_path / "report"
    result = CliRunner().invoke(
        cli, ["evaluate", "--pairs", str(pairs_file), "--root", str(cfp), "--workers", "1", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "## By pose bin" in result.output and ">= 30" in result.output
    doc = json.loads((out / "report.json").read_text())
    dd = doc["results"]["center"]["cosine"]["default_decision"]
    assert dd["pose_aware"] and dd["cascade"]
    assert sum(e["pairs"] for e in dd["by_pose_bin"].values()) == len(CFP_PAIRS)


def test_without_flip_the_no_flip_tables_decide_and_there_is_no_cascade():
    pipe = Pipeline(PipelineConfig(flip=False, attributes=()))
    assert pipe.cascade_plan(Metric.COSINE, None) is None
    a, b = pair_images("n", 0.0, 40.0, 0.67)
    v = default_verdicts([Pair(a.path, b.path, True)], {a.path: a, b.path: b}, pipe, "cosine", "center")
    assert v.pose_aware and not v.cascade and v.accepted[0]
    assert v.threshold[0] == pytest.approx(0.706321, abs=1e-6)  # the no-flip table's turned bin
