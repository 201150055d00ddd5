"""Reviewer credentials (scrypt entries, checked at start-up) and the ``faceproof review``
commands (hash-password, summary, export, purge) on a real store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from faceproof.cli.main import cli
from faceproof.errors import InvalidArgument
from faceproof.server import ServiceSettings, create_app
from faceproof.server.review.auth import Reviewers, hash_password


def test_passwords_are_stored_as_salted_scrypt_and_checked() -> None:
    a, b = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert a != b and a.startswith("scrypt$16384$8$1$") and "correct" not in a
    reviewers = Reviewers([f"Alice:{a}"])
    assert reviewers.check("alice", "correct horse battery") == "Alice"  # names are case-insensitive
    assert reviewers.check("Alice", "correct horse batterY") is None
    assert reviewers.check("bob", "correct horse battery") is None
    assert reviewers.check("Alice", "x" * 5000) is None
    with pytest.raises(InvalidArgument):
        hash_password("short")


@pytest.mark.parametrize(
    "entry",
    ["alice", "alice:", "alice:plaintext-password", "al ice:scrypt$16384$8$1$AAAA$BBBB", "alice:scrypt$1024$8$1$x$y"],
)
def test_a_bad_reviewer_entry_stops_the_server_at_start_up(entry: str) -> None:
    with pytest.raises(InvalidArgument):
        create_app(ServiceSettings(threads=1, review_users=(entry,)))


def test_review_settings_from_the_environment_and_kept_secret() -> None:
    entry = f"alice:{hash_password('correct horse battery')}"
    env = {"FACEPROOF_REVIEW_USERS": entry, "FACEPROOF_REVIEW_WINDOW_HOURS": "24", "FACEPROOF_REVIEW_EXPORT": "true"}
    s = ServiceSettings.from_env(env)
    assert s.review_users == (entry,) and s.review_window_hours == 24.0 and s.review_export is True
    assert s.review_cookie_secure is True
    public = json.dumps(s.public())
    assert "scrypt" not in public and "review_users" not in public and s.public()["review"] is True
    assert "scrypt" not in repr(s)
    with pytest.raises(InvalidArgument):
        ServiceSettings.from_env({"FACEPROOF_REVIEW_WINDOW_HOURS": "0"})
    with pytest.raises(InvalidArgument):
        ServiceSettings.from_env({"FACEPROOF_REVIEW_EXPORT": "yes"})


def test_hash_password_command_prints_an_entry_the_server_accepts() -> None:
    out = CliRunner().invoke(
        cli, ["review", "hash-password"], input="carol\nanother long secret\nanother long secret\n"
    )
    assert out.exit_code == 0, out.output
    entry = out.output.strip().splitlines()[-1]
    assert entry.startswith("carol:scrypt$")
    assert Reviewers([entry]).check("carol", "another long secret") == "carol"


def test_review_commands_on_a_store(store_url: str, review_check: dict, tmp_path: Path) -> None:
    from faceproof.review import ReviewStore, prepare_images

    cases = ReviewStore.open(store_url)
    try:
        images = prepare_images(review_check["selfie"], review_check["photos"])
        case = cases.create(review_check["result"], images, member_id="m-1", window_s=3600)
        cases.decide(case.id, reviewer="alice", decision="approved", labels={0: True, 1: False}, keep_pairs=True)
    finally:
        cases.close()
    runner = CliRunner()
    summary = runner.invoke(cli, ["review", "summary", "--store", store_url])
    assert summary.exit_code == 0, summary.output
    assert json.loads(summary.output)["decisions"]["approved"] == 1
    export = runner.invoke(cli, ["review", "export", str(tmp_path / "out"), "--store", store_url])
    assert export.exit_code == 0, export.output
    assert json.loads(export.output)["pairs"] == 2
    assert (tmp_path / "out" / "pairs.csv").read_text().splitlines()[0] == "path1,path2,same,case_id,photo_index"
    purge = runner.invoke(cli, ["review", "purge", "--store", store_url])
    assert purge.exit_code == 0 and json.loads(purge.output)["expired"] == 0
    bad = runner.invoke(cli, ["review", "purge", "--store", f"sqlite:///{tmp_path}/nope/x.db"])
    assert bad.exit_code == 2 and "storage_unavailable" in bad.output
