"""The verification cascade's margins: how close to the no-flip threshold a pair's
no-flip distance must be before the flipped embeddings are worth computing.

For every pair of a pair list (LFW View 1 dev-train by default) it computes the no-flip
distance d0 and the always-flip distance d1 (SFace, face nearest the centre, the
library's own embedding path), and for each metric the smallest margin m such that every
pair with |d0 - t0| > m gets the same decision from d0 at the no-flip threshold t0 as from
d1 at the flip threshold t1; the shipped margin is that value times a safety factor (and
never below |t1 - t0|, so that one threshold reads the whole matrix). It then reports, on
the check pairs (dev-test), the share of pairs that reach the flip stage and whether any
decision differs from always-flip.

    flock /tmp/faceproof-cpu.lock python bench/cascade_calibrate.py --cache /tmp/fp-cache \\
        --out src/faceproof/data/cascade.json

Prints a Markdown table (docs/accuracy.md quotes it).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from faceproof import Pipeline, PipelineConfig
from faceproof.evaluation import ClientConfig, FacePolicy, embed_images, load_pairs, pair_distances
from faceproof.runtime.compare import Metric

REPO = Path(__file__).resolve().parents[1]
LFW = REPO.parent / "shared" / "testdata" / "lfw_view1"
METRICS = (Metric.COSINE, Metric.EUCLIDEAN_L2)


def distances(pairs_path: Path, root: Path, cache: Path | None) -> dict[str, dict[Metric, np.ndarray]]:
    pairs = load_pairs(pairs_path)
    out: dict[str, dict[Metric, np.ndarray]] = {}
    for name, flip in (("noflip", False), ("flip", True)):
        config = ClientConfig(flip=flip)
        images = embed_images(pairs.paths(), root, config, workers=2, backend="process", cache_dir=cache)
        out[name] = {m: pair_distances(pairs.pairs, images, m, FacePolicy.CENTER) for m in METRICS}
    out["labels"] = {m: pairs.labels for m in METRICS}  # type: ignore[dict-item]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=Path, default=LFW / "pairs_dev_train.csv")
    ap.add_argument("--check", type=Path, default=LFW / "pairs_dev_test.csv")
    ap.add_argument("--root", type=Path, default=LFW)
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--safety", type=float, default=1.5, help="shipped margin = safety x the measured one")
    ap.add_argument("--out", type=Path, default=None, help="write the margins (data/cascade.json)")
    args = ap.parse_args()

    t0 = {m: Pipeline(PipelineConfig(flip=False, attributes=(), metric=m)).default_threshold.value for m in METRICS}
    t1 = {m: Pipeline(PipelineConfig(flip=True, attributes=(), metric=m)).default_threshold.value for m in METRICS}
    train = distances(args.pairs, args.root, args.cache)
    check = distances(args.check, args.root, args.cache)
    margins: dict[str, dict[str, object]] = {}
    print(
        "| metric | t0 (no flip) | t1 (flip) | measured margin | shipped margin | train pairs at stage 2 "
        "| check pairs at stage 2 | check decisions unlike always-flip |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for m in METRICS:
        d0, d1 = train["noflip"][m], train["flip"][m]
        finite = np.isfinite(d0) & np.isfinite(d1)
        differ = finite & ((d0 <= t0[m]) != (d1 <= t1[m]))
        measured = float(np.max(np.abs(d0[differ] - t0[m]))) if differ.any() else 0.0
        margin = max(args.safety * measured, abs(t1[m] - t0[m]) * 1.01)
        c0, c1 = check["noflip"][m], check["flip"][m]
        stage2_train = float(np.mean(np.abs(d0 - t0[m]) <= margin))
        stage2_check = np.abs(c0 - t0[m]) <= margin
        final = np.where(stage2_check, c1 <= t1[m], c0 <= t0[m])
        unlike = int(np.sum(final != (c1 <= t1[m])))
        print(
            f"| {m.value} | {t0[m]:.6f} | {t1[m]:.6f} | {measured:.4f} ({int(differ.sum())} pairs differ) | "
            f"{margin:.4f} | {100 * stage2_train:.1f} % | {100 * float(np.mean(stage2_check)):.1f} % | {unlike} |"
        )
        margins[m.value] = {
            "margin": round(margin, 6),
            "measured": round(measured, 6),
            "safety": args.safety,
            "pairs_differing": int(differ.sum()),
            "stage2_share_train": round(stage2_train, 4),
        }
    if args.out is not None:
        doc = {
            "schema": 1,
            "comment": "verification cascade margins (no-flip stage, then flip TTA for pairs within the margin)",
            "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "command": "python bench/cascade_calibrate.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
            "source": f"calibrated on {args.pairs.parent.name}/{args.pairs.name}: the largest |d0 - t0| of a pair "
            "whose no-flip and flip decisions differ, times the safety factor",
            "model": "sface",
            "metrics": margins,
        }
        args.out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
