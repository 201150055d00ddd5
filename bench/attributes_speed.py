"""Cost of the gender/age test-time augmentation: milliseconds per face for the attribute
model alone (chips + both networks), seed configuration vs shipped, on the first 200 faces
of utkface_dev (one ONNX Runtime thread), next to SFace's embedding of the same faces
(align + forward, flip TTA on as shipped; OpenCV's default threads) as the yardstick.

The configurations take turns pass by pass (3 passes each, rotating order) and the ratios
are the median of the per-pass ratios, so the load of the shared machine falls on all of
them alike; the absolute milliseconds move with that load.

    flock /tmp/faceproof-cpu.lock python bench/attributes_speed.py
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from faceproof import FaceProof
from faceproof.errors import FaceProofError
from faceproof.runtime.attributes import AgeGenderModel

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from speed import machine_facts  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--testdata", type=Path, default=REPO.parent / "shared" / "testdata")
    ap.add_argument("-n", type=int, default=200)
    args = ap.parse_args()
    root = args.testdata / "utkface_dev"
    with (root / "labels.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[: args.n]
    fp = FaceProof(attributes=())
    samples = []
    for row in rows:
        try:
            image = fp.load_image(root / row["path"])
        except FaceProofError:
            continue
        faces = fp.detect(image)
        if faces:
            samples.append((image, faces[:1]))
    embedder = FaceProof(attributes=(), flip=True)
    embedder.warmup()
    configs: dict[str, Callable[..., object]] = {
        "seed (padding 0.2, no mirror)": AgeGenderModel(paddings=(0.2,), flip=False).predict,
        "shipped (3 paddings x mirror)": AgeGenderModel().predict,
        "yardstick: SFace embed, flip TTA (align + 2 forwards)": embedder.pipeline.embed,
    }
    facts = machine_facts()
    load0 = os.getloadavg()
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    names = list(configs)
    for fn in configs.values():
        fn(*samples[0])
    runs: dict[str, list[float]] = {n: [] for n in names}
    for p in range(3):
        for name in names[p % len(names) :] + names[: p % len(names)]:
            fn = configs[name]
            start = time.perf_counter()
            for image, faces in samples:
                fn(image, faces)
            runs[name].append((time.perf_counter() - start) * 1000 / len(samples))
    load1 = os.getloadavg()
    print(
        f"{date}; commit {facts['commit']}; {facts['nproc']} x {facts['cpu_model']}; load average (1/5/15 min) "
        f"at start {'/'.join(f'{x:.1f}' for x in load0)}, at end {'/'.join(f'{x:.1f}' for x in load1)}\n"
    )
    print(f"| configuration | ms per face ({len(samples)} faces, median of 3 passes) |")
    print("|---|---|")
    for name in names:
        print(f"| {name} | {statistics.median(runs[name]):.1f} |")

    def ratio(a: str, b: str) -> str:
        rs = sorted(x / y for x, y in zip(runs[a], runs[b], strict=True))
        return f"{statistics.median(rs):.2f} (per pass {', '.join(f'{x:.2f}' for x in rs)})"

    print("\n| ratio, same passes | value |\n|---|---|")
    print(f"| shipped / seed | {ratio(names[1], names[0])} |")
    print(f"| shipped gender + age / SFace embed with flip, per face | {ratio(names[1], names[2])} |")
    print(f"| seed gender + age / SFace embed with flip, per face | {ratio(names[0], names[2])} |")


if __name__ == "__main__":
    main()
