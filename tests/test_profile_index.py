"""check_profile with the member face index: the selfie's face found on other accounts
(a banned one above all) sends the check to review with the candidates; enrolment on
``verified`` only. Logic on fakes over a real SQLite index; one test with the real model
on real photos."""

from __future__ import annotations

import pytest
from fakes import face_at, fake_pipeline, image, unit

from faceproof import FaceProof, InvalidArgument, Policy, Reason, Verdict
from faceproof.decision.profile import account_reasons, check_profile
from faceproof.decision.quality import QualityThresholds
from faceproof.index import MemberIndex, ModelId

ME, OTHER = unit(1.0), unit(0.0, 1.0)
SELFIE, PHOTO_ME, PHOTO_OTHER = 1, 2, 3
FAKE_MODEL = ModelId("fake", "0" * 64)


def _policy() -> Policy:
    q = QualityThresholds.default().to_dict()
    for k in ("min_inter_eye_px", "good_inter_eye_px", "min_sharpness", "good_sharpness"):
        q[k] = 0.0
    for k in ("min_brightness", "good_brightness", "min_detector_score", "good_detector_score"):
        q[k] = 0.0
    return Policy.default().replace(quality=QualityThresholds.from_dict(q), confirm="none")


def _pipeline():
    faces = {SELFIE: [face_at(50, 50, 80)], PHOTO_ME: [face_at(40, 40, 80)], PHOTO_OTHER: [face_at(60, 60, 80)]}
    return fake_pipeline(faces, {(50, 50): ME, (40, 40): unit(1.0, 0.1), (60, 60): OTHER})


@pytest.fixture
def index(tmp_path):
    with MemberIndex(f"sqlite:///{tmp_path / 'members.db'}", model=FAKE_MODEL) as idx:
        yield idx


def _check(index, **kw):
    return check_profile(
        _pipeline(), image(SELFIE), [image(PHOTO_ME)], policy=_policy(), index=index, index_threshold=0.5, **kw
    )


def test_an_empty_index_changes_nothing(index):
    r = _check(index, member_id="m-1")
    assert r.verdict is Verdict.VERIFIED and r.index is not None and r.index.candidates == ()


def test_the_face_on_another_account_sends_a_verified_check_to_review(index):
    index.enroll("m-other", ME[None, :], ["selfie"])
    r = _check(index, member_id="m-1")
    assert r.verdict is Verdict.NEEDS_REVIEW
    assert r.reasons == (Reason.PERSON_PRESENT, Reason.FACE_ON_OTHER_ACCOUNT)
    (c,) = r.index.candidates
    assert (c.member_id, c.status) == ("m-other", "active") and c.similarity == pytest.approx(1.0, abs=1e-5)
    assert r.to_dict()["index"]["candidates"][0]["member_id"] == "m-other"


def test_a_banned_account_is_named_as_such(index):
    index.enroll("m-banned", ME[None, :], ["selfie"], status="banned")
    index.enroll("m-other", unit(1.0, 0.05)[None, :], ["p1"])
    r = _check(index, member_id="m-1")
    assert r.verdict is Verdict.NEEDS_REVIEW
    assert r.reasons == (Reason.PERSON_PRESENT, Reason.FACE_ON_BANNED_ACCOUNT, Reason.FACE_ON_OTHER_ACCOUNT)


def test_the_members_own_account_is_not_a_finding(index):
    index.enroll("m-1", ME[None, :], ["old-selfie"])
    r = _check(index, member_id="m-1")
    assert r.verdict is Verdict.VERIFIED and r.index.candidates == ()


def test_a_dissimilar_face_is_below_the_open_set_threshold(index):
    index.enroll("m-other", OTHER[None, :], ["selfie"])
    r = _check(index, member_id="m-1")
    assert r.verdict is Verdict.VERIFIED and r.index.candidates == ()


def test_enrolment_happens_on_verified_only(index):
    r = _check(index, member_id="m-1", enroll=True)
    assert r.verdict is Verdict.VERIFIED and r.enrolled == 1
    assert index.stats().templates == 1
    # the same face again from another account: review, and no enrolment
    r2 = _check(index, member_id="m-2", enroll=True)
    assert r2.verdict is Verdict.NEEDS_REVIEW and r2.enrolled == 0 and index.stats().templates == 1


def test_enrolment_needs_an_index_and_a_member():
    with pytest.raises(InvalidArgument, match="enroll"):
        check_profile(_pipeline(), image(SELFIE), [image(PHOTO_ME)], policy=_policy(), enroll=True)


def test_account_reasons_without_a_search_are_none():
    assert account_reasons(None) == ()


@pytest.mark.testdata
def test_a_member_coming_back_under_another_account_is_found_with_the_real_model(photos, tmp_path):
    fp = FaceProof(attributes=())
    with MemberIndex(f"sqlite:///{tmp_path / 'members.db'}") as index:
        first = fp.check_profile(
            photos / "pytopenface/obama1.jpg",
            [photos / "pytopenface/obama2.jpg"],
            index=index,
            member_id="acct-1",
            enroll=True,
        )
        assert first.verdict is Verdict.VERIFIED and first.enrolled == 1
        index.set_status("acct-1", "banned")
        again = fp.check_profile(
            photos / "pytopenface/obama2.jpg", [photos / "pytopenface/obama1.jpg"], index=index, member_id="acct-2"
        )
        assert again.verdict is Verdict.NEEDS_REVIEW
        assert Reason.FACE_ON_BANNED_ACCOUNT in again.reasons
        assert again.index.candidates[0].member_id == "acct-1"
        # someone else is not a candidate
        other = fp.check_profile(
            photos / "pytopenface/chirac1.jpg", [photos / "pytopenface/chirac2.jpg"], index=index, member_id="acct-3"
        )
        assert other.verdict is Verdict.VERIFIED and other.index.candidates == ()
