"""pgvector HNSW recall on *real* SFace templates (LFW View 1 + UTKFace + CFP dev, cached by
bench/index_embed.py), against exact search, for the same build settings as the synthetic
speed runs (a check that the SFace-like synthetic templates behave like real ones).

    flock -x /tmp/faceproof-cpu.lock env PYTHONPATH=src python bench/index_hnsw_real.py \\
        [--hnsw 16,64 32,200] [--ef 40 100 200 400]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

CACHE = Path("/tmp/faceproof-index-bench")


def main() -> None:
    from faceproof.index import MemberIndex, ModelId
    from faceproof.storage.testing import stop_temporary_postgres, temporary_postgres

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hnsw", nargs="+", default=["16,64", "32,200"], help="m,ef_construction pairs")
    ap.add_argument("--ef", type=int, nargs="+", default=[40, 100, 200, 400])
    args = ap.parse_args()
    embs = []
    for name in ("lfw", "utk", "cfp"):
        d = np.load(CACHE / f"{name}.npz")
        embs.append(d["emb"][d["ok"]])
    X = np.concatenate(embs).astype(np.float32)
    rng = np.random.default_rng(0)
    qi = rng.choice(len(X), 200, replace=False)
    gallery = np.setdiff1d(np.arange(len(X)), qi)
    G, Q = X[gallery], X[qi]
    truth = np.argsort(-(Q @ G.T), axis=1)[:, :10]
    base = CACHE / "pg-real"
    shutil.rmtree(base, ignore_errors=True)
    pg = temporary_postgres(base)
    out: dict = {"gallery": len(G), "queries": len(Q), "builds": []}
    try:
        for spec in args.hnsw:
            m, efc = (int(v) for v in spec.split(","))
            ix = MemberIndex(pg.fresh_url(), model=ModelId("sface-real", "11" * 32), hnsw_m=m, hnsw_ef_construction=efc)
            ix.bulk_load([f"m{i}" for i in range(len(G))], ["p"] * len(G), G, rebuild_ann=True)
            build: dict = {"m": m, "ef_construction": efc, "ef_search": {}}
            for ef in args.ef:
                ix.ef_search = ef
                hit, lat = 0, []
                for j, q in enumerate(Q):
                    t = time.perf_counter()
                    r = ix.search(q, k=10, threshold=-1.0, include_below=True)
                    lat.append((time.perf_counter() - t) * 1000)
                    hit += len({c.member_id for c in r.candidates} & {f"m{i}" for i in truth[j]})
                build["ef_search"][ef] = {
                    "recall_at_10": hit / (10 * len(Q)),
                    "p50_ms": round(float(np.median(lat)), 2),
                }
            out["builds"].append(build)
            ix.close()
    finally:
        stop_temporary_postgres()
        shutil.rmtree(base, ignore_errors=True)
    print(json.dumps(out))
    print(" ".join(sys.argv), file=sys.stderr)


if __name__ == "__main__":
    main()
