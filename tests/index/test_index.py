"""The member face index: the same tests on SQLite and on a real PostgreSQL with pgvector,
searched exactly (both) and through pgvector's HNSW index (PostgreSQL)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from faceproof.errors import FaceProofError, InvalidArgument
from faceproof.index import MemberIndex, ModelId, ModelMismatch, UnknownMember
from faceproof.index.coarse import CoarseScorer
from faceproof.index.errors import CalibrationUnavailable
from faceproof.storage import open_store

MODEL = ModelId("testnet", "ab" * 32)
OTHER = ModelId("othernet", "cd" * 32)
D = 128


def unit(n: int, seed: int, d: int = D) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def near(v: np.ndarray, seed: int, noise: float = 0.3) -> np.ndarray:
    """A unit vector close to ``v`` (another photo of the same person)."""
    x = v + noise * unit(1, seed)[0] / np.sqrt(2)
    return (x / np.linalg.norm(x)).astype(np.float32)


#: every backend with every search it offers
SEARCHES = [("sqlite", "exact"), ("postgresql", "exact"), ("postgresql", "hnsw")]


def _url(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("pg_server").fresh_url()  # type: ignore[no-any-return]


@pytest.fixture(params=SEARCHES, ids=lambda p: "-".join(p))
def index(request: pytest.FixtureRequest, tmp_path: Path) -> MemberIndex:
    backend, search = request.param
    ix = MemberIndex(_url(request, tmp_path, backend), model=MODEL, actor="test-suite", search=search)
    yield ix
    ix.close()


def test_error_codes() -> None:
    from faceproof.server.errors import http_status_of

    assert ModelMismatch.code == "index_model_mismatch" and http_status_of(ModelMismatch("x")) == 409
    assert UnknownMember.code == "index_unknown_member" and http_status_of(UnknownMember("x")) == 404
    assert CalibrationUnavailable.code == "index_calibration_unavailable"
    for cls in (ModelMismatch, UnknownMember, CalibrationUnavailable):
        assert issubclass(cls, FaceProofError)


def test_empty_index_answers_no_candidates(index: MemberIndex) -> None:
    r = index.search(unit(1, 0)[0], k=5, threshold=0.5)
    assert r.candidates == () and r.gallery_size == 0 and not r.needs_review
    st = index.stats()
    assert (st.members, st.templates, st.model) == (0, 0, None)


def test_enrol_and_search_returns_the_member_with_its_photo(index: MemberIndex) -> None:
    people = unit(30, 1)
    for i in range(30):
        index.enroll(f"m{i}", np.stack([people[i], near(people[i], 100 + i)]), [f"m{i}-a", f"m{i}-b"])
    index.set_status("m7", "banned")
    probe = near(people[7], 999, noise=0.2)
    r = index.search(probe, k=3, threshold=0.5, include_below=True)
    top = r.candidates[0]
    assert (top.member_id, top.status, top.rank, top.band) == ("m7", "banned", 1, "review")
    assert top.photo_id in {"m7-a", "m7-b"} and top.similarity > 0.8
    assert [c.member_id for c in r.candidates].count("m7") == 1  # one candidate per member
    assert len(r.candidates) == 3 and r.gallery_size == 60
    assert [c.band for c in r.candidates[1:]] == ["below", "below"]
    assert index.search(probe, k=3, threshold=0.5).candidates[0].member_id == "m7"
    assert len(index.search(probe, k=3, threshold=0.5).candidates) == 1  # below-threshold left out
    # filters: only banned accounts; the searching member's own account excluded
    assert [c.member_id for c in index.search(probe, k=5, threshold=-1.0, statuses=["banned"]).candidates] == ["m7"]
    r2 = index.search(probe, k=2, threshold=-1.0, exclude_members=["m7"])
    assert "m7" not in {c.member_id for c in r2.candidates} and len(r2.candidates) == 2
    st = index.stats()
    assert (st.members, st.templates, st.members_by_status, st.dim) == (30, 60, {"active": 29, "banned": 1}, D)
    assert st.model == MODEL and st.size_bytes > 0


def test_reenrolling_a_photo_replaces_its_template(index: MemberIndex) -> None:
    a, b = unit(2, 2)
    index.enroll("m1", a[None], ["p1"])
    index.enroll("m1", b[None], ["p1"], status="banned")
    assert index.stats().templates == 1
    info = index.member("m1")
    assert info["status"] == "banned" and [p["photo_id"] for p in info["photos"]] == ["p1"]
    assert index.search(b, k=1, threshold=0.99).candidates[0].member_id == "m1"
    assert index.search(a, k=1, threshold=0.99).candidates == ()


def test_remove_is_visible_to_the_next_search_everywhere(store_url: str) -> None:
    v = unit(3, 3)
    writer = MemberIndex(store_url, model=MODEL)
    replica = MemberIndex(store_url, model=MODEL)  # another process/replica with its own cache
    for i in range(3):
        writer.enroll(f"m{i}", v[i][None], ["p"])
    assert replica.search(v[1], k=1, threshold=0.9).candidates[0].member_id == "m1"  # cache warm
    assert writer.search(v[1], k=1, threshold=0.9).candidates[0].member_id == "m1"
    assert writer.remove("m1") == 1
    for ix in (writer, replica):
        r = ix.search(v[1], k=3, threshold=-1.0)
        assert "m1" not in {c.member_id for c in r.candidates} and r.gallery_size == 2
    writer.close()
    replica.close()


def test_unknown_member(index: MemberIndex) -> None:
    index.enroll("m1", unit(1, 4), ["p"])
    for call in (
        lambda: index.remove("nobody"),
        lambda: index.set_status("nobody", "banned"),
        lambda: index.member("nobody"),
    ):
        with pytest.raises(UnknownMember) as exc:
            call()
        assert exc.value.code == "index_unknown_member"


def test_other_model_refused(index: MemberIndex) -> None:
    index.enroll("m1", unit(1, 5), ["p"])
    with pytest.raises(ModelMismatch):
        index.enroll("m2", unit(1, 6), ["p"], model=OTHER)
    with pytest.raises(ModelMismatch):
        index.search(unit(1, 6)[0], model=OTHER, threshold=0.5)
    with pytest.raises(ModelMismatch):
        index.enroll("m2", unit(1, 6, d=64), ["p"])  # same name, other dimension
    with pytest.raises(ModelMismatch):
        index.search(unit(1, 6, d=64)[0], threshold=0.5)
    assert index.stats().templates == 1


def test_bad_embeddings_and_ids_refused(index: MemberIndex) -> None:
    good = unit(2, 7)
    for bad in (good * 2, np.full((1, D), np.nan, np.float32), np.zeros((0, D), np.float32), np.zeros((2, 2, 2))):
        with pytest.raises(InvalidArgument):
            index.enroll("m1", bad, ["a", "b"][: len(bad)] if bad.ndim == 2 else ["a"])
    with pytest.raises(InvalidArgument):
        index.enroll("m1", good, ["only-one"])
    with pytest.raises(InvalidArgument):
        index.enroll("m1", good, ["same", "same"])
    with pytest.raises(InvalidArgument):
        index.enroll("m 1; DROP TABLE", good[:1], ["p"])
    with pytest.raises(InvalidArgument):
        index.enroll("m1", good[:1], ["p"], status="BANNED!")
    with pytest.raises(InvalidArgument):
        index.search(good, threshold=0.5)  # two probes
    with pytest.raises(InvalidArgument):
        index.search(good[0], k=0, threshold=0.5)
    with pytest.raises(InvalidArgument):
        index.search(good[0], threshold=1.5)
    with pytest.raises(InvalidArgument):
        index.search(good[0], threshold=0.5, target_fpir=2.0)
    with pytest.raises(InvalidArgument):
        MemberIndex(index.store).enroll("m1", good[:1], ["p"])  # no model given anywhere
    assert index.stats().templates == 0


def test_purge_by_age(index: MemberIndex) -> None:
    v = unit(3, 8)
    index.enroll("old", v[0][None], ["p"], now=1_000.0)
    index.enroll("mixed", v[1][None], ["old-photo"], now=1_000.0)
    index.enroll("mixed", v[2][None], ["new-photo"], now=9_000.0)
    assert index.purge(older_than=3_600, now=10_000.0) == 2
    st = index.stats()
    assert (st.members, st.templates) == (1, 1)
    with pytest.raises(UnknownMember):
        index.member("old")
    assert [p["photo_id"] for p in index.member("mixed")["photos"]] == ["new-photo"]
    assert index.search(v[0], k=2, threshold=-1.0).candidates[0].photo_id == "new-photo"


def test_failed_batch_writes_nothing(index: MemberIndex) -> None:
    v = unit(4, 9)
    index.enroll("m1", v[0][None], ["p"])
    with pytest.raises(FaceProofError):  # (m1, p) exists: the whole batch is refused
        index.bulk_load(["m2", "m3", "m1"], ["p", "p", "p"], v[1:4])
    st = index.stats()
    assert (st.members, st.templates) == (1, 1)
    assert index.bulk_load(["m2", "m3"], ["p", "p"], v[1:3]) == 2
    assert index.stats().templates == 3


def test_concurrent_enrolment_loses_nothing(store_url: str) -> None:
    MemberIndex(store_url, model=MODEL).close()  # schema first, as a deployment would
    vectors = unit(80, 10)
    errors: list[BaseException] = []

    def worker(w: int) -> None:
        try:
            with MemberIndex(store_url, model=MODEL) as ix:  # each thread its own connection
                for i in range(w, 80, 4):
                    ix.enroll(f"m{i}", vectors[i][None], ["p"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with MemberIndex(store_url, model=MODEL) as ix:
        st = ix.stats()
        assert (st.members, st.templates) == (80, 80)
        hits = [ix.search(vectors[i], k=1, threshold=0.99).candidates[0].member_id for i in range(0, 80, 7)]
        assert hits == [f"m{i}" for i in range(0, 80, 7)]


def test_audit_log_has_no_biometric_data(index: MemberIndex) -> None:
    v = unit(2, 11)
    index.enroll("m1", v, ["p1", "p2"])
    index.search(v[0], k=1, threshold=0.5, actor="moderator-7")
    index.remove("m1")
    log = index.audit_log()
    assert [e["action"] for e in log] == ["remove", "search", "enroll"]
    assert log[1]["actor"] == "moderator-7" and log[0]["actor"] == "test-suite"
    assert log[1]["detail"]["candidates"] == ["m1"] and log[0]["member_id"] == "m1"
    text = repr(log)
    for value in v.ravel()[:20]:
        assert f"{value:.4f}" not in text
    assert all(not isinstance(x, list | float) or len(str(x)) < 40 for e in log for x in e["detail"].values())


@pytest.mark.parametrize(("backend", "search"), SEARCHES)
def test_hnsw_agrees_with_exact_search(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str, search: str
) -> None:
    gallery = unit(3000, 12)
    with MemberIndex(_url(request, tmp_path, backend), model=MODEL, ef_search=100, search=search) as ix:
        ix.bulk_load([f"m{i}" for i in range(3000)], ["p"] * 3000, gallery, rebuild_ann=True)
        probes = unit(20, 13)
        hit = 0
        for q in probes:
            got = [c.member_id for c in ix.search(q, k=10, threshold=-1.0).candidates]
            want = [f"m{i}" for i in np.argsort(-(gallery @ q))[:10]]
            hit += len(set(got) & set(want))
        assert hit / 200 >= (1.0 if search == "exact" else 0.95)  # HNSW: recall@10


def test_sqlite_remove_erases_the_bytes(tmp_path: Path) -> None:
    path = tmp_path / "members.db"
    v = unit(50, 14)
    with MemberIndex(f"sqlite:///{path}", model=MODEL) as ix:
        for i in range(50):
            ix.enroll(f"m{i}", v[i][None], ["p"])
        secret = v[17].tobytes()

        def on_disk() -> bytes:
            return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())

        ix.store.compact()
        assert secret in on_disk()  # sanity: the template is there, byte for byte
        ix.remove("m17")
        assert secret not in on_disk()
        assert v[18].tobytes() in on_disk()
        assert ix.purge(older_than=0, now=1e12) == 49
        assert v[18].tobytes() not in on_disk()


def test_postgres_remove_deletes_the_rows(pg_server: object) -> None:
    url = pg_server.fresh_url()  # type: ignore[attr-defined]
    v = unit(3, 15)
    with MemberIndex(url, model=MODEL) as ix:
        ix.enroll("m1", v, ["a", "b", "c"])
        ix.enroll("m2", unit(1, 16), ["a"])
        ix.remove("m1")
        for q in v:  # the removed member's own templates no longer find it
            r = ix.search(q, k=10, threshold=-1.0, include_below=True)
            assert [c.member_id for c in r.candidates] == ["m2"] and r.gallery_size == 1
        ix.remove("m2")
        with open_store(url) as s:
            assert s.run(lambda tx: tx.scalar("SELECT count(*) FROM fp_index_templates")) == 0
            assert s.run(lambda tx: tx.scalar("SELECT count(*) FROM fp_index_members")) == 0


def test_postgres_enrolment_survives_a_dropped_connection(pg_server: object) -> None:
    import psycopg

    url = pg_server.fresh_url()  # type: ignore[attr-defined]
    v = unit(2, 16)
    with MemberIndex(url, model=MODEL) as ix:
        ix.enroll("m1", v[0][None], ["p"])
        pid = ix.store.run(lambda tx: tx.scalar("SELECT pg_backend_pid()"))
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        ix.enroll("m2", v[1][None], ["p"])  # the broken connection is noticed, replaced, retried
        assert ix.stats().templates == 2


def test_every_change_reaches_another_replica_at_once(store_url: str) -> None:
    v = unit(40, 20)
    writer = MemberIndex(store_url, model=MODEL)
    replica = MemberIndex(store_url, model=MODEL)
    for i in range(20):
        writer.enroll(f"m{i}", v[i][None], ["p"], now=1_000.0)

    def top(q: np.ndarray) -> tuple[str, str, str] | None:
        r = replica.search(q, k=1, threshold=0.95)
        return (r.candidates[0].member_id, r.candidates[0].photo_id, r.candidates[0].status) if r.candidates else None

    assert top(v[3]) == ("m3", "p", "active")  # the replica caches the gallery now
    writer.enroll("m30", v[30][None], ["p"], now=2_000.0)  # new member
    writer.enroll("m3", v[31][None], ["p"], now=2_000.0)  # a photo re-enrolled: old template gone
    writer.enroll("m4", v[32][None], ["q"], now=2_000.0)  # a second photo
    writer.set_status("m5", "banned")
    writer.remove("m6")
    assert top(v[30]) == ("m30", "p", "active")
    assert top(v[3]) is None and top(v[31]) == ("m3", "p", "active")
    assert top(v[32]) == ("m4", "q", "active") and top(v[4]) == ("m4", "p", "active")
    assert top(v[5]) == ("m5", "p", "banned")
    assert top(v[6]) is None
    writer.purge(older_than=500, now=2_000.0)  # everything enrolled at t=1000
    assert top(v[7]) is None and top(v[4]) is None
    assert top(v[30]) == ("m30", "p", "active") and top(v[32]) == ("m4", "q", "active")
    writer.remove("m30")
    writer.enroll("m30", v[33][None], ["p"])  # the same member id back with another face
    assert top(v[30]) is None and top(v[33]) == ("m30", "p", "active")
    assert replica.search(v[0], k=10, threshold=-1.0).gallery_size == writer.stats().templates == 3
    writer.close()
    replica.close()


def test_sqlite_cache_catches_up_instead_of_reloading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import faceproof.index.core as core

    url = f"sqlite:///{tmp_path / 'c.db'}"
    v = unit(3000, 21)
    writer, reader = MemberIndex(url, model=MODEL), MemberIndex(url, model=MODEL)
    writer.bulk_load([f"m{i}" for i in range(2000)], ["p"] * 2000, v[:2000])
    reader.search(v[0], k=1, threshold=0.5)
    first = reader._gallery
    assert first is not None
    writer.enroll("x", v[2000][None], ["p"])
    writer.remove("m1")
    assert [c.member_id for c in reader.search(v[2000], k=1, threshold=0.9).candidates] == ["x"]
    assert reader.search(v[1], k=1, threshold=0.9).candidates == ()
    assert reader._gallery is not None and reader._gallery.buffer is first.buffer  # appended, not reloaded
    for i in range(2, 700):  # many removals: the cache drops the dead rows from memory
        writer.remove(f"m{i}", compact=False)
    r = reader.search(v[1500], k=5, threshold=-1.0)
    assert r.candidates[0].member_id == "m1500" and r.gallery_size == 2000 - 698
    assert reader._gallery is not None and reader._gallery.dead == 0 and reader._gallery.n == r.gallery_size
    monkeypatch.setattr(core, "TOMBSTONE_GENERATIONS", 3)  # a cache older than the kept deletions reloads
    for i in range(700, 710):
        writer.remove(f"m{i}", compact=False)
    r = reader.search(v[705], k=1, threshold=-1.0)
    assert r.candidates[0].member_id != "m705" and r.gallery_size == 2000 - 708
    writer.close()
    reader.close()


@pytest.mark.parametrize("coarse_rows", [0, 16], ids=["float32", "coarse-8bit"])
def test_filtered_and_thresholded_searches_match_a_brute_force_reference(store_url: str, coarse_rows: int) -> None:
    """Every way of narrowing a search (threshold, statuses, excluded members), also after
    the cache caught up with status changes and new members, against numpy by hand; with
    the plain float32 pass and with the 8-bit coarse pass (segments of 16 rows here)."""
    rng = np.random.default_rng(30)
    people = unit(60, 31)
    owner: list[str] = []
    vecs: list[np.ndarray] = []
    status: dict[str, str] = {}
    with MemberIndex(store_url, model=MODEL, coarse_rows=coarse_rows) as ix:

        def enrol(i: int, label: str) -> None:
            n = int(rng.integers(1, 4))
            emb = np.stack([near(people[i], 1000 * i + j, noise=0.8) for j in range(n)])
            ix.enroll(f"m{i}", emb, [f"p{j}" for j in range(n)], status=label)
            owner.extend([f"m{i}"] * n)
            vecs.extend(emb)
            status[f"m{i}"] = label

        for i in range(40):
            enrol(i, "banned" if i % 7 == 0 else "active")

        def reference(q: np.ndarray, k: int, floor: float, wanted: set[str] | None, excluded: set[str]) -> list:
            best: dict[str, float] = {}
            for mid, s in zip(owner, np.stack(vecs) @ q, strict=True):
                if s >= floor and mid not in excluded and (wanted is None or status[mid] in wanted):
                    best[mid] = max(best.get(mid, -2.0), float(s))
            return sorted(best, key=lambda m: -best[m])[:k]

        def check(q: np.ndarray) -> None:
            cases = [
                (10, -1.0, None, set()),
                (5, 0.3, None, set()),
                (10, 0.3, None, set()),
                (10, -1.0, {"banned", "suspended"}, set()),
                (3, -1.0, {"active"}, {"m1", "m2", "m3"}),
                (10, 0.2, {"banned"}, {"m0"}),
                (10, -1.0, {"nobody_has_this"}, set()),
            ]
            for k, floor, wanted, excluded in cases:
                r = ix.search(q, k=k, threshold=floor, statuses=wanted, exclude_members=excluded)
                assert [c.member_id for c in r.candidates] == reference(q, k, floor, wanted, excluded)
                assert all(c.similarity >= floor and c.status == status[c.member_id] for c in r.candidates)

        for i in (0, 5, 14):
            check(near(people[i], 77 + i, noise=0.5))
        ix.set_status("m5", "suspended")  # the cache catches up: a status change and new members
        status["m5"] = "suspended"
        ix.set_status("m14", "active")
        status["m14"] = "active"
        for i in range(40, 60):
            enrol(i, "suspended" if i % 3 == 0 else "active")
        for i in (0, 5, 14, 42, 45):
            check(near(people[i], 177 + i, noise=0.5))
        if coarse_rows:  # the coarse pass ran (it switches itself off if its bound fails)
            assert ix._coarse is not None and ix._coarse.disabled is None and len(ix._coarse._segments) >= 5


def test_postgres_hnsw_index_has_the_shipped_build_settings(pg_server: object) -> None:
    """The HNSW index is built with the parameters measured in docs/index.md (m 32,
    ef_construction 200), on first binding and again after a bulk load's rebuild."""
    from faceproof.index.core import HNSW_EF_CONSTRUCTION, HNSW_M

    assert (HNSW_M, HNSW_EF_CONSTRUCTION) == (32, 200)
    url = pg_server.fresh_url()  # type: ignore[attr-defined]

    def definition(ix: MemberIndex) -> str:
        return str(
            ix.store.run(
                lambda tx: tx.scalar(
                    "SELECT indexdef FROM pg_indexes WHERE indexname = 'fp_index_templates_hnsw' "
                    "AND schemaname = current_schema()"
                )
            )
        )

    with MemberIndex(url, model=MODEL, search="hnsw") as ix:
        ix.enroll("m1", unit(1, 40), ["p"])
        assert "m='32'" in definition(ix) and "ef_construction='200'" in definition(ix)
        ix.bulk_load(["m2", "m3"], ["p", "p"], unit(2, 41), rebuild_ann=True)
        assert "m='32'" in definition(ix) and "ef_construction='200'" in definition(ix)
    with MemberIndex(pg_server.fresh_url(), model=MODEL, search="hnsw", hnsw_m=12, hnsw_ef_construction=48) as ix:  # type: ignore[attr-defined]
        ix.enroll("m1", unit(1, 42), ["p"])
        assert "m='12'" in definition(ix) and "ef_construction='48'" in definition(ix)
    with MemberIndex(pg_server.fresh_url(), model=MODEL) as ix:  # type: ignore[attr-defined]
        ix.enroll("m1", unit(1, 43), ["p"])  # exact search: no graph to maintain on every insert
        assert definition(ix) == "None"


