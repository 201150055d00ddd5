"""The authenticity checks' state (spent nonces, replay fingerprints), the same tests on
SQLite and on a real PostgreSQL; two ``open_store`` calls on one URL play two replicas."""

from __future__ import annotations

import random
import threading

import pytest

from faceproof.authenticity import NonceLedger, SelfieFingerprint
from faceproof.authenticity.challenge import new_challenge, redeem_challenge
from faceproof.authenticity.errors import ChallengeReused
from faceproof.authenticity.stores import ReplayStore, StoreNonceLedger, band_keys
from faceproof.errors import InvalidArgument
from faceproof.storage import open_store

SECRET = b"s" * 32
DAY = 86400.0


def _fp(rng: random.Random, sha: str | None = None) -> SelfieFingerprint:
    return SelfieFingerprint(
        sha256=sha or f"{rng.getrandbits(256):064x}", code=rng.getrandbits(256), code_mirrored=rng.getrandbits(256)
    )


def _flip(code: int, bits: list[int]) -> int:
    for b in bits:
        code ^= 1 << b
    return code


def test_bands_cover_every_bit_once() -> None:
    keys = band_keys((1 << 256) - 1)
    assert len(keys) == 17
    widths = [(k & 0xFFFFFFFF).bit_length() for k in keys]
    assert sum(widths) == 256 and set(widths) == {15, 16}
    assert [k >> 32 for k in keys] == list(range(17))


