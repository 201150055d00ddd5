"""CPU cost of ``verify`` with the cascade against always-flip and no-flip, side by side
in one run (the configurations take turns call by call, OpenCV on one thread as a service
worker runs it), plus the share of pairs that reach the flip stage on LFW View 1 dev-test
and on CFP frontal-vs-profile pairs.

The timed pairs are 640-px single-face photos (the load test's obama1 + chirac1, and
obama1 + obama2: a different-person and a same-person pair). Ratios are medians of the
per-turn ratios of process CPU time, so machine load moves them far less than the
absolute times, which are printed with the date, commit and load.

    flock /tmp/faceproof-cpu.lock python bench/cascade_speed.py --cache /tmp/fp-cache
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from faceproof import FaceProof, Pipeline, PipelineConfig
from faceproof.evaluation import ClientConfig, FacePolicy, embed_images, load_pairs, pair_distances
from faceproof.runtime.compare import Metric

TESTDATA = Path(__file__).resolve().parents[2] / "shared" / "testdata"


def jpeg_640(path: Path) -> bytes:
    im = Image.open(path).convert("RGB")
    im.thumbnail((640, 640), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def stage2_share(pairs_path: Path, root: Path, cache: Path | None) -> tuple[float, int, int]:
    """Share of pairs within the cosine margin of t0, and decisions unlike always-flip
    (the table's thresholds, one margin: the pose-aware shares are bench/pose_calibrate.py's)."""
    pipe = Pipeline(PipelineConfig(attributes=(), cascade=True))
    t0, t1, margin = pipe.cascade_plan(Metric.COSINE, None)  # type: ignore[misc]
    pairs = load_pairs(pairs_path)
    d = {}
    for flip in (False, True):
        images = embed_images(
            pairs.paths(), root, ClientConfig(flip=flip), workers=2, backend="process", cache_dir=cache
        )
        d[flip] = pair_distances(pairs.pairs, images, Metric.COSINE, FacePolicy.CENTER)
    unsure = np.abs(d[False] - t0) <= margin
    final = np.where(unsure, d[True] <= t1, d[False] <= t0)
    return float(unsure.mean()), int(np.sum(final != (d[True] <= t1))), len(pairs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=60)
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument(
        "--no-shares",
        action="store_true",
        help="time only (the stage shares with the pose-aware thresholds: bench/pose_calibrate.py)",
    )
    args = ap.parse_args()
    cv2.setNumThreads(1)
    photos = TESTDATA / "photos" / "pytopenface"
    pairs = [
        (jpeg_640(photos / "obama1.jpg"), jpeg_640(photos / "chirac1.jpg")),
        (jpeg_640(photos / "obama1.jpg"), jpeg_640(photos / "obama2.jpg")),
    ]
    configs = {
        "always-flip": FaceProof(attributes=(), cascade=False, pose_thresholds=False),
        "no-flip": FaceProof(attributes=(), flip=False),
        "cascade": FaceProof(pipeline=Pipeline(PipelineConfig(attributes=(), cascade=True))),
    }
    for fp in configs.values():
        fp.warmup()
        for a, b in pairs:
            fp.verify(a, b)
    load_before = os.getloadavg()
    cpu: dict[str, list[float]] = {k: [] for k in configs}
    for i in range(args.repeat):
        a, b = pairs[i % len(pairs)]
        for name, fp in configs.items():
            t = time.process_time()
            fp.verify(a, b)
            cpu[name].append((time.process_time() - t) * 1000)
    load_after = os.getloadavg()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit}, {os.cpu_count()} cores, "
        f"load {load_before[0]:.1f} -> {load_after[0]:.1f}, {args.repeat} turns, OpenCV 1 thread\n"
    )
    print("| configuration | CPU ms per verify (median) | ratio to always-flip (median of per-turn ratios) |")
    print("|---|---|---|")
    for name in configs:
        ratios = [c / f for c, f in zip(cpu[name], cpu["always-flip"], strict=True)]
        print(f"| {name} | {statistics.median(cpu[name]):.1f} | {statistics.median(ratios):.3f} |")
    if args.no_shares:
        return
    print("\n| pairs | pairs | share at the flip stage | decisions unlike always-flip |")
    print("|---|---|---|---|")
    for label, path, root in (
        ("LFW View 1 dev-test", TESTDATA / "lfw_view1" / "pairs_dev_test.csv", TESTDATA / "lfw_view1"),
        ("CFP-FP folds 1-2", TESTDATA / "cfp_dev" / "pairs_fp.csv", TESTDATA / "cfp_dev"),
        ("CFP-FF folds 1-2", TESTDATA / "cfp_dev" / "pairs_ff.csv", TESTDATA / "cfp_dev"),
    ):
        share, unlike, n = stage2_share(path, root, args.cache)
        print(f"| {label} | {n} | {100 * share:.1f} % | {unlike} |")


if __name__ == "__main__":
    main()
