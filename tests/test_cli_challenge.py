"""faceproof challenge, and check-profile with --challenge / --store (a real SQLite store)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from faceproof.authenticity import verify_challenge
from faceproof.cli.main import cli

OBAMA = "pytopenface/obama1.jpg"
SECRET = b"c" * 40


def run(*args):
    return CliRunner().invoke(cli, list(map(str, args)))


def test_challenge_prints_a_token_the_secret_verifies(tmp_path):
    secret = tmp_path / "secret"
    secret.write_bytes(SECRET + b"\n")
    r = run("challenge", "--secret-file", secret, "--instruction", "tilt_left", "--ttl", 60)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["instruction"] == "tilt_left" and doc["expires_at"] - doc["issued_at"] == 60
    assert verify_challenge(doc["token"], SECRET).instruction.value == "tilt_left"
    short = tmp_path / "short"
    short.write_bytes(b"too short")
    r = run("challenge", "--secret-file", short)
    assert r.exit_code == 2 and "at least 32 bytes" in r.output
    assert run("challenge", "--secret-file", tmp_path / "missing").exit_code == 2
    assert run("challenge", "--secret-file", secret, "--ttl", 0).exit_code == 2


def test_check_profile_redeems_once_and_remembers_the_selfie(tmp_path, photos):
    secret = tmp_path / "secret"
    secret.write_bytes(SECRET)
    store = f"sqlite:///{tmp_path / 'state.db'}"
    token = json.loads(run("challenge", "--secret-file", secret, "--instruction", "look_straight").output)["token"]
    args = ["check-profile", photos / OBAMA, photos / "pytopenface/obama2.jpg", "--store", store, "--member-id", "m1"]
    r = run(*args, "--challenge", token, "--challenge-secret-file", secret)
    assert r.exit_code == 0, r.output
    assert "challenge: passed (look_straight)" in r.output and "copy check: closest photo 0" in r.output
    r = run(*args, "--challenge", token, "--challenge-secret-file", secret, "--json")
    assert r.exit_code == 1, r.output
    doc = json.loads(r.output)
    # the token was spent, and the selfie was remembered by the first, accepted check
    assert doc["reasons"][:2] == ["challenge_reused", "selfie_replayed"]
    assert doc["authenticity"]["challenge"]["error"]["code"] == "challenge_reused"
    assert doc["authenticity"]["replay"]["match"]["member_id"] == "m1"
    r = run(*args[:3], "--challenge", token)
    assert r.exit_code == 2 and "--challenge-secret-file" in r.output
