"""faceproof.evaluation.calibrate: thresholds for a target FAR or best accuracy, bootstrap intervals, and
calibration files that FaceProof(calibration=...) loads."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from faceproof import FaceProof, errors
from faceproof.cli.main import cli
from faceproof.evaluation import rates_at
from faceproof.evaluation.calibrate import (
    calibrate_scores,
    load_calibration,
    threshold_for_far,
    weights_sha256,
    write_calibration,
)


def test_threshold_for_far_by_hand():
    impostors = np.array([0.5, 0.2, 0.9, 0.4])
    # 1 of 4 may be accepted: just below the second smallest (0.4)
    t = threshold_for_far(impostors, 0.25)
    assert t < 0.4 and t == pytest.approx(0.4)
    assert (impostors <= t).mean() == 0.25 and (impostors <= 0.4).mean() == 0.5
    # none may be accepted: just below the smallest
    t0 = threshold_for_far(impostors, 0.0)
    assert t0 < 0.2 and t0 == pytest.approx(0.2) and (impostors <= t0).sum() == 0
    # no-face impostors (inf) are never accepted; when all finite ones may be, the largest is the limit
    assert threshold_for_far(np.array([0.3, np.inf]), 0.5) == pytest.approx(0.3)
    with pytest.raises(errors.InvalidArgument):
        threshold_for_far(impostors, 1.0)
    with pytest.raises(errors.InvalidArgument):
        threshold_for_far(np.array([]), 0.1)


def _normals(seed, n_same, n_diff):
    rng = np.random.default_rng(seed)
    same = rng.normal(0.30, 0.08, n_same)
    diff = rng.normal(0.80, 0.10, n_diff)
    return np.r_[same, diff], np.r_[np.ones(n_same, bool), np.zeros(n_diff, bool)]


def test_far_target_is_met_on_fresh_pairs_from_the_same_distributions():
    # impostor distances ~ N(0.8, 0.1): the true FAR-1e-3 threshold is 0.8 - 3.0902 * 0.1
    true_t = 0.8 - 3.0902 * 0.1
    d, y = _normals(1, 2000, 20000)
    r = calibrate_scores(d, y, objective="far", target_far=1e-3, bootstrap=200, seed=0)
    assert r.ci_low <= true_t <= r.ci_high
    assert abs(r.value - true_t) < 0.02
    assert r.rates["far"] <= 1e-3
    fresh_d, fresh_y = _normals(2, 2000, 200000)
    fresh = rates_at(fresh_d, fresh_y, r.value)
    assert 0.3e-3 <= fresh["far"] <= 2.5e-3
    assert fresh["tpr"] > 0.99  # same-person pairs ~ N(0.3, 0.08) sit well below 0.49
    assert r.same == 2000 and r.different == 20000 and r.no_face == 0


def test_accuracy_objective_finds_the_crossing_of_two_normals():
    # equal priors; the densities N(0.3, 0.08) and N(0.8, 0.1) cross near 0.5246
    a, b, sa, sb = 0.3, 0.8, 0.08, 0.10
    qa, qb = 1 / sa**2 - 1 / sb**2, -2 * (a / sa**2 - b / sb**2)
    qc = a**2 / sa**2 - b**2 / sb**2 + 2 * np.log(sa / sb)
    roots = np.roots([qa, qb, qc])
    crossing = float(roots[(roots > a) & (roots < b)][0])
    d, y = _normals(3, 20000, 20000)
    r = calibrate_scores(d, y, objective="accuracy", bootstrap=50, seed=0)
    assert abs(r.value - crossing) < 0.02
    assert r.ci_low <= r.value <= r.ci_high and r.ci_high - r.ci_low < 0.05


def test_bootstrap_is_seeded():
    d, y = _normals(4, 300, 300)
    a = calibrate_scores(d, y, objective="far", target_far=1e-2, bootstrap=100, seed=7)
    b = calibrate_scores(d, y, objective="far", target_far=1e-2, bootstrap=100, seed=7)
    c = calibrate_scores(d, y, objective="far", target_far=1e-2, bootstrap=100, seed=8)
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)
    assert (a.ci_low, a.ci_high) != (c.ci_low, c.ci_high)
    with pytest.raises(errors.InvalidArgument):
        calibrate_scores(d, y, objective="precision")
    with pytest.raises(errors.InvalidArgument):
        calibrate_scores(d[y], y[y])


def test_calibration_file_is_loaded_by_faceproof(tmp_path):
    path = write_calibration(
        tmp_path / "cal.json",
        {"sface": {"cosine": {"value": 0.5, "source": "test", "weights_sha256": weights_sha256("sface")}}},
    )
    fp = FaceProof(calibration=path, attributes=())
    assert fp.default_threshold.value == 0.5 and fp.default_threshold.source == "test"
    # entries the file does not carry stay built-in
    assert fp.thresholds.get("dlib", "euclidean") == FaceProof(attributes=()).thresholds.get("dlib", "euclidean")


def test_calibration_for_other_weights_or_malformed_is_refused(tmp_path):
    doc = {"thresholds": {"sface": {"cosine": {"value": 0.5, "source": "x", "weights_sha256": {"sface": "0" * 64}}}}}
    (tmp_path / "other.json").write_text(json.dumps(doc))
    with pytest.raises(errors.InvalidArgument, match="recalibrate"):
        FaceProof(calibration=tmp_path / "other.json", attributes=())
    (tmp_path / "bad.json").write_text('{"thresholds": {"sface": {"cosine": {"value": -1, "source": "x"}}}}')
    with pytest.raises(errors.InvalidArgument):
        load_calibration(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(errors.InvalidArgument):
        load_calibration(tmp_path / "list.json")
    with pytest.raises(errors.InvalidArgument):
        write_calibration(tmp_path / "x.json", {"sface": {"cosine": {"value": 0.5}}})


def test_builtin_table_records_its_provenance():
    from importlib import resources

    doc = json.loads(resources.files("faceproof").joinpath("data/thresholds.json").read_text())
    for model, metrics in doc["thresholds"].items():
        assert set(metrics) == {"cosine", "euclidean", "euclidean_l2"}
        for entry in metrics.values():
            assert entry["weights_sha256"] == weights_sha256(model.removesuffix("/noflip"))
            assert entry["flip"] is not model.endswith("/noflip")
            assert entry["dataset"].endswith("pairs_dev_train.csv") and entry["command"].startswith("faceproof")
            assert entry["pairs"]["same"] == 1100 and entry["pairs"]["different"] == 1100
            assert entry["ci95"][0] <= entry["value"] <= entry["ci95"][1]
            assert entry["check"]["dataset"].endswith("pairs_dev_test.csv")


@pytest.mark.slow
def test_calibrate_cli_on_a_slice_writes_a_loadable_file(lfw, tmp_path):
    out = tmp_path / "cal.json"
    result = CliRunner().invoke(
        cli,
        [
            "calibrate",
            "--pairs",
            str(lfw / "pairs_dev_train.csv"),
            "--check",
            str(lfw / "pairs_dev_test.csv"),
            "--limit",
            "40",
            "--metric",
            "cosine",
            "--objective",
            "accuracy",
            "--bootstrap",
            "50",
            "--workers",
            "1",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    entry = json.loads(out.read_text())["thresholds"]["sface"]["cosine"]
    assert entry["pairs"] == {"same": 20, "different": 20, "no_face": 0}
    assert entry["check"]["pairs"] == {"same": 20, "different": 20}
    assert 0.3 < entry["value"] < 0.9 and entry["ci95"][0] <= entry["value"] <= entry["ci95"][1]
    fp = FaceProof(calibration=out, attributes=())
    assert fp.default_threshold.value == entry["value"]