def test_nonce_spent_once_across_replicas(store_url: str) -> None:
    with open_store(store_url) as a, open_store(store_url) as b:
        la, lb = StoreNonceLedger(a), StoreNonceLedger(b)
        assert isinstance(la, NonceLedger)
        c = new_challenge(SECRET)
        redeem_challenge(c.token, SECRET, la)
        with pytest.raises(ChallengeReused):
            redeem_challenge(c.token, SECRET, lb)
        # concurrent spends of one nonce: exactly one wins
        results: list[bool] = []
        lock = threading.Lock()

        def spend(ledger: StoreNonceLedger) -> None:
            ok = ledger.spend("n-race", c.expires_at)
            with lock:
                results.append(ok)

        threads = [threading.Thread(target=spend, args=(led,)) for led in (la, lb, la, lb)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [False, False, False, True]


def test_nonce_mark_expires(store_url: str) -> None:
    with open_store(store_url) as s:
        ledger = StoreNonceLedger(s)
        assert ledger.marks.add("n1", ttl=10, now=1000.0)
        assert not ledger.marks.add("n1", ttl=10, now=1005.0)
        assert ledger.marks.add("n1", ttl=10, now=1011.0)  # forgotten after its expiry


def test_replay_found_by_sha_and_by_hamming_not_beyond(store_url: str) -> None:
    rng = random.Random(11)
    with open_store(store_url) as a, open_store(store_url) as b:
        ra, rb = ReplayStore(a), ReplayStore(b)
        stored = _fp(rng)
        ra.remember("m1", stored)
        others = [_fp(rng) for _ in range(50)]
        for i, o in enumerate(others):
            ra.remember(f"x{i}", o)
        # the same file on another replica
        same = rb.find(SelfieFingerprint(stored.sha256, rng.getrandbits(256), rng.getrandbits(256)))
        assert same is not None and same.member_id == "m1" and same.exact
        # 16 flipped bits (worst case: spread over 16 bands) is found; 17 anywhere is not
        for trial in range(5):
            bits = rng.sample(range(256), 16)
            near = SelfieFingerprint("0" * 64, _flip(stored.code, bits), rng.getrandbits(256))
            m = rb.find(near)
            assert m is not None and m.member_id == "m1" and m.distance == 16 and not m.exact, trial
        spread = [0] + [16 + 15 * i for i in range(15)]  # one flipped bit in each of bands 0-15
        assert rb.find(SelfieFingerprint("0" * 64, _flip(stored.code, spread), rng.getrandbits(256))) is not None
        far = SelfieFingerprint("0" * 64, _flip(stored.code, rng.sample(range(256), 17)), rng.getrandbits(256))
        assert rb.find(far) is None
        # a mirrored replay: the new selfie's mirrored code is near the stored code
        mirrored = SelfieFingerprint("1" * 64, rng.getrandbits(256), _flip(stored.code, rng.sample(range(256), 9)))
        m = rb.find(mirrored)
        assert m is not None and m.member_id == "m1" and m.distance == 9
        assert rb.find(_fp(rng)) is None
        assert ra.count() == 51


def test_retention_and_deletion_by_member(store_url: str) -> None:
    rng = random.Random(12)
    with open_store(store_url) as s:
        replay = ReplayStore(s, retention_days=90)
        old, new, gone = _fp(rng), _fp(rng), _fp(rng)
        replay.remember("m1", old, now=1000.0)
        replay.remember("m1", gone, now=1000.0 + 50 * DAY)
        replay.remember("m2", new, now=1000.0 + 50 * DAY)
        t = 1000.0 + 100 * DAY
        assert replay.find(old, now=t) is None  # past retention: not matched even before the purge
        assert replay.find(new, now=t) is not None
        assert replay.purge(now=t) == 1
        assert replay.count() == 2
        assert replay.delete_member("m1") == 1
        assert replay.find(gone, now=t) is None and replay.find(new, now=t) is not None
        leftover = s.run(lambda tx: tx.scalar("SELECT COUNT(*) FROM faceproof_replay_bands"), write=False)
        assert leftover == 17  # only m2's bands remain
        with pytest.raises(InvalidArgument):
            ReplayStore(s, retention_days=0)
        with pytest.raises(InvalidArgument):
            replay.remember("", new)


def test_replay_store_purges_expired_rows_on_write(store_url: str) -> None:
    """Every ``purge_every`` remembered selfies the expired ones go: the retention holds
    with no scheduler."""
    rng = random.Random(13)
    with open_store(store_url) as s:
        replay = ReplayStore(s, retention_days=1, purge_every=3)
        replay.remember("m1", _fp(rng), now=0.0)
        replay.remember("m1", _fp(rng), now=10.0)
        assert replay.count() == 2 and replay.purged == 0
        later = 2 * DAY
        replay.remember("m2", _fp(rng), now=later)  # the third write purges the two expired
        assert replay.purged == 2 and replay.count() == 1
        bands = s.run(lambda tx: tx.scalar("SELECT COUNT(*) FROM faceproof_replay_bands"), write=False)
        assert bands == 17
        for _ in range(3):
            replay.remember("m2", _fp(rng), now=later + 1)
        assert replay.count() == 4 and replay.purged == 2  # nothing expired at the sixth write
        manual = ReplayStore(s, retention_days=1, purge_every=0)
        manual.remember("m3", _fp(rng), now=0.0)
        assert manual.purged == 0 and manual.count() == 5
        with pytest.raises(InvalidArgument):
            ReplayStore(s, purge_every=-1)


def test_nonce_ledger_purges_spent_nonces_on_write(store_url: str) -> None:
    with open_store(store_url) as s:
        ledger = StoreNonceLedger(s, purge_every=2)
        assert ledger.spend("n1", 100.0, now=0.0)
        assert not ledger.spend("n1", 100.0, now=1.0)  # the second write: n1 not yet expired
        assert ledger.purged == 0
        assert ledger.spend("n2", 1000.0, now=200.0)
        assert ledger.spend("n3", 1000.0, now=201.0)  # the fourth write purges n1
        assert ledger.purged == 1
        assert ledger.spend("n1", 1000.0, now=202.0)  # forgotten after its expiry
        with pytest.raises(InvalidArgument):
            StoreNonceLedger(s, purge_every=True)  # type: ignore[arg-type]
