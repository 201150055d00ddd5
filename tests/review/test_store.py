"""The review case store on SQLite and on a real PostgreSQL: cases, the queue, one
decision per case (also under a race), audit rows, the review window and the purge job,
oversized notes, unknown ids, sessions, the summary and the export of labelled pairs."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from faceproof.errors import InvalidArgument
from faceproof.review import (
    MAX_NOTE_CHARS,
    CaseAlreadyDecided,
    CaseExpired,
    CaseNotFound,
    NoteTooLong,
    ReviewStore,
    export_pairs,
    prepare_images,
)
from faceproof.storage import StorageUnavailable, open_store

pytestmark = pytest.mark.testdata
HOUR = 3600.0


def _open(cases: ReviewStore, check: dict, member: str = "m-1", *, window: float = 72 * HOUR, now: float | None = None):
    images = prepare_images(check["selfie"], check["photos"])
    return cases.create(check["result"], images, member_id=member, window_s=window, now=now)


@pytest.fixture
def cases(store_url: str):
    store = ReviewStore.open(store_url)
    yield store
    store.close()


def test_case_is_stored_with_its_images_and_listed_newest_first(cases: ReviewStore, review_check: dict) -> None:
    t = time.time()
    first = _open(cases, review_check, "older", now=t - 10)
    second = _open(cases, review_check, "newer", now=t)
    assert [c.member_id for c in cases.queue()] == ["newer", "older"]
    case = cases.get(second.id)
    assert case.open and case.result is not None and case.result["verdict"] == "needs_review"
    assert "consistent_other_person" in case.reasons
    assert set(case.image_sizes) == {0, 1, 2, 3}  # the selfie and the three photos
    assert case.score_leaning == "same"  # obama2 matches the selfie
    image = cases.image(first.id, 0)
    assert image is not None
    with Image.open(io.BytesIO(image.data)) as im:
        assert im.format == "JPEG" and (im.width, im.height) == case.image_sizes[0]
        assert not im.getexif()  # metadata is not kept
    assert cases.image(first.id, 9) is None
    # filter by reason: whole codes only
    assert len(cases.queue(reason="consistent_other_person")) == 2
    assert cases.queue(reason="score_in_uncertainty_band") == []
    assert cases.queue_reasons()["consistent_other_person"] == 2
    with pytest.raises(InvalidArgument):
        cases.queue(reason="x' OR '1'='1")
    assert [a["action"] for a in cases.audit(second.id)] == ["opened"]


def test_unknown_case_ids(cases: ReviewStore) -> None:
    for bad in ("0" * 32, "../etc/passwd", "", "A" * 32):
        with pytest.raises(CaseNotFound) as exc:
            cases.get(bad)
        assert exc.value.code == "review_case_not_found"
    with pytest.raises(CaseNotFound):
        cases.image("f" * 32, 0)
    with pytest.raises(CaseNotFound):
        cases.decide("f" * 32, reviewer="alice", decision="approved")


def test_a_decision_is_recorded_once_with_its_audit_row(cases: ReviewStore, review_check: dict) -> None:
    case = _open(cases, review_check)
    decided = cases.decide(
        case.id, reviewer="alice", decision="rejected", note="two people", labels={0: True, 1: False}
    )
    assert decided.status == "rejected" and decided.decided_by == "alice" and decided.note == "two people"
    assert decided.result is None and decided.image_sizes == {}  # purged with the decision
    audit = cases.audit(case.id)
    assert [(a["actor"], a["action"], a["note"]) for a in audit] == [
        ("alice", "rejected", "two people"),
        ("system", "opened", None),
    ]
    with pytest.raises(CaseAlreadyDecided) as exc:
        cases.decide(case.id, reviewer="bob", decision="approved")
    assert exc.value.code == "review_case_decided"
    assert exc.value.detail["decided_by"] == "alice" and exc.value.detail["decision"] == "rejected"
    assert len(cases.audit(case.id)) == 2  # bob's attempt left no row
    assert cases.get(case.id).decided_by == "alice"
    assert cases.queue() == []
    with pytest.raises(InvalidArgument):
        cases.decide(_open(cases, review_check).id, reviewer="alice", decision="ban")
    with pytest.raises(InvalidArgument):  # photo 9 does not exist
        cases.decide(_open(cases, review_check).id, reviewer="alice", decision="approved", labels={9: True})


def test_two_reviewers_racing_get_one_decision(store_url: str, review_check: dict) -> None:
    stores = [ReviewStore.open(store_url) for _ in range(2)]  # two connections, as two replicas
    try:
        case = _open(stores[0], review_check)
        barrier = threading.Barrier(2)
        outcome: dict[str, object] = {}

        def decide(i: int, who: str, what: str) -> None:
            barrier.wait()
            try:
                stores[i].decide(case.id, reviewer=who, decision=what)
                outcome[who] = "won"
            except CaseAlreadyDecided as exc:
                outcome[who] = exc

        threads = [
            threading.Thread(target=decide, args=(0, "alice", "approved")),
            threading.Thread(target=decide, args=(1, "bob", "rejected")),
        ]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        winners = [who for who, o in outcome.items() if o == "won"]
        assert len(winners) == 1, outcome
        final = stores[0].get(case.id)
        assert final.decided_by == winners[0]
        assert [a["action"] for a in stores[0].audit(case.id)].count(final.status) == 1
        assert len(stores[0].audit(case.id)) == 2
    finally:
        for s in stores:
            s.close()


def test_oversized_note_is_refused_and_the_case_stays_open(cases: ReviewStore, review_check: dict) -> None:
    case = _open(cases, review_check)
    with pytest.raises(NoteTooLong) as exc:
        cases.decide(case.id, reviewer="alice", decision="approved", note="x" * (MAX_NOTE_CHARS + 1))
    assert exc.value.code == "review_note_too_long"
    assert cases.get(case.id).open and len(cases.audit(case.id)) == 1
    done = cases.decide(case.id, reviewer="alice", decision="approved", note="y" * MAX_NOTE_CHARS)
    assert done.note is not None and len(done.note) == MAX_NOTE_CHARS


def test_the_purge_job_expires_cases_past_their_window(cases: ReviewStore, review_check: dict) -> None:
    t = time.time()
    case = _open(cases, review_check, window=10.0, now=t)
    keep = _open(cases, review_check, "later", window=72 * HOUR, now=t)
    assert cases.purge(now=t + 5).expired == 0
    assert cases.get(case.id).image_sizes
    report = cases.purge(now=t + 11)
    assert report.expired == 1 and report.images == 4
    gone = cases.get(case.id)
    assert gone.status == "expired" and gone.result is None and gone.image_sizes == {}
    assert (cases.audit(case.id)[0]["actor"], cases.audit(case.id)[0]["action"]) == ("system", "expired")
    assert cases.image(case.id, 0) is None
    with pytest.raises(CaseExpired):
        cases.decide(case.id, reviewer="alice", decision="approved")
    assert [c.id for c in cases.queue(now=t + 11)] == [keep.id]
    assert cases.purge(now=t + 12).expired == 0  # idempotent
    # raw check: no image row of the expired case is left in the database
    left = cases.store.run(lambda tx: tx.scalar("SELECT count(*) FROM fp_review_images WHERE case_id = ?", (case.id,)))
    assert left == 0


def test_a_case_past_its_window_cannot_be_decided_before_the_purge(cases: ReviewStore, review_check: dict) -> None:
    t = time.time()
    case = _open(cases, review_check, window=10.0, now=t - 20)
    assert cases.queue(now=t) == []
    assert cases.image(case.id, 0) is None  # not served past the window, even before the purge
    with pytest.raises(CaseExpired):
        cases.decide(case.id, reviewer="alice", decision="approved", now=t)


def test_summary_counts_decisions_and_overrules(cases: ReviewStore, review_check: dict) -> None:
    a, b, c = (_open(cases, review_check, f"m{i}") for i in range(3))
    _open(cases, review_check, "still-open")
    cases.decide(a.id, reviewer="alice", decision="approved", labels={0: True})  # agrees: obama2 matched
    cases.decide(b.id, reviewer="bob", decision="rejected")  # overrules the score
    cases.decide(c.id, reviewer="bob", decision="new_selfie")  # neither
    s = cases.summary()
    assert s["cases"] == 4 and s["open"] == 1 and s["decided"] == 3
    assert s["decisions"] == {"approved": 1, "rejected": 1, "new_selfie": 1}
    assert s["reviewers"] == {"alice": 1, "bob": 2}
    assert (s["score_agreed"], s["score_overruled"], s["overrule_rate"]) == (1, 1, 0.5)
    assert s["labels"] == {"same": 1, "different": 0}


def test_export_writes_pairs_that_evaluate_reads(cases: ReviewStore, review_check: dict, tmp_path: Path, fp) -> None:
    from faceproof.evaluation.pairs import load_pairs

    case = _open(cases, review_check)
    cases.decide(case.id, reviewer="alice", decision="approved", labels={0: True, 1: False}, keep_pairs=True)
    plain = _open(cases, review_check)
    cases.decide(plain.id, reviewer="alice", decision="approved", labels={0: True})  # export off: no crops kept
    assert cases.summary()["pairs_awaiting_export"] == 2
    report = export_pairs(cases, tmp_path / "out")
    assert (report.pairs, report.same, report.different) == (2, 1, 1)
    pairs = load_pairs(tmp_path / "out" / "pairs.csv")
    assert [p.same for p in pairs.pairs] == [True, False]
    # each crop holds the compared face in its middle, and the labels agree with the model
    p_same, p_diff = pairs.pairs
    same = fp.verify(str(tmp_path / "out" / p_same.path1), str(tmp_path / "out" / p_same.path2))
    diff = fp.verify(str(tmp_path / "out" / p_diff.path1), str(tmp_path / "out" / p_diff.path2))
    assert same.verdict is True and diff.verdict is False
    # the crops left the database; a second export adds nothing
    assert cases.pairs() == []
    assert export_pairs(cases, tmp_path / "out").pairs == 0
    assert len(load_pairs(tmp_path / "out" / "pairs.csv")) == 2


def test_unexported_crops_are_purged_with_the_window(cases: ReviewStore, review_check: dict) -> None:
    t = time.time()
    case = _open(cases, review_check, now=t)
    cases.decide(
        case.id, reviewer="alice", decision="approved", labels={0: True}, keep_pairs=True, pair_window_s=60, now=t
    )
    assert cases.purge(now=t + 61).pairs == 1
    assert cases.pairs(now=t + 61) == []


def test_sessions_and_sign_in_failures(cases: ReviewStore) -> None:
    t = time.time()
    token, session = cases.sessions.open("alice", ttl_s=60, now=t)
    assert cases.sessions.get(token, now=t + 1) == session
    assert cases.sessions.get(token, now=t + 61) is None
    assert cases.sessions.get("forged", now=t) is None and cases.sessions.get(None) is None
    stored = cases.store.run(lambda tx: tx.query("SELECT token_hash FROM fp_review_sessions"))
    assert token not in {r[0] for r in stored}  # only the hash is kept
    cases.sessions.end(token)
    assert cases.sessions.get(token, now=t + 1) is None
    assert cases.sessions.login_failures("Mallory") == 0
    for _ in range(3):
        cases.sessions.count_login_failure("mallory")
    assert cases.sessions.login_failures("MALLORY") == 3


def test_member_ids_are_checked(cases: ReviewStore, review_check: dict) -> None:
    for bad in ("", "  ", "x" * 129, "a\nb", "a\x00b"):
        with pytest.raises(InvalidArgument):
            _open(cases, review_check, bad)


def test_an_unavailable_database_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(StorageUnavailable) as exc:
        ReviewStore.open(f"sqlite:///{tmp_path}/missing/folder/review.db")
    assert exc.value.code == "storage_unavailable"
    pytest.importorskip("psycopg")
    with pytest.raises(StorageUnavailable):
        ReviewStore(open_store("postgresql://nobody@127.0.0.1:9/none", connect_timeout=1))
