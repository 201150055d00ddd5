"""SFace's engines side by side: ``cv2.dnn`` (OpenCV), OpenVINO float32 (the default) and
OpenVINO bfloat16, on real aligned chips: CPU per chip (one thread each, the engines
taking turns) and how far each one's outputs are from OpenCV's.

    flock -x /tmp/faceproof-cpu.lock python bench/sface_engines.py --repeat 20

The chips: every face of the licensed manifest photos, aligned as the pipeline aligns
them (112x112, ArcFace template).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from faceproof import FaceProof
from faceproof.runtime.embed import SFaceRecognizer
from faceproof.runtime.io import load_image


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--testdata", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "testdata")
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    photos = args.testdata / "photos"
    fp = FaceProof(attributes=(), flip=False)
    chips = []
    for row in csv.DictReader((photos / "manifest.csv").open(encoding="utf-8")):
        image = load_image(photos / row["path"])
        chips.extend(fp.pipeline.recognizer.chips(image, fp.detect(image)))
    engines = {
        "cv2.dnn (engine='opencv')": SFaceRecognizer(engine="opencv"),
        "OpenVINO float32 (default)": SFaceRecognizer(),
        "OpenVINO bfloat16 (precision='bf16')": SFaceRecognizer(precision="bf16"),
    }
    outputs = {name: r.forward(chips) for name, r in engines.items()}  # also loads and warms each
    reference = outputs["cv2.dnn (engine='opencv')"]
    unit_ref = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    times: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(args.repeat):
        for name, r in engines.items():
            start = time.process_time()
            r.forward(chips)
            times[name].append((time.process_time() - start) * 1000 / len(chips))
    base = statistics.median(times["cv2.dnn (engine='opencv')"])
    print(f"{len(chips)} chips, {args.repeat} turns, CPU time (process_time) per chip, one thread each\n")
    print(
        "| engine | CPU ms per chip (median) | ratio to cv2.dnn | cosine to cv2.dnn's output, min "
        "| max abs difference |"
    )
    print("|---|---|---|---|---|")
    for name, out in outputs.items():
        unit = out / np.linalg.norm(out, axis=1, keepdims=True)
        cos = float((unit * unit_ref).sum(axis=1).min())
        ms = statistics.median(times[name])
        print(f"| {name} | {ms:.2f} | {ms / base:.3f} | {cos:.7f} | {float(np.abs(out - reference).max()):.2e} |")


if __name__ == "__main__":
    main()
