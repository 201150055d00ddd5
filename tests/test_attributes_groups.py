"""Gender and age per group on a real slice of UTKFace; the abstain and disable options;
the gender/age model never touches the identity verdict."""

from __future__ import annotations

import pytest
from conftest import UTK

from faceproof import AnalyzeCode, FaceProof, errors
from faceproof.evaluation.attributes import evaluate_rows, read_labels, summarize
from faceproof.runtime.attributes import AgeGenderModel, calibrate_gender

pytestmark = pytest.mark.testdata  # reads the UTKFace sample by path

# The slice: every 4th row of utkface_dev/labels.csv (500 images, 50 per gender x race).
# Measured on it with the defaults (this test, -s prints it): gender 96.7 % of the answered
# faces (471/487), 13 abstained (2.6 %), races 95.0 (Black) .. 99.0 % (White), age MAE 5.75.
# Floors = measurement minus about two binomial standard errors, rounded down (overall
# sqrt(.033 * .967 / 487) = 0.8 points; one race, n ~ 97: 2.2 points; age MAE: the
# absolute errors' spread 5 / sqrt(500) = 0.22 years): a real regression fails, a
# platform's float differences do not (the pipeline is deterministic).
SLICE_STEP = 4
FLOOR_OVERALL = 0.950
FLOOR_PER_RACE = 0.900
FLOOR_COVERAGE = 0.93
CEILING_AGE_MAE = 6.25


@pytest.mark.slow
def test_utkface_slice_per_group(fp):
    rows, columns = read_labels(UTK / "labels.csv")
    rows = rows[::SLICE_STEP]
    assert len(rows) == 500
    report = summarize(evaluate_rows(fp, rows, UTK), columns)
    overall = report.overall.gender
    per_race = {g.value: g.gender for g in report.groups if g.column == "race"}
    print(
        f"\nUTKFace slice: gender {overall.accuracy:.4f} ({overall.correct}/{overall.answered}), "
        f"no face {overall.no_face}, unreadable {overall.unreadable}, abstained {overall.abstained}"
    )
    for race, m in per_race.items():
        print(f"  {race}: {m.accuracy:.4f} ({m.correct}/{m.answered})")
    print(f"  age MAE {report.overall.age.mae:.2f}")
    assert overall.answered + overall.abstained >= 495  # UTKFace crops: a face in every readable image
    assert overall.accuracy >= FLOOR_OVERALL
    assert overall.coverage >= FLOOR_COVERAGE
    assert set(per_race) == {"White", "Black", "Asian", "Indian", "Others"}
    for m in per_race.values():
        assert m.accuracy >= FLOOR_PER_RACE
    assert report.overall.age.mae <= CEILING_AGE_MAE


def test_abstain_keeps_the_seed_dict_and_codes(photos):
    image = photos / "kerns_dummy/rania_world_economic_forum.jpg"
    strict = FaceProof(min_gender_confidence=1.0)  # nothing is ever that sure: always abstains
    result = strict.distinguish(image)
    assert result.code == AnalyzeCode.SUCCESS
    d = result.to_dict()
    assert list(d) == ["result_message", "result_code", "result_list"]
    (row,) = d["result_list"]
    assert set(row) == {"gender", "dominant_gender", "age"}
    assert row["dominant_gender"] == "Unknown"
    assert abs(row["gender"]["Woman"] + row["gender"]["Man"] - 100.0) < 0.05
    (face,) = result.to_report()["faces"]
    assert face["attributes"]["gender_abstained"] is True
    lenient = FaceProof(min_gender_confidence=0.5)  # never abstains
    assert lenient.distinguish(image).to_dict()["result_list"][0]["dominant_gender"] == "Woman"
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(errors.InvalidArgument):
            FaceProof(min_gender_confidence=bad)


def test_abstain_threshold_is_applied_to_the_calibrated_confidence(photos):
    model = AgeGenderModel(age=False, min_gender_confidence=0.9)
    fp = FaceProof(attributes=())
    image = fp.load_image(photos / "pytopenface/obama1.jpg")
    (face,) = fp.detect(image)
    (attrs,) = model.predict(image, [face])
    g, _ = model.chips(image, face)
    raw = model.gender_probabilities(g)[:, 1].mean()
    man = float(calibrate_gender(raw, model.temperature))
    assert attrs.gender["Man"] == pytest.approx(man)
    assert attrs.gender_abstained == (max(man, 1 - man) < 0.9)
    assert attrs.age is None and attrs.age_range is None


def test_calibration_function():
    assert calibrate_gender(0.5, 3.0) == pytest.approx(0.5)
    assert calibrate_gender(0.9, 1.0) == pytest.approx(0.9)
    assert 0.5 < calibrate_gender(0.9, 2.0) < 0.9  # a temperature above 1 softens
    assert calibrate_gender(0.1, 2.0) == pytest.approx(1 - calibrate_gender(0.9, 2.0))
    with pytest.raises(errors.InvalidArgument):
        AgeGenderModel(temperature=0.0)
    with pytest.raises(errors.InvalidArgument):
        AgeGenderModel(gender=False, age=False)
    with pytest.raises(errors.InvalidArgument):
        AgeGenderModel(paddings=())


def test_attributes_never_touch_the_verdict(photos):
    """Same verify result with and without the attribute model, which verify never loads."""
    a, b = photos / "pytopenface/obama1.jpg", photos / "kerns_dummy/obama_fatherhood_townhall.jpg"
    with_attrs = FaceProof()
    without = FaceProof(attributes=())
    r1, r2 = with_attrs.verify(a, b), without.verify(a, b)
    assert r1.code == r2.code and (r1.similarity == r2.similarity).all()
    assert with_attrs.attribute_model is not None and not with_attrs.attribute_model._manifest  # never loaded
    assert all(f.attributes is None for f in (*r1.origin_faces, *r1.target_faces))
