"""faceproof.evaluation: pair lists, face policies, metrics against hand-computed values, and a
real end-to-end run on a slice of the LFW dev-test pairs."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from faceproof import errors
from faceproof.cli.main import cli
from faceproof.evaluation import (
    ClientConfig,
    EmbeddingCache,
    FacePolicy,
    ImageFaces,
    Pair,
    assign_folds,
    auc,
    best_threshold,
    eer,
    embed_images,
    evaluate,
    kfold_accuracy,
    load_pairs,
    pair_distances,
    parse_lfw_pairs,
    rates_at,
    roc,
    tar_at_far,
    write_report,
)

# six pairs: same at 0.1, 0.2, 0.4; different at 0.3, 0.5, 0.6
D6 = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
Y6 = np.array([1, 1, 0, 1, 0, 0], bool)


# ---------------------------------------------------------------------------- metrics


def test_roc_points_by_hand():
    far, tar, thr = roc(D6, Y6)
    assert thr.tolist() == [-math.inf, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, math.inf]
    assert np.allclose(tar, [0, 1 / 3, 2 / 3, 2 / 3, 1, 1, 1, 1])
    assert np.allclose(far, [0, 0, 0, 1 / 3, 1 / 3, 2 / 3, 1, 1])


def test_auc_equals_the_mann_whitney_count():
    # same-vs-different orderings: 0.1 and 0.2 beat all 3, 0.4 beats 2 -> 8 of 9
    assert auc(D6, Y6) == pytest.approx(8 / 9)
    assert auc(np.array([0.1, 0.2, 0.3, 0.4]), np.array([1, 1, 0, 0], bool)) == pytest.approx(1.0)
    assert auc(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0, 0, 1, 1], bool)) == pytest.approx(0.0)


def test_eer_exact_crossing():
    # at 0.3: FAR 1/3 (0.3 accepted), FRR 1/3 (0.4 rejected)
    rate, thr = eer(D6, Y6)
    assert rate == pytest.approx(1 / 3) and thr == pytest.approx(0.3)


def test_eer_interpolated_between_roc_points():
    # same 0.1, 0.3; different 0.2, 0.4, 0.5. At 0.2: FAR 1/3, FRR 1/2; at 0.3: FAR 1/3, FRR 0.
    # FAR - FRR goes -1/6 -> +1/3: crossing a third of the way, FAR = FRR = 1/3 there.
    d = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    y = np.array([1, 0, 1, 0, 0], bool)
    rate, thr = eer(d, y)
    assert rate == pytest.approx(1 / 3)
    assert thr == pytest.approx(0.2 + 0.1 / 3)


def test_tar_at_far_by_hand():
    assert tar_at_far(D6, Y6, 0.0) == pytest.approx((2 / 3, 0.0, 0.2))
    assert tar_at_far(D6, Y6, 0.34) == pytest.approx((1.0, 1 / 3, 0.4))
    assert tar_at_far(D6, Y6, 0.2)[0] == pytest.approx(2 / 3)
    with pytest.raises(errors.InvalidArgument):
        tar_at_far(D6, Y6, 1.5)


def test_best_threshold_by_hand():
    # 5 of 6 right at 0.25 (between 0.2 and 0.3) and at 0.45: the stricter one wins
    thr, acc = best_threshold(D6, Y6)
    assert thr == pytest.approx(0.25) and acc == pytest.approx(5 / 6)
    assert rates_at(D6, Y6, thr) == pytest.approx(
        {"threshold": 0.25, "accuracy": 5 / 6, "tpr": 2 / 3, "tnr": 1.0, "far": 0.0, "frr": 1 / 3}
    )


def test_kfold_accuracy_by_hand():
    # fold 0: (0.1 same, 0.5 diff); fold 1: (0.3 same, 0.2 diff)
    d = np.array([0.1, 0.5, 0.3, 0.2])
    y = np.array([1, 0, 1, 0], bool)
    folds = np.array([0, 0, 1, 1])
    # fold 0 tested with the threshold of fold 1 alone: 0.1 (accepts nothing there, 1 of 2
    # right; the stricter of the ties) -> fold 0 both right. Fold 1 tested with the threshold
    # of fold 0: 0.3 -> 0.3 accepted (right), 0.2 accepted (wrong).
    out = kfold_accuracy(d, y, folds)
    assert out["thresholds"] == pytest.approx([0.1, 0.3])
    assert out["per_fold"] == pytest.approx([1.0, 0.5])
    assert out["mean"] == pytest.approx(0.75) and out["std"] == pytest.approx(0.25)


def test_folds_are_stratified_and_seeded():
    y = np.array([True] * 53 + [False] * 47)
    f = assign_folds(y, 10, seed=0)
    for k in range(10):
        assert abs(int((f[y] == k).sum()) - 5.3) < 1 and abs(int((f[~y] == k).sum()) - 4.7) < 1
    assert np.array_equal(f, assign_folds(y, 10, seed=0))
    assert not np.array_equal(f, assign_folds(y, 10, seed=1))


def test_pairs_without_a_face_are_rejections_not_dropped():
    # same 0.1 and inf (no face); different 0.5 and inf
    d = np.array([0.1, np.inf, 0.5, np.inf])
    y = np.array([1, 1, 0, 0], bool)
    assert auc(d, y) == pytest.approx(2.5 / 4)  # the inf-inf tie counts one half
    r = rates_at(d, y, 10.0)
    assert r["tpr"] == 0.5 and r["tnr"] == 0.5 and r["accuracy"] == 0.5
    far, tar, _ = roc(d, y)
    assert (far[-1], tar[-1]) == (1.0, 1.0) and tar[-2] == 0.5
    with pytest.raises(errors.InvalidArgument):
        roc(np.array([0.1, np.nan]), np.array([1, 0], bool))


def test_metrics_refuse_one_class():
    with pytest.raises(errors.InvalidArgument):
        roc(np.array([0.1, 0.2]), np.array([1, 1], bool))


# ---------------------------------------------------------------------------- pair lists


def test_lfw_view1_and_view2_formats(tmp_path):
    view1 = "2\nAl 1 2\nBo 1 3\nAl 1 Cy 2\nDi 4 Ed 1\n"
    pairs, fmt = parse_lfw_pairs(view1)
    assert fmt == "lfw-view1" and len(pairs) == 4
    assert pairs[0] == Pair("Al/Al_0001.jpg", "Al/Al_0002.jpg", True, None)
    assert pairs[3] == Pair("Di/Di_0004.jpg", "Ed/Ed_0001.jpg", False, None)
    view2 = "2\t1\nAl\t1\t2\nAl\t1\tBo\t2\nCy\t1\t3\nCy\t1\tDi\t2\n"
    (tmp_path / "pairs.txt").write_text(view2)
    ps = load_pairs(tmp_path / "pairs.txt")
    assert ps.format == "lfw-view2" and ps.has_folds
    assert [(p.same, p.fold) for p in ps.pairs] == [(True, 0), (False, 0), (True, 1), (False, 1)]
    with pytest.raises(errors.InvalidArgument, match="promises"):
        parse_lfw_pairs("3\nAl 1 2\n")
    with pytest.raises(errors.InvalidArgument, match="line 2"):
        parse_lfw_pairs("1\nAl 1\nAl 1 Bo 2\n")


def test_csv_pairs_with_folds_and_errors(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("path1,path2,same,fold\na.jpg,b.jpg,1,0\nc.jpg,d.jpg,0,1\n")
    ps = load_pairs(f)
    assert ps.format == "csv" and ps.has_folds and ps.labels.tolist() == [True, False]
    assert ps.paths() == ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
    f.write_text("a,b\nx.jpg,y.jpg\n")
    with pytest.raises(errors.InvalidArgument, match="path1,path2,same"):
        load_pairs(f)
    f.write_text("path1,path2,same\nx.jpg,y.jpg,maybe\n")
    with pytest.raises(errors.InvalidArgument, match="'same'"):
        load_pairs(f)
    with pytest.raises(errors.InvalidArgument):
        load_pairs(tmp_path / "missing.csv")


def test_official_view1_text_matches_the_csv(lfw):
    txt = load_pairs(lfw / "pairsDevTest.txt")
    csv_pairs = load_pairs(lfw / "pairs_dev_test.csv")
    assert txt.format == "lfw-view1" and len(txt) == 1000
    as_csv = {("images/" + p.path1, "images/" + p.path2, p.same) for p in txt.pairs}
    ours = {(p.path1, p.path2, p.same) for p in csv_pairs.pairs}
    assert ours <= as_csv and len(as_csv - ours) == 1  # the pair with the missing Betsy_Coffin image


# ---------------------------------------------------------------------------- face policies


def _faces(path, boxes, vectors, size=(100, 100)):
    v = np.asarray(vectors, np.float32)
    norms = np.linalg.norm(v, axis=1)
    return ImageFaces(
        path, size[0], size[1], np.asarray(boxes, np.float32), np.ones(len(v), np.float32), v / norms[:, None], norms
    )


def test_face_policies_pick_center_largest_or_best_pair():
    # image a: a big face at the left edge, a small one in the centre
    a = _faces("a", [[0, 0, 60, 60], [40, 40, 60, 60]], [[1, 0], [0, 1]])
    b = _faces("b", [[40, 40, 60, 60]], [[0, 2]])
    empty = ImageFaces("c", 100, 100, error="no_face")
    images = {"a": a, "b": b, "c": empty}
    pairs = [Pair("a", "b", True), Pair("a", "c", False)]
    assert pair_distances(pairs, images, "cosine", "center").tolist() == pytest.approx([0.0, math.inf])
    assert pair_distances(pairs, images, "cosine", "largest").tolist() == pytest.approx([1.0, math.inf])
    assert pair_distances(pairs, images, "cosine", FacePolicy.MAX)[0] == pytest.approx(0.0)
    # raw euclidean uses the embedding norms: (0,1) vs (0,2)
    assert pair_distances(pairs, images, "euclidean", "center")[0] == pytest.approx(1.0)
    with pytest.raises(errors.InvalidArgument):
        pair_distances(pairs, images, "cosine", "leftmost")


def test_embedding_cache_round_trip_and_invalidation(tmp_path):
    for name in ("a.jpg", "b.jpg"):
        (tmp_path / name).write_bytes(b"x")
    config = ClientConfig(flip=False)
    cache = EmbeddingCache(tmp_path / "cache", config, tmp_path)
    a = _faces("a.jpg", [[1, 2, 30, 40]], [[3, 4]])
    b = ImageFaces("b.jpg", 10, 10, error="no_face")
    cache.save({"a.jpg": a, "b.jpg": b})
    back = cache.load()
    assert back["b.jpg"].error == "no_face" and back["b.jpg"].n_faces == 0
    assert np.allclose(back["a.jpg"].embeddings, a.embeddings) and np.allclose(back["a.jpg"].norms, [5.0])
    (tmp_path / "a.jpg").write_bytes(b"changed")  # a changed file is embedded again
    assert set(cache.load()) == {"b.jpg"}
    other = EmbeddingCache(tmp_path / "cache", ClientConfig(flip=True), tmp_path)
    assert other.file != cache.file
    # bfloat16 embeddings are another configuration: never read as float32 ones
    bf16 = ClientConfig(flip=False, precision="bf16")
    assert bf16.resolved().precision == "bf16" and bf16.pipeline_config().precision == "bf16"
    assert EmbeddingCache(tmp_path / "cache", bf16, tmp_path).file != cache.file


# ---------------------------------------------------------------------------- real model


@pytest.fixture(scope="module")
def lfw_slice(lfw):
    pairs = load_pairs(lfw / "pairs_dev_test.csv").head(100)
    return pairs


@pytest.mark.slow
def test_end_to_end_evaluate_on_100_dev_test_pairs(lfw, lfw_slice, tmp_path):
    images = embed_images(lfw_slice.paths(), lfw, ClientConfig(), workers=2, backend="process")
    from faceproof.evaluation import load_groups

    report = evaluate(lfw_slice, lfw, ClientConfig(), images=images, groups=load_groups(lfw / "gender.csv"))
    assert report.pairs["total"] == 100 and report.pairs["same"] == 50
    p = report.primary
    assert p["auc"] > 0.98 and p["kfold_accuracy"]["mean"] > 0.95
    assert p["at_threshold"]["accuracy"] > 0.95
    assert set(report.results) == {"center", "largest", "max"}
    written = write_report(report, tmp_path, command="pytest")
    assert {w.name for w in written} == {"report.json", "report.md", "scores.csv", "roc.png", "hist.png"}
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["results"]["center"]["cosine"]["auc"] == pytest.approx(p["auc"])
    assert doc["pairs"]["no_face"] == report.pairs["no_face"]
    # by gender: same-person pairs are never "mixed", whose TPR is undefined (null in JSON)
    assert set(doc["groups"]) <= {"female", "male", "mixed"} and "male" in doc["groups"]
    assert sum(g["pairs"] for g in doc["groups"].values()) == 100
    if "mixed" in doc["groups"]:
        assert doc["groups"]["mixed"]["same"] == 0 and doc["groups"]["mixed"]["at_threshold"]["tpr"] is None
    assert "## By group" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "roc.png").read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.DictReader((tmp_path / "scores.csv").open()))
    assert len(rows) == 100 and float(rows[0]["center_cosine"]) >= 0

    # the "max" policy is what verify() does: same best distance on real pairs (always-flip:
    # the default cascade reports the no-flip distance of a pair it decides without flip)
    from faceproof import FaceProof

    fp = FaceProof(attributes=(), cascade=False)
    for i in (0, 60):
        pair = lfw_slice.pairs[i]
        r = fp.verify(lfw / pair.path1, lfw / pair.path2)
        assert report.distances["max"]["cosine"][i] == pytest.approx(r.best_distance, abs=1e-5)


@pytest.mark.slow
def test_evaluate_cli_writes_a_report(lfw, tmp_path):
    out = tmp_path / "report"
    result = CliRunner().invoke(
        cli,
        [
            "evaluate",
            "--pairs",
            str(lfw / "pairs_dev_test.csv"),
            "--limit",
            "20",
            "--workers",
            "1",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "10-fold accuracy" in result.output and "Pairs without a usable face" in result.output
    assert json.loads((out / "report.json").read_text())["pairs"]["total"] == 20


def test_evaluate_cli_bad_input_exits_2(tmp_path):
    bad = tmp_path / "p.csv"
    bad.write_text("nothing here\n")
    result = CliRunner().invoke(cli, ["evaluate", "--pairs", str(bad)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    bad.write_text("path1,path2,same\na.jpg,b.jpg,1\n")
    result = CliRunner().invoke(cli, ["evaluate", "--pairs", str(bad), "--metric", "hamming"])
    assert result.exit_code == 2 and "hamming" in result.output


def test_unreadable_and_missing_images_are_recorded_not_raised(tmp_path, lfw):
    (tmp_path / "junk.jpg").write_bytes(b"not an image")
    out = embed_images(["junk.jpg", "gone.jpg"], tmp_path, ClientConfig(), workers=1)
    assert out["junk.jpg"].error == "image_unreadable" and out["gone.jpg"].error == "image_not_found"
    assert out["junk.jpg"].n_faces == 0
    pairs = [Pair("junk.jpg", "gone.jpg", True), Pair("gone.jpg", "junk.jpg", False)]
    assert np.isinf(pair_distances(pairs, out, "cosine", "center")).all()


def test_group_rates_split_pairs_by_label(tmp_path):
    from faceproof.evaluation import group_rates, load_groups

    f = tmp_path / "g.csv"
    f.write_text("path,gender\na,female\nb,female\nc,male\nd,male\n")
    groups = load_groups(f)
    pairs = [
        Pair("a", "b", True),
        Pair("a", "b", False),
        Pair("c", "d", True),
        Pair("a", "c", False),
        Pair("a", "x", True),
    ]
    d = np.array([0.2, 0.9, 0.8, 0.1, 0.3])
    out = group_rates(pairs, d, groups, 0.5)
    assert set(out) == {"female", "male", "mixed", "unlabelled"}
    assert out["female"]["pairs"] == 2 and out["female"]["auc"] == 1.0
    assert out["female"]["at_threshold"]["accuracy"] == 1.0
    assert out["male"]["at_threshold"]["tpr"] == 0.0 and "auc" not in out["male"]  # one class only
    assert out["mixed"]["at_threshold"]["tnr"] == 0.0  # 0.1 <= 0.5: a false accept
    f.write_text("just one column\nrow\n")
    with pytest.raises(errors.InvalidArgument):
        load_groups(f)
