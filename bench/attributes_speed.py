"""Cost of the gender/age test-time augmentation: milliseconds per face for the attribute
model alone (chips + both networks), seed configuration vs shipped, on the first 200 faces
of utkface_dev (one ONNX Runtime thread, the median of 3 passes).

    flock /tmp/faceproof-cpu.lock python bench/attributes_speed.py
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path

from faceproof import FaceProof
from faceproof.errors import FaceProofError
from faceproof.runtime.attributes import AgeGenderModel

REPO = Path(__file__).resolve().parents[1]


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
    configs = {
        "seed (padding 0.2, no mirror)": AgeGenderModel(paddings=(0.2,), flip=False),
        "shipped (3 paddings x mirror)": AgeGenderModel(),
    }
    print(f"| configuration | ms per face (attribute model only, {len(samples)} faces) |")
    print("|---|---|")
    for name, model in configs.items():
        model.load()
        model.predict(*samples[0])
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            for image, faces in samples:
                model.predict(image, faces)
            runs.append((time.perf_counter() - start) * 1000 / len(samples))
        print(f"| {name} | {statistics.median(runs):.1f} |")


if __name__ == "__main__":
    main()
