"""Fit the impostor score distribution that sets the member index's open-set thresholds.

    flock /tmp/faceproof-cpu.lock env PYTHONPATH=src python bench/index_embed.py cfp utk
    PYTHONPATH=src python bench/index_calibrate.py [--cache /tmp/faceproof-index-bench]

Impostor pairs: every pair of faces of different people among
  - CFP dev (folds 1-2, 100 people, 10 frontal and 4 profile crops each; identity = folder);
  - the LFW View 1 people of pairs_dev_train.csv (aliases merged, see index_embed.LFW_ALIASES).
The LFW View 1 people of pairs_dev_test.csv (disjoint) are held out: bench/index_search.py
measures the thresholds' FPIR on their searches.
UTKFace is *not* used: it has no identity labels and holds exact duplicates under
different file names (pairs at similarity 1.0000) and the same people again (0.94-0.99),
which are not impostor pairs; CFP x UTKFace pairs reach 0.92 for the same reason. The
script prints those tails as the evidence.
Writes src/faceproof/data/index_impostor_<model>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from faceproof.index import ModelId, fit_impostor_distribution

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = Path("/tmp/faceproof-index-bench")


def _pairs(emb: np.ndarray, ident: np.ndarray) -> np.ndarray:
    s = emb @ emb.T
    iu = np.triu_indices(len(emb), 1)
    return s[iu][ident[iu[0]] != ident[iu[1]]]


def impostor_scores(cache: Path) -> tuple[np.ndarray, dict[str, int]]:
    from index_embed import lfw_person, lfw_split

    cfp, lfw = np.load(cache / "cfp.npz"), np.load(cache / "lfw.npz")
    ce = cfp["emb"][cfp["ok"]]
    cid = np.array([p.split("/")[1] for p in cfp["paths"][cfp["ok"]]])  # images/NNN/frontal/01.jpg
    split = lfw_split()
    lid = np.array([lfw_person(str(p)) for p in lfw["paths"]])
    train = lfw["ok"] & np.array([split[p] == "train" for p in lid])
    cfp_scores = _pairs(ce, cid)
    lfw_scores = _pairs(lfw["emb"][train], lid[train])
    counts = {
        "cfp_faces": len(ce),
        "cfp_people": len(set(cid)),
        "cfp_impostor_pairs": int(cfp_scores.size),
        "lfw_train_faces": int(train.sum()),
        "lfw_train_people": len(set(lid[train])),
        "lfw_train_impostor_pairs": int(lfw_scores.size),
    }
    return np.concatenate([cfp_scores, lfw_scores]).astype(np.float32), counts


def utk_evidence(cache: Path) -> str:
    """Why UTKFace is left out: its own 'impostor' tail is duplicates and repeats."""
    cfp, utk = np.load(cache / "cfp.npz"), np.load(cache / "utk.npz")
    ue, ce = utk["emb"][utk["ok"]], cfp["emb"][cfp["ok"]]
    uu = (ue @ ue.T)[np.triu_indices(len(ue), 1)]
    cu = (ce @ ue.T).ravel()
    return (
        f"UTKFace x UTKFace pairs: {int((uu >= 0.999).sum())} at >= 0.999 (duplicates), "
        f"{int((uu >= 0.6).sum())} at >= 0.6; "
        f"CFP x UTKFace: max {cu.max():.3f}, {int((cu >= 0.6).sum())} at >= 0.6"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--tail-fraction", type=float, default=1e-3)
    args = ap.parse_args()
    from faceproof import FaceProof

    model = ModelId.from_client(FaceProof())
    recorded = str(np.load(args.cache / "cfp.npz")["recognizer"])
    if recorded != model.name.split("/")[0]:
        raise SystemExit(f"cache was made with {recorded}, not {model.name}")
    scores, counts = impostor_scores(args.cache)
    dist = fit_impostor_distribution(
        scores,
        model,
        tail_fraction=args.tail_fraction,
        provenance={
            "summary": f"{scores.size:,} impostor pairs of CFP dev folds 1-2 and LFW View 1 dev-train people, "
            f"exponential tail above the top {args.tail_fraction:g}",
            "command": "PYTHONPATH=src python bench/index_calibrate.py (embeddings: bench/index_embed.py cfp lfw)",
            "data": "../shared/testdata/cfp_dev (folds 1-2, frontal and profile crops) and the people of "
            "../shared/testdata/lfw_view1/pairs_dev_train.csv; LFW dev-test people held out for measurement",
            "embedding": "FaceProof() defaults (YuNet, SFace with flip TTA); "
            "LFW: the face nearest the centre, CFP: the largest",
            "created": dt.date.today().isoformat(),
            **counts,
        },
    )
    out = REPO / "src" / "faceproof" / "data" / f"index_impostor_{model.name.replace('/', '_')}.json"
    out.write_text(json.dumps(dist.to_json(), indent=1) + "\n", encoding="utf-8")
    print(f"{scores.size:,} impostor pairs, mean {scores.mean():.4f}, sd {scores.std():.4f}, max {scores.max():.4f}")
    print(f"tail above {dist.tail_start:.4f} (FAR {dist.tail_fraction:.2e}), scale {dist.tail_scale:.4f}")
    for n in (1_000, 10_000, 100_000, 1_000_000):
        row = [f"{dist.threshold(f, n):.4f}" for f in (1e-2, 1e-3)]
        print(f"gallery {n:>9,}: threshold at FPIR 1% {row[0]}, at FPIR 0.1% {row[1]}")
    q = np.sort(scores)
    for f in (1e-3, 1e-4, 1e-5, 1e-6):
        emp = float(q[int(np.ceil(q.size * (1 - f))) - 1])
        print(f"FAR {f:.0e}: measured threshold {emp:.4f}, model {dist.threshold(1 - (1 - f) ** 1, 1):.4f}")
    if (args.cache / "utk.npz").exists():
        print(utk_evidence(args.cache))
    print(f"wrote {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
