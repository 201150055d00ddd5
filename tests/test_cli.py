"""The faceproof command line: exit codes 0/1/2, JSON output, crops written."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from faceproof.cli.main import cli


def run(*args):
    return CliRunner().invoke(cli, list(map(str, args)))


def test_verify_exit_codes(photos):
    same = run("verify", photos / "pytopenface/obama1.jpg", photos / "pytopenface/obama2.jpg")
    assert same.exit_code == 0, same.output
    assert "result_code 2" in same.output
    different = run("verify", photos / "pytopenface/obama1.jpg", photos / "pytopenface/chirac1.jpg")
    assert different.exit_code == 1
    no_face = run("verify", photos / "pytopenface/obama1.jpg", photos / "skimage/chelsea.png")
    assert no_face.exit_code == 2 and "result_code -1" in no_face.output
    missing = run("verify", photos / "nope.jpg", photos / "pytopenface/obama1.jpg")
    assert missing.exit_code == 2


@pytest.mark.parametrize(
    "args",
    [
        ["verify", "a.jpg"],  # missing argument
        ["verify", "a.jpg", "b.jpg", "--metric", "manhattan"],
        ["verify", "a.jpg", "b.jpg", "--model", "vggface"],
        ["verify", "a.jpg", "b.jpg", "--threshold", "-1"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2_without_traceback(args):
    result = run(*args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_verify_json_report(photos):
    result = run(
        "verify",
        photos / "pytopenface/obama1.jpg",
        photos / "kerns_dummy/obama_fatherhood_townhall.jpg",
        "--json",
        "--lang",
        "ko",
    )
    doc = json.loads(result.output)
    assert doc["result_code"] == 2 and doc["result_message"] == "동일인이 존재합니다."
    assert len(doc["result_list"]) == 1 and len(doc["result_list"][0]) == 2
    assert doc["threshold_source"] and doc["model"] == "sface"


def test_distinguish_and_faces(photos, tmp_path):
    result = run("distinguish", photos / "kerns_dummy/rania_world_economic_forum.jpg", "--json")
    assert result.exit_code == 0
    assert json.loads(result.output)["result_list"][0]["dominant_gender"] == "Woman"
    out = tmp_path / "crops"
    result = run("faces", photos / "kerns_dummy/lee_rasmussen_korea.net.jpg", "--out", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["face_00.png", "face_01.png", "faces.json"]
    assert len(json.loads((out / "faces.json").read_text())) == 2


def test_faces_out_that_cannot_be_a_directory_is_an_input_error(photos, tmp_path):
    a_file = tmp_path / "taken"
    a_file.write_text("not a directory")
    result = run("faces", photos / "pytopenface/obama1.jpg", "--out", a_file / "sub")
    assert result.exit_code == 2, result.output
    assert "cannot create the directory" in result.output and "[invalid_argument]" in result.output
    assert "Traceback" not in result.output and a_file.read_text() == "not a directory"


def test_models_lists_backends_and_licences():
    doc = json.loads(run("models").output)
    names = {(b["kind"], b["name"]) for b in doc["backends"]}
    assert {("detector", "yunet"), ("recognizer", "sface"), ("recognizer", "dlib")} <= names
    assert all(m["license"] and len(m["sha256"]) == 64 for m in doc["model_files"].values())


def test_console_script_runs_as_a_process(photos):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "faceproof.cli",
            "verify",
            str(photos / "pytopenface/chirac1.jpg"),
            str(photos / "pytopenface/chirac2.jpg"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no OpenCV/ONNX Runtime noise
