"""LFW View 1 dev-test with the default configuration, measured by :mod:`faceproof.evaluation`
(the code behind ``faceproof evaluate``): our own detection on the unaligned 150x150 images,
the face nearest the image centre is the subject (LFW's convention), pairs without a face
count as rejections.

Measured with the default configuration (YuNet, SFace with flip TTA, cosine, the built-in
threshold calibrated on dev-train; see docs/accuracy.md):

* accuracy at the default threshold 99.30 % (992/999: 7 same-person pairs rejected, no false accept),
  and so of the default decision (pose-aware thresholds and the cascade: the same verdicts);
* 10-fold accuracy 99.30 % ± 0.78 %;
* TAR at FAR 1e-3 98.60 % (on 499 different-person pairs, i.e. no false accept at all).

Each floor is the measurement minus about two binomial standard errors, rounded down:
sqrt(0.007 * 0.993 / 999) = 0.26 % for accuracy, sqrt(0.014 * 0.986 / 500) = 0.53 % for
the TAR. A real regression fails; a platform's float differences do not (the pipeline is
deterministic).
"""

from __future__ import annotations

import pytest

from faceproof.evaluation import ClientConfig, evaluate, load_pairs

ACCURACY_FLOOR = 0.987
KFOLD_FLOOR = 0.987
TAR_AT_FAR_1E3_FLOOR = 0.975


@pytest.mark.slow
def test_lfw_dev_test_accuracy_of_the_default_configuration(fp, lfw):
    pairs = load_pairs(lfw / "pairs_dev_test.csv")
    assert len(pairs) == 999
    config = ClientConfig()
    assert config.resolved().flip == bool(getattr(fp.recognizer, "flip", False))
    report = evaluate(pairs, lfw, config, metrics=["cosine"], policies=["center"], workers=2)
    r = report.primary
    at = r["at_threshold"]
    assert at["threshold"] == fp.default_threshold.value
    print(
        f"\nLFW dev-test: accuracy {at['accuracy']:.4f} at the default threshold {at['threshold']}, "
        f"10-fold {r['kfold_accuracy']['mean']:.4f} ± {r['kfold_accuracy']['std']:.4f}, "
        f"TAR@FAR1e-3 {r['tar_at_far']['0.001']['tar']:.4f}, AUC {r['auc']:.4f}; "
        f"pairs with a face missing (scored as rejections): {report.pairs['no_face']}"
    )
    assert at["accuracy"] >= ACCURACY_FLOOR
    # the library's default decision (pose-aware thresholds, the cascade): on these mostly
    # frontal pairs it must not fall below the uniform threshold's, nor accept more impostors
    dd = r["default_decision"]
    assert dd["pose_aware"] and dd["cascade"]
    print(
        f"default decision: accuracy {dd['accuracy']:.4f}, TAR {dd['tpr']:.4f}, FAR {dd['far']:.4f}, "
        f"{dd['stage2_pairs']} pairs at the flip stage; per pose bin: "
        + ", ".join(f"{k} {e['default']['accuracy']:.4f} ({e['pairs']})" for k, e in dd["by_pose_bin"].items())
    )
    assert dd["accuracy"] >= max(ACCURACY_FLOOR, at["accuracy"]) and dd["far"] <= at["far"]
    for entry in dd["by_pose_bin"].values():
        assert entry["default"]["far"] <= entry["uniform"]["far"] or entry["different"] == 0
    assert r["kfold_accuracy"]["mean"] >= KFOLD_FLOOR
    assert r["tar_at_far"]["0.001"]["tar"] >= TAR_AT_FAR_1E3_FLOOR
