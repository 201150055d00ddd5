"""Where does ``verify`` spend its time? Run it under a sampling profiler, then summarise.

    py-spy record -r 200 -f raw -o /tmp/verify-profile.txt -- python bench/profile_verify.py
    python bench/profile_verify.py --summarize /tmp/verify-profile.txt

The workload: 80 ``verify`` calls on pairs of the ten 640-px single-face photos that
``bench/speed.py`` uses, with the default configuration (flip TTA on). The summary charges
every sample to the innermost faceproof stage on its stack.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

STAGES = [
    ("YuNet forward (detect)", "_run (faceproof/runtime/detect.py"),
    ("SFace forward (embed)", "embed_chips (faceproof/runtime/embed.py"),
    ("image decode (Pillow)", "decode_image (faceproof/runtime/io.py"),
    ("detect: resize, pad, NMS, boxes (Python + OpenCV)", "detect (faceproof/runtime/detect.py"),
    ("align (warp)", "norm_crop (faceproof/runtime/align.py"),
    ("compare", "compare_faces (faceproof/runtime/verify.py"),
    ("test-image preparation (not verify)", "jpeg_at (speed.py"),
    ("model load / warm-up (not verify)", "warmup (faceproof/runtime/pipeline.py"),
]


def summarize(path: Path) -> None:
    counts: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        total += int(n)
        label = "other (Python glue, idle threads)"
        for frame in stack.split(";"):
            for name, marker in STAGES:
                if marker in frame:
                    label = name
        counts[label] += int(n)
    print("| where | share of samples |\n|---|---|")
    for name, n in counts.most_common():
        print(f"| {name} | {100.0 * n / total:.1f} % |")


def workload() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from speed import SINGLE_FACE_640, jpeg_at

    from faceproof import FaceProof

    photos = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "photos"
    datas = [jpeg_at(photos / p, 640) for p in SINGLE_FACE_640]
    fp = FaceProof(attributes=())
    fp.warmup()
    for _ in range(8):
        for i in range(len(datas)):
            fp.verify(datas[i], datas[(i + 1) % len(datas)])


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--summarize", type=Path, default=None, help="a py-spy raw (collapsed) profile")
    args = ap.parse_args()
    if args.summarize:
        summarize(args.summarize)
    else:
        workload()