def test_coarse_scores_stay_within_their_bound() -> None:
    """The 8-bit kernel's error never exceeds the bound the search relies on, for face-like
    and for lopsided vectors (a few large components: the coarsest steps), and the bound is
    tight enough to be of use."""
    rng = np.random.default_rng(50)
    spiky = rng.normal(size=(1500, D)) * np.where(rng.random((1500, D)) < 0.05, 8.0, 1.0)
    gallery = np.concatenate([unit(2500, 51), (spiky / np.linalg.norm(spiky, axis=1, keepdims=True))])
    gallery = gallery.astype(np.float32)
    scorer = CoarseScorer(segment_rows=1000)
    try:
        for q in np.concatenate([unit(30, 52), gallery[::200]]):
            coarse, eps = scorer.scores(1, gallery, q)
            exact = gallery @ q
            assert 0 < eps < 0.1
            assert np.abs(coarse - exact).max() <= eps
            assert np.array_equal(coarse[4000:], exact[4000:])  # past the last full segment: exact
        assert scorer.disabled is None and len(scorer._segments) == 4
    finally:
        scorer.close()


def test_coarse_pass_switches_itself_off_when_its_bound_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kernel that errs beyond the bound (simulated: a bound of zero) is caught by the
    self-check on the first segment; the search goes on with float32 and stays exact."""
    monkeypatch.setattr(CoarseScorer, "_eps", staticmethod(lambda q, segments: 0.0))
    v = unit(300, 53)
    with MemberIndex(f"sqlite:///{tmp_path / 'c.db'}", model=MODEL, coarse_rows=64) as ix:
        ix.bulk_load([f"m{i}" for i in range(300)], ["p"] * 300, v)
        q = near(v[7], 54)
        got = [c.member_id for c in ix.search(q, k=5, threshold=-1.0).candidates]
        assert got == [f"m{i}" for i in np.argsort(-(v @ q))[:5]]
        assert ix._coarse is not None and ix._coarse.disabled is not None and "bound" in ix._coarse.disabled


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_coarse_segments_follow_the_gallery(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> None:
    """New rows past the segments, removals inside them and a compaction (rows move: the
    segments are built again) all leave the answer equal to brute force."""
    v = unit(1200, 55)
    url = _url(request, tmp_path, backend)
    with MemberIndex(url, model=MODEL, coarse_rows=128) as ix, MemberIndex(url, model=MODEL) as writer:
        writer.bulk_load([f"m{i}" for i in range(1000)], ["p"] * 1000, v[:1000])
        alive = set(range(1000))

        def check(seed: int) -> None:
            idx = sorted(alive)
            for j in range(5):
                q = near(v[idx[(seed * 7 + j * 131) % len(idx)]], seed * 10 + j, noise=0.6)
                got = [c.member_id for c in ix.search(q, k=10, threshold=-1.0).candidates]
                assert got == [f"m{idx[i]}" for i in np.argsort(-(v[idx] @ q))[:10]]

        check(1)
        layout = ix._gallery.layout if ix._gallery else None
        writer.bulk_load([f"m{i}" for i in range(1000, 1200)], ["p"] * 200, v[1000:])
        alive |= set(range(1000, 1200))
        check(2)
        for i in range(0, 300, 7):
            writer.remove(f"m{i}", compact=False)
            alive.discard(i)
        check(3)
        assert ix._gallery is not None and ix._gallery.layout == layout  # appended and masked, not moved
        for i in range(300, 700):
            writer.remove(f"m{i}", compact=False)
            alive.discard(i)
        check(4)
        assert ix._gallery is not None and ix._gallery.layout != layout and ix._gallery.dead == 0  # compacted
        assert ix._coarse is not None and ix._coarse.disabled is None and ix._coarse._layout == ix._gallery.layout


@pytest.mark.parametrize(
    ("n", "take", "minus_inf", "ties"),
    [(1000, 10, 0.0, False), (200_000, 44, 0.0, False), (200_000, 104, 0.5, False), (300_000, 500, 0.9, True)],
)
def test_largest_finds_the_same_rows_as_a_full_partition(n: int, take: int, minus_inf: float, ties: bool) -> None:
    """The sampled cut-off of the top-k selection keeps exactly the largest values, also
    with masked (-inf) rows and many equal values."""
    from faceproof.index.core import _largest

    rng = np.random.default_rng(n + take)
    values = rng.normal(size=n).astype(np.float32)
    if ties:
        values = np.round(values, 1)
    values[rng.random(n) < minus_inf] = -np.inf
    got = _largest(values, take)
    assert got.size == take and len(set(got.tolist())) == take
    assert np.sort(values[got])[0] >= np.sort(values)[-take]  # nothing left out is larger
