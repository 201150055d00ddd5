"""The member index's 8-bit coarse pass against the float32 product, by gallery size.

    flock -x /tmp/faceproof-cpu.lock env PYTHONPATH=src python bench/index_coarse.py \
        [--sizes 65536 100000 131072 262144 524288 1000000] [--out FILE]

For each size, on SFace-like synthetic templates (bench/index_synth.py's model, as
bench/index_search.py uses): the scoring step alone (``CoarseScorer.scores``: segments of
65,536 rows on a two-thread pool, the tail in float32 without BLAS) and ``matrix @ q``
(OpenBLAS, two threads), in blocks A-B-A (all queries coarse, all float32, all coarse: a
multi-threaded OpenBLAS call leaves its threads spinning ~0.1 s, which would slow a coarse
pass run right after it). Also the largest observed |coarse - exact| and the bound ``eps``
the search relies on. Below ``coarse.MIN_SEGMENTS`` full segments the scorer returns the
float32 product itself (both columns then time the same thing).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _p50(values: list[float]) -> float:
    return round(float(np.median(values)) * 1000, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[65536, 100000, 131072, 262144, 524288, 1000000])
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    from index_search import gallery

    from faceproof.index.coarse import CoarseScorer

    X, _, Q, _ = gallery("sface", max(args.sizes), args.queries, seed=0)
    out: dict[str, Any] = {"command": " ".join(sys.argv), "load_average_at_start": os.getloadavg(), "sizes": []}
    for layout, n in enumerate(args.sizes, start=1):
        M = X[:n]
        scorer = CoarseScorer()
        t0 = time.perf_counter()
        built = scorer.prepare(layout, M)
        build_s = time.perf_counter() - t0

        def coarse_block(scorer: CoarseScorer = scorer, M: np.ndarray = M, layout: int = layout) -> list[float]:
            lat = []
            for q in Q:
                t = time.perf_counter()
                scorer.scores(layout, M, q)
                lat.append(time.perf_counter() - t)
            return lat

        def f32_block(M: np.ndarray = M) -> list[float]:
            lat = []
            for q in Q:
                t = time.perf_counter()
                M @ q
                lat.append(time.perf_counter() - t)
            return lat

        a, b, c = coarse_block(), f32_block(), coarse_block()
        worst, eps_max = 0.0, 0.0
        for q in Q[:20]:
            got, eps = scorer.scores(layout, M, q)
            worst = max(worst, float(np.abs(got - M @ q).max()))
            eps_max = max(eps_max, eps)
        row = {
            "templates": n,
            "segments": built,
            "build_s": round(build_s, 2),
            "coarse_p50_ms": [_p50(a), _p50(c)],
            "float32_p50_ms": _p50(b),
            "max_abs_error": round(worst, 5),
            "eps_max": round(eps_max, 5),
        }
        print(json.dumps(row), flush=True)
        out["sizes"].append(row)
        scorer.close()
    out["load_average_at_end"] = os.getloadavg()
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
