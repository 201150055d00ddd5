"""Challenge tokens: signature, expiry, single use (through a test NonceLedger), tampering."""

from __future__ import annotations

import base64
import json
import threading

import pytest

from faceproof.authenticity.challenge import (
    INSTRUCTIONS,
    Instruction,
    NonceLedger,
    new_challenge,
    redeem_challenge,
    verify_challenge,
)
from faceproof.authenticity.errors import ChallengeExpired, ChallengeInvalid, ChallengeReused
from faceproof.errors import FaceProofError, InputError, InvalidArgument

SECRET = b"s" * 32
OTHER = b"o" * 32
T0 = 1_800_000_000.0


class MemoryLedger:
    """The smallest NonceLedger: a set under a lock (the real one is faceproof.storage)."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self.lock = threading.Lock()

    def spend(self, nonce: str, expires_at: float) -> bool:
        with self.lock:
            if nonce in self.spent:
                return False
            self.spent[nonce] = expires_at
            return True


def test_round_trip_and_fields() -> None:
    c = new_challenge(SECRET, "turn_left", ttl=60, now=T0)
    v = verify_challenge(c.token, SECRET, now=T0 + 59)
    assert v.instruction is Instruction.TURN_LEFT
    assert (v.nonce, v.issued_at, v.expires_at) == (c.nonce, int(T0), int(T0) + 60)
    assert c.to_dict()["instruction"] == "turn_left"


def test_instruction_drawn_from_the_measured_set() -> None:
    seen = {new_challenge(SECRET, now=T0).instruction for _ in range(200)}
    assert seen <= set(INSTRUCTIONS)
    assert len(seen) == len(INSTRUCTIONS)  # 200 draws over 4: all appear (p of a miss ~ 4 * 0.75**200)
    assert Instruction.LOOK_STRAIGHT not in INSTRUCTIONS  # most old photos pass it
    assert new_challenge(SECRET, "look_straight", now=T0).instruction is Instruction.LOOK_STRAIGHT


def test_nonces_are_unique() -> None:
    assert len({new_challenge(SECRET, now=T0).nonce for _ in range(500)}) == 500


def test_expired() -> None:
    c = new_challenge(SECRET, ttl=30, now=T0)
    with pytest.raises(ChallengeExpired) as e:
        verify_challenge(c.token, SECRET, now=T0 + 30)
    from faceproof.server.errors import http_status_of

    assert e.value.code == "challenge_expired" and 400 <= http_status_of(e.value) < 500
    assert isinstance(e.value, InputError) and isinstance(e.value, FaceProofError)


def test_other_secret_is_invalid() -> None:
    c = new_challenge(SECRET, now=T0)
    with pytest.raises(ChallengeInvalid):
        verify_challenge(c.token, OTHER, now=T0)


def _forge(token: str, **changes: object) -> str:
    head, payload, mac = token.split(".")
    doc = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    doc.update(changes)
    raw = base64.urlsafe_b64encode(json.dumps(doc, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return f"{head}.{raw}.{mac}"


@pytest.mark.parametrize(
    "change", [{"exp": int(T0) + 10_000}, {"ins": "look_straight"}, {"n": "AAAAAAAAAAAAAAAAAAAAAA"}]
)
def test_altered_payload_is_invalid(change: dict[str, object]) -> None:
    c = new_challenge(SECRET, "turn_left", ttl=60, now=T0)
    forged = _forge(c.token, **change)
    assert forged != c.token
    with pytest.raises(ChallengeInvalid):
        verify_challenge(forged, SECRET, now=T0)


def test_truncated_and_garbled_tokens_are_invalid() -> None:
    token = new_challenge(SECRET, now=T0).token
    bad = [
        token[:-1],
        token[: len(token) // 2],
        token[:10],
        "",
        "fp1..",
        "fp2" + token[3:],
        token + ".x",
        token.replace(".", "", 1),
        token[:-4] + "!!!!",
        "x" * 5000,
        "fp1.%%%%.%%%%",
        "fp1.e30." + token.split(".")[2],  # "{}" with a foreign MAC
    ]
    for t in bad:
        with pytest.raises(ChallengeInvalid):
            verify_challenge(t, SECRET, now=T0)
    # every single-character change is caught
    for i in range(len(token)):
        c = "A" if token[i] != "A" else "B"
        with pytest.raises(ChallengeInvalid):
            verify_challenge(token[:i] + c + token[i + 1 :], SECRET, now=T0)


def test_non_string_token_is_invalid() -> None:
    with pytest.raises(ChallengeInvalid):
        verify_challenge(b"fp1.abc.def", SECRET, now=T0)  # type: ignore[arg-type]


def test_issued_in_the_future_is_invalid() -> None:
    c = new_challenge(SECRET, now=T0 + 3600)
    with pytest.raises(ChallengeInvalid):
        verify_challenge(c.token, SECRET, now=T0)


def test_single_use_through_the_ledger() -> None:
    ledger = MemoryLedger()
    assert isinstance(ledger, NonceLedger)
    c = new_challenge(SECRET, now=T0)
    assert redeem_challenge(c.token, SECRET, ledger, now=T0 + 1).nonce == c.nonce
    with pytest.raises(ChallengeReused) as e:
        redeem_challenge(c.token, SECRET, ledger, now=T0 + 2)
    assert e.value.code == "challenge_reused"
    assert ledger.spent[c.nonce] == c.expires_at
    # a second, fresh challenge is independent
    redeem_challenge(new_challenge(SECRET, now=T0).token, SECRET, ledger, now=T0 + 1)


def test_invalid_or_expired_tokens_do_not_touch_the_ledger() -> None:
    ledger = MemoryLedger()
    c = new_challenge(SECRET, ttl=10, now=T0)
    with pytest.raises(ChallengeExpired):
        redeem_challenge(c.token, SECRET, ledger, now=T0 + 11)
    with pytest.raises(ChallengeInvalid):
        redeem_challenge(c.token[:-2], SECRET, ledger, now=T0)
    assert ledger.spent == {}


def test_concurrent_redemptions_one_wins() -> None:
    ledger = MemoryLedger()
    c = new_challenge(SECRET, now=T0)
    results: list[str] = []

    def go() -> None:
        try:
            redeem_challenge(c.token, SECRET, ledger, now=T0)
            results.append("ok")
        except ChallengeReused:
            results.append("reused")

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ok"] + ["reused"] * 7


def test_bad_arguments() -> None:
    with pytest.raises(InvalidArgument):
        new_challenge(b"short")
    with pytest.raises(InvalidArgument):
        new_challenge(SECRET, "smile")
    with pytest.raises(InvalidArgument):
        new_challenge(SECRET, ttl=0)
    with pytest.raises(InvalidArgument):
        new_challenge(SECRET, ttl=10_000)
    with pytest.raises(InvalidArgument):
        verify_challenge("x", b"short")


def test_str_secret_equals_its_utf8_bytes() -> None:
    s = "k" * 40
    c = new_challenge(s, now=T0)
    assert verify_challenge(c.token, s.encode(), now=T0).nonce == c.nonce


def test_non_canonical_base64_spellings_are_invalid() -> None:
    """The last base64 character carries unused bits: a token spelled differently must
    not verify even when it decodes to the same bytes."""
    for _ in range(20):
        token = new_challenge(SECRET, now=T0).token
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        last = alphabet.index(token[-1])
        for flip in (1, 2, 3):
            alt = token[:-1] + alphabet[last ^ flip]
            with pytest.raises(ChallengeInvalid):
                verify_challenge(alt, SECRET, now=T0)
