"""faceproof check-profile: exit codes 0/1/2/4, text and JSON output."""

from __future__ import annotations

import json

from click.testing import CliRunner

from faceproof.cli.main import cli
from faceproof.cli.profile import EXIT_REVIEW

OBAMA = "pytopenface/obama1.jpg"


def run(*args):
    return CliRunner().invoke(cli, list(map(str, args)))


def test_verified_profile_exits_0_and_prints_each_photo(photos):
    r = run(
        "check-profile",
        photos / OBAMA,
        photos / "pytopenface/obama2.jpg",
        photos / "kerns_dummy/obama_fatherhood_townhall.jpg",
        photos / "skimage/chelsea.png",
    )
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0] == "verified: person_present"
    assert "photo 1" in r.output and "all faces:" in r.output and "photo 2" in r.output and "no_face" in r.output


def test_other_person_exits_1_and_json_names_the_sources(photos):
    chirac = [photos / "pytopenface/chirac1.jpg", photos / "pytopenface/chirac2.jpg"]
    r = run("check-profile", photos / OBAMA, *chirac, "--json")
    assert r.exit_code == 1, r.output
    doc = json.loads(r.output)
    assert doc["verdict"] == "not_verified" and "consistent_other_person" in doc["reasons"]
    assert [p["source"] for p in doc["photos"]] == [str(p) for p in chirac]
    assert doc["summary"]["other_person_photos"] == [0, 1]


def test_unusable_selfie_exits_2(photos):
    r = run("check-profile", photos / "skimage/chelsea.png", photos / OBAMA)
    assert r.exit_code == 2 and r.output.startswith("not_verified: selfie_no_face")
    missing = run("check-profile", photos / "missing.jpg", photos / OBAMA)
    assert missing.exit_code == 2 and "selfie: unreadable" in missing.output


def test_needs_review_exits_4(photos, tmp_path):
    # a band as wide as the threshold itself: every match is "uncertain"
    policy = tmp_path / "wide.json"
    policy.write_text(json.dumps({"profile": {"band_width": 1.0}}))
    r = run("check-profile", photos / OBAMA, photos / "pytopenface/obama2.jpg", "--policy", policy)
    assert r.exit_code == EXIT_REVIEW == 4, r.output
    assert r.output.startswith("needs_review: score_in_uncertainty_band")


def test_usage_errors_exit_2_without_traceback(photos, tmp_path):
    assert run("check-profile", photos / OBAMA).exit_code == 2  # no profile photo
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    r = run("check-profile", photos / OBAMA, photos / OBAMA, "--policy", bad)
    assert r.exit_code == 2 and "Traceback" not in r.output
    r = run("check-profile", photos / OBAMA, photos / OBAMA, "--threshold", "-1")
    assert r.exit_code == 2 and "Traceback" not in r.output
