"""Per-group gender/age metrics on synthetic predictions, checked against hand-computed
values; label-file parsing; the ``evaluate-gender`` command end to end on a few images."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from faceproof import errors
from faceproof.cli.main import cli
from faceproof.evaluation.attributes import (
    LabelRow,
    Outcome,
    age_band,
    age_metrics,
    calibration_metrics,
    gender_metrics,
    parse_gender,
    read_labels,
    summarize,
)

W, M = "Woman", "Man"


def test_gender_metrics_hand_computed():
    true = [W, W, W, M, M, M, M, None]
    pred = [W, M, "Unknown", M, M, W, "no face", W]  # the unlabelled last row is skipped
    m = gender_metrics(true, pred)
    assert m.confusion[W] == {"Woman": 1, "Man": 1, "Unknown": 1, "no face": 0, "unreadable": 0}
    assert m.confusion[M] == {"Woman": 1, "Man": 2, "Unknown": 0, "no face": 1, "unreadable": 0}
    assert (m.n, m.no_face, m.abstained, m.answered, m.correct) == (7, 1, 1, 5, 3)
    assert m.accuracy == pytest.approx(3 / 5)
    assert m.coverage == pytest.approx(5 / 6)
    assert m.accuracy_all == pytest.approx(3 / 7)
    assert m.recall == {W: pytest.approx(1 / 2), M: pytest.approx(2 / 3)}


def test_gender_metrics_empty_and_invalid():
    m = gender_metrics([], [])
    assert (m.n, m.accuracy, m.coverage, m.recall) == (0, None, None, {W: None, M: None})
    with pytest.raises(errors.InvalidArgument):
        gender_metrics([W], [])
    with pytest.raises(errors.InvalidArgument):
        gender_metrics(["cat"], [W])


def test_age_metrics_hand_computed():
    m = age_metrics([20, 30, 40], [22, 27, 40], [(18, 25), (28, 29), (35, 45)])
    assert m.n == 3
    assert m.mae == pytest.approx(5 / 3)
    assert m.bias == pytest.approx(-1 / 3)
    assert m.median_ae == pytest.approx(2.0)
    assert m.in_range == pytest.approx(2 / 3)  # 30 is outside (28, 29)
    assert m.mean_range_width == pytest.approx(6.0)
    assert age_metrics([], []).mae is None


def test_calibration_metrics_hand_computed():
    # predicted Woman, Man, Man, Man with confidences .95 .75 .65 .55; the third is wrong
    c = calibration_metrics([True, False, True, False], [0.95, 0.25, 0.35, 0.45], bins=5)
    assert c.ece == pytest.approx((0.05 + 0.25 + 0.65 + 0.45) / 4)
    assert c.brier == pytest.approx((0.0025 + 0.0625 + 0.4225 + 0.2025) / 4)
    assert c.log_loss == pytest.approx(-(math.log(0.95) + math.log(0.75) + math.log(0.35) + math.log(0.55)) / 4)
    assert [(n, acc) for _, _, n, _, acc in c.table] == [(1, 1.0), (1, 0.0), (1, 1.0), (1, 1.0)]
    perfect = calibration_metrics([True, False], [1.0, 0.0])
    assert perfect.ece == pytest.approx(0.0) and perfect.brier == pytest.approx(0.0)


def test_age_bands_and_gender_words():
    assert [age_band(a) for a in (5, 17.9, 18, 29.9, 30, 59, 69.5, 70, 99)] == [
        "<18",
        "<18",
        "18-29",
        "18-29",
        "30-39",
        "50-59",
        "60-69",
        "70+",
        "70+",
    ]
    assert [parse_gender(v) for v in ("male", "F", " Woman ", "m", "", "unknown")] == [M, W, W, M, None, None]
    with pytest.raises(errors.InvalidArgument):
        parse_gender("robot")


def _outcome(path, gender, race, age, predicted, p_woman, est_age, status="ok"):
    groups = {"race": race, "gender": gender, "age band": age_band(age)}
    row = LabelRow(path, gender, age, groups)
    if status != "ok":
        return Outcome(row, status)
    return Outcome(row, "ok", 1, predicted, p_woman, est_age, (est_age - 5, est_age + 5))


def test_summarize_per_group_and_crossed():
    outcomes = [
        _outcome("a", W, "Asian", 25, W, 0.9, 27),
        _outcome("b", W, "Asian", 35, M, 0.2, 30),
        _outcome("c", M, "Asian", 45, M, 0.1, 52),
        _outcome("d", M, "Asian", 22, W, 0.7, 22),
        _outcome("e", M, "White", 61, M, 0.05, 58),
        _outcome("f", W, "White", 33, "Unknown", 0.55, 33),
        _outcome("g", W, "White", 40, None, None, None, status="no_face"),
    ]
    report = summarize(outcomes, ["race", "gender", "age band"])
    overall = report.overall.gender
    assert (overall.n, overall.correct, overall.answered, overall.abstained, overall.no_face) == (7, 3, 5, 1, 1)
    by = {(g.column, g.value): g for g in report.groups}
    asian = by[("race", "Asian")].gender
    assert (asian.n, asian.correct, asian.accuracy) == (4, 2, 0.5)
    assert asian.recall == {W: 0.5, M: 0.5}
    assert by[("race x gender", "Asian / Man")].gender.confusion[M][W] == 1
    assert by[("race x gender", "White / Woman")].gender.abstained == 1
    # age: no-face rows have no estimate; MAE over the 6 faces = (2+5+7+0+3+0)/6
    assert report.overall.age.n == 6 and report.overall.age.mae == pytest.approx(17 / 6)
    assert by[("age band", "18-29")].age.mae == pytest.approx(1.0)  # |27-25|, |22-22|
    assert [g.value for g in report.groups if g.column == "age band"] == ["18-29", "30-39", "40-49", "60-69"]
    md = report.to_markdown()
    assert "| race: Asian | 4 | 0 | 0 | 50.0 % | 50.0 % | 50.0 % | 1 | 1 |" in md
    assert json.loads(json.dumps(report.to_dict()))["overall"]["gender"]["correct"] == 3


def test_read_labels(tmp_path):
    f = tmp_path / "labels.csv"
    ids = "\n".join(f"x{i}.jpg,{20 + i},{'male' if i % 2 else 'female'},R{i % 3},id{i}" for i in range(40))
    f.write_text("path,age,gender,race,person\n" + ids + "\n", encoding="utf-8")
    rows, columns = read_labels(f)
    assert columns == ["race", "gender", "age band"]  # 'person' has 40 values: not a grouping
    assert rows[1] == LabelRow("x1.jpg", M, 21.0, {"race": "R1", "gender": M, "age band": "18-29"})
    rows, columns = read_labels(f, group_columns=["person"])
    assert columns == ["person", "gender", "age band"]
    bad = {
        "nopath.csv": "file,gender\na.jpg,male\n",
        "nolabel.csv": "path,race\na.jpg,Asian\n",
        "badgender.csv": "path,gender\na.jpg,robot\n",
        "badage.csv": "path,age\na.jpg,old\n",
    }
    for name, text in bad.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        with pytest.raises(errors.InvalidArgument):
            read_labels(tmp_path / name)
    with pytest.raises(errors.InvalidArgument):
        read_labels(tmp_path / "missing.csv")
    with pytest.raises(errors.InvalidArgument):
        read_labels(f, group_columns=["nope"])


def test_evaluate_gender_command_on_real_images(photos, tmp_path):
    """The real model on a few licensed photos, a face-less cat, an unreadable file."""
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "path,gender,age,group\n"
        f"{photos / 'kerns_dummy/rania_world_economic_forum.jpg'},female,40,a\n"
        f"{photos / 'pytopenface/obama1.jpg'},male,47,a\n"
        f"{photos / 'us_presidents/President_43.png'},male,60,b\n"
        f"{photos / 'skimage/chelsea.png'},female,,b\n"
        "broken.jpg,male,30,b\n",
        encoding="utf-8",
    )
    md = tmp_path / "out.md"
    preds = tmp_path / "pred.csv"
    args = ["evaluate-gender", "--labels", str(labels), "--json", "--quiet", "--markdown", str(md)]
    result = CliRunner().invoke(cli, [*args, "--predictions", str(preds)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    g = doc["overall"]["gender"]
    assert (g["n"], g["no_face"], g["unreadable"], g["answered"]) == (5, 1, 1, 3)
    assert g["correct"] == 3  # Rania, Obama and Bush are each given their gender
    assert {(x["column"], x["value"]) for x in doc["groups"]} >= {("group", "a"), ("group", "b"), ("age band", "60-69")}
    assert doc["overall"]["age"]["n"] == 3 and doc["overall"]["age"]["mae"] < 15
    assert "| all | 5 | 2 | 0 | 100.0 % |" in md.read_text()
    assert preds.read_text().count("\n") == 6


@pytest.mark.parametrize(
    "args",
    [
        ["evaluate-gender", "--labels", "/nonexistent/labels.csv"],
        ["evaluate-gender", "--labels", "{labels}", "--root", "/nonexistent"],
        ["evaluate-gender", "--labels", "{labels}", "--min-gender-confidence", "1.5"],
        ["evaluate-gender", "--labels", "{labels}", "--limit", "0"],
    ],
)
def test_evaluate_gender_bad_input_exits_2(tmp_path, args):
    labels = tmp_path / "labels.csv"
    labels.write_text("path,gender\na.jpg,male\n", encoding="utf-8")
    result = CliRunner().invoke(cli, [a.format(labels=labels) for a in args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
