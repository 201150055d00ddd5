"""The verdicts of ``FaceProof.verify`` itself (no cache, every face of both photos, the
N x M matrix) on CFP frontal-vs-profile and frontal-vs-frontal pairs and LFW View 1
dev-test, in the default configuration (pose-aware thresholds, the cascade) and in the
previous one (``cascade=False, pose_thresholds=False``: always-flip at the table's
threshold); accuracy, FAR, TAR, and the share of pairs whose deciding pair reached the
cascade's flip stage.

    flock -s /tmp/faceproof-cpu.lock python bench/pose_end_to_end.py

The shipped pose table was fitted on both CFP folds, so the CFP rows here are in-sample
(the held-out CFP numbers are bench/pose_calibrate.py's); LFW dev-test is held out.
"""

from __future__ import annotations

import argparse
import csv
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "testdata"
SETS = {
    "CFP-FP": (DATA / "cfp_dev", "pairs_fp.csv"),
    "CFP-FF": (DATA / "cfp_dev", "pairs_ff.csv"),
    "LFW dev-test": (DATA / "lfw_view1", "pairs_dev_test.csv"),
}
_clients: dict[str, object] = {}


def _run(job: tuple[str, str, str, str]) -> tuple[int | None, int]:
    from faceproof import FaceProof

    config, root, a, b = job
    if config not in _clients:
        import cv2

        cv2.setNumThreads(1)
        opts = {} if config == "default" else {"cascade": False, "pose_thresholds": False}
        _clients[config] = FaceProof(attributes=(), **opts)
    r = _clients[config].verify(Path(root) / a, Path(root) / b)  # type: ignore[attr-defined]
    verdict = None if r.verdict is None else int(r.verdict)
    stage = 0
    if r.stages is not None and r.stages.size and r.pair_thresholds is not None:
        i, j = np.unravel_index(int(np.argmin(r.distances - r.pair_thresholds.values)), r.distances.shape)
        stage = int(r.stages[i, j])
    return verdict, stage


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    ap.add_argument("--configs", nargs="+", default=["before", "default"], choices=["before", "default"])
    args = ap.parse_args()
    print("| pairs | configuration | accuracy | FAR | TAR | no face | deciding pair at the flip stage |")
    print("|---|---|---|---|---|---|---|")
    with ProcessPoolExecutor(args.workers) as ex:
        for name in args.sets:
            root, file = SETS[name]
            with (root / file).open(newline="") as fh:
                rows = list(csv.DictReader(fh))
            labels = np.array([int(r["same"]) for r in rows])
            for config in args.configs:
                jobs = [(config, str(root), r["path1"], r["path2"]) for r in rows]
                out = list(ex.map(_run, jobs, chunksize=8))
                verdicts = np.array([-1 if v is None else v for v, _ in out])
                pred = verdicts == 1
                acc = float(np.mean(pred == labels.astype(bool)))
                far = float(np.mean(pred[labels == 0]))
                tar = float(np.mean(pred[labels == 1]))
                stage2 = float(np.mean([s == 2 for _, s in out])) if config == "default" else float("nan")
                label = (
                    "before: always-flip, table threshold" if config == "before" else "default: cascade + pose-aware"
                )
                s2 = "—" if config == "before" else f"{100 * stage2:.2f} %"
                print(
                    f"| {name} | {label} | {100 * acc:.2f} % | {100 * far:.2f} % | {100 * tar:.2f} % | "
                    f"{int(np.sum(verdicts == -1))} | {s2} |"
                )


if __name__ == "__main__":
    main()
