"""pgvector HNSW recall on *real* SFace templates (LFW View 1 + UTKFace + CFP dev, cached by
bench/index_embed.py), against exact search: the synthetic speed runs use random vectors,
the worst case for a graph index.

    PYTHONPATH=src python bench/index_hnsw_real.py
"""

from __future__ import annotations

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
    out = {"gallery": len(G), "queries": len(Q), "ef_search": {}}
    try:
        ix = MemberIndex(pg.fresh_url(), model=ModelId("sface-real", "11" * 32))
        ix.bulk_load([f"m{i}" for i in range(len(G))], ["p"] * len(G), G, rebuild_ann=True)
        for ef in (40, 100):
            ix.ef_search = ef
            hit, lat = 0, []
            for j, q in enumerate(Q):
                t = time.perf_counter()
                r = ix.search(q, k=10, threshold=-1.0, include_below=True)
                lat.append((time.perf_counter() - t) * 1000)
                hit += len({c.member_id for c in r.candidates} & {f"m{i}" for i in truth[j]})
            out["ef_search"][ef] = {"recall_at_10": hit / (10 * len(Q)), "p50_ms": round(float(np.median(lat)), 2)}
        ix.close()
    finally:
        stop_temporary_postgres()
        shutil.rmtree(base, ignore_errors=True)
    print(json.dumps(out))
    print(" ".join(sys.argv), file=sys.stderr)


if __name__ == "__main__":
    main()
