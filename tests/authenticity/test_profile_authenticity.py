"""The authenticity checks wired into check_profile, on the licensed test photos, with
the real detector and recogniser and a real store (SQLite file): each attack kind refused
with its reason, honest members verified as before."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceproof.authenticity import Authenticity, ReplayStore, StoreNonceLedger, new_challenge
from faceproof.authenticity.attacks import apply_attack, rotate_full
from faceproof.decision.results import Reason, Verdict
from faceproof.errors import InvalidArgument
from faceproof.storage import open_store

SECRET = b"k" * 32
OBAMA = "pytopenface/obama1.jpg"
PROFILE = ["pytopenface/obama2.jpg", "pytopenface/obama3.jpg", "kerns_dummy/obama_nasa_hq_photo.jpg"]


def _jpeg(image: np.ndarray, quality: int = 92) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@pytest.fixture()
def store(tmp_path: Path):
    with open_store(f"sqlite:///{tmp_path / 'auth.db'}") as s:
        yield s


@pytest.fixture(scope="module")
def profile(photos: Path) -> list[Path]:
    return [photos / p for p in PROFILE]


def test_honest_selfie_verified_with_every_check_on(fp, photos, profile, store) -> None:
    auth = Authenticity(replays=ReplayStore(store), nonces=StoreNonceLedger(store), challenge_secret=SECRET)
    r = fp.check_profile(photos / OBAMA, profile, authenticity=auth, member_id="m-obama")
    assert r.verdict is Verdict.VERIFIED, r.reasons
    a = r.authenticity
    assert a.copy is not None and not a.copy.copied
    # only the faces the model matched were compared: one per present photo
    assert len(a.copy.matches) == sum(p.status.value == "person_present" for p in r.photos) == 3
    assert a.copy.best is not None and a.copy.best.correlation < 0.8
    assert a.replay_checked and a.replay is None and a.remembered
    assert ReplayStore(store).count() == 1
    doc = r.to_dict()["authenticity"]
    assert doc["copy"]["copied"] is False and doc["replay"] == {"checked": True, "match": None}
    assert "copy_check" in r.timings_ms and "replay_check" in r.timings_ms


@pytest.mark.parametrize("attack", ["exact", "jpeg_q30", "crop", "mirror", "screenshot"])
def test_copy_of_a_profile_photo_is_refused(fp, photos, profile, attack: str) -> None:
    source = fp.load_image(profile[1])
    face = max(fp.detect(source), key=lambda f: f.bbox.area)
    copied = apply_attack(attack, source, seed=3, face=face.bbox)
    r = fp.check_profile(_jpeg(copied), profile)  # default: the copy check is on
    assert r.verdict is Verdict.NOT_VERIFIED
    assert r.reasons[0] is Reason.SELFIE_COPIED
    assert Reason.PERSON_PRESENT in r.reasons  # the face match alone would have verified it
    best = r.authenticity.copy.best  # type: ignore[union-attr]
    assert best is not None and best.photo_index == 1 and best.copied
    assert r.to_dict()["authenticity"]["copy"]["best"]["photo_index"] == 1
    # switched off, the same copy is verified: the check, not the face match, refused it
    off = fp.check_profile(_jpeg(copied), profile, authenticity=False)
    assert off.verdict is Verdict.VERIFIED and off.authenticity.copy is None


def test_same_selfie_twice_is_a_replay(fp, photos, profile, store, tmp_path) -> None:
    auth = Authenticity(replays=ReplayStore(store))
    selfie = (photos / OBAMA).read_bytes()
    first = fp.check_profile(selfie, profile, authenticity=auth, member_id="m1")
    assert first.verdict is Verdict.VERIFIED and first.authenticity.remembered
    # the same file, from another account, through another store handle (a second replica)
    replica = open_store(f"sqlite:///{tmp_path / 'auth.db'}")
    other = Authenticity(replays=ReplayStore(replica))
    second = fp.check_profile(selfie, profile, authenticity=other, member_id="m2")
    assert second.verdict is Verdict.NOT_VERIFIED and second.reasons[0] is Reason.SELFIE_REPLAYED
    m = second.authenticity.replay
    assert m is not None and m.member_id == "m1" and m.exact and not second.authenticity.remembered
    replica.close()
    # re-encoded (other bytes, other pixels): found by the code, not the SHA-256
    again = _jpeg(fp.load_image(selfie), quality=80)
    third = fp.check_profile(again, profile, authenticity=auth, member_id="m1")
    assert third.reasons[0] is Reason.SELFIE_REPLAYED
    assert third.authenticity.replay is not None and not third.authenticity.replay.exact
    # erasure by member: the selfie is new again
    assert ReplayStore(store).delete_member("m1") == 1
    assert fp.check_profile(selfie, profile, authenticity=auth, member_id="m1").verdict is Verdict.VERIFIED


def test_forged_expired_and_reused_tokens(fp, photos, profile, store) -> None:
    auth = Authenticity(nonces=StoreNonceLedger(store), challenge_secret=SECRET)
    selfie = photos / OBAMA
    token = new_challenge(SECRET, "look_straight").token
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    r = fp.check_profile(selfie, profile, authenticity=auth, challenge=forged)
    assert r.verdict is Verdict.NOT_VERIFIED and r.reasons[0] is Reason.CHALLENGE_FAILED
    assert r.authenticity.challenge is not None and r.authenticity.challenge.status == "invalid"
    assert r.to_dict()["authenticity"]["challenge"]["error"]["code"] == "challenge_invalid"
    truncated = fp.check_profile(selfie, profile, authenticity=auth, challenge=token[:20])
    assert truncated.reasons[0] is Reason.CHALLENGE_FAILED
    expired = new_challenge(SECRET, "look_straight", ttl=10, now=time.time() - 60).token
    r = fp.check_profile(selfie, profile, authenticity=auth, challenge=expired)
    assert r.reasons[0] is Reason.CHALLENGE_EXPIRED and r.verdict is Verdict.NOT_VERIFIED
    ok = fp.check_profile(selfie, profile, authenticity=auth, challenge=token)
    assert ok.verdict is Verdict.VERIFIED, ok.reasons  # obama1 faces the camera
    assert ok.authenticity.challenge is not None and ok.authenticity.challenge.passed
    r = fp.check_profile(selfie, profile, authenticity=auth, challenge=token)
    assert r.reasons[0] is Reason.CHALLENGE_REUSED and r.verdict is Verdict.NOT_VERIFIED
    with pytest.raises(InvalidArgument):  # a token without a configured secret
        fp.check_profile(selfie, profile, challenge=token)


def test_tilt_challenge_met_by_a_rotated_selfie(fp, photos, profile, store) -> None:
    auth = Authenticity(nonces=StoreNonceLedger(store), challenge_secret=SECRET)
    image = fp.load_image(photos / OBAMA)
    # tilt_left: the head leans to the member's left shoulder = clockwise in the image
    tilted = _jpeg(rotate_full(image, -30))
    r = fp.check_profile(tilted, profile, authenticity=auth, challenge=new_challenge(SECRET, "tilt_left").token)
    assert r.verdict is Verdict.VERIFIED, (r.reasons, r.authenticity.challenge)
    assert r.authenticity.challenge is not None and r.authenticity.challenge.pose is not None
    assert r.authenticity.challenge.pose.pose.roll <= -10
    # the same selfie does not meet the other tilt, nor the upright selfie this one
    r = fp.check_profile(tilted, profile, authenticity=auth, challenge=new_challenge(SECRET, "tilt_right").token)
    assert r.verdict is Verdict.NOT_VERIFIED and r.reasons[0] is Reason.CHALLENGE_FAILED
    upright = _jpeg(image)
    r = fp.check_profile(upright, profile, authenticity=auth, challenge=new_challenge(SECRET, "tilt_left").token)
    assert r.reasons[0] is Reason.CHALLENGE_FAILED
    assert r.to_dict()["authenticity"]["challenge"]["status"] == "failed"


def test_features_list_the_checks_that_run(store) -> None:
    """What a service reports of its authenticity checks: no secret, no state."""
    assert Authenticity().features()["copies"] is True
    assert Authenticity().features()["copy_thresholds"]["min_face_correlation"] == 0.8
    off = Authenticity.off().features()
    assert off["copies"] is False and off["replays"] is False and off["challenges"] is False
    full = Authenticity(
        replays=ReplayStore(store, retention_days=30), nonces=StoreNonceLedger(store), challenge_secret=SECRET
    ).features()
    assert full["replays"] is True and full["replay_retention_days"] == 30 and full["challenges"] is True
    assert SECRET.decode() not in repr(full)
