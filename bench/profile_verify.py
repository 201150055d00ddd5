"""Where does ``verify`` spend its time? Run it under a sampling profiler, then summarise.

    py-spy record -r 200 -f raw -o /tmp/verify-profile.txt -- python bench/profile_verify.py
    python bench/profile_verify.py --summarize /tmp/verify-profile.txt

Without py-spy (not installed on the 2026-11-29 machine), ``--cprofile`` runs the same
workload under Python's deterministic profiler with OpenCV on one thread (as a service
worker runs it) and charges the time of the native calls that do the work (YuNet's
forward in ONNX Runtime or ``FaceDetectorYN``, SFace's ``cv2.dnn`` forward, Pillow's JPEG
decoder) to their stage; the rest is Python glue and small OpenCV calls. ``--engine
opencv`` runs YuNet on ``FaceDetectorYN`` (the engine before 2026-11-29):

    flock -x /tmp/faceproof-cpu.lock python bench/profile_verify.py --cprofile
    flock -x /tmp/faceproof-cpu.lock python bench/profile_verify.py --cprofile --engine opencv

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


#: for --cprofile: (stage, function, file): the cumulative time of these functions
CUMULATIVE = [
    ("YuNet: network and decoding (detect, 2 passes per image)", "_run", "faceproof/runtime/detect.py"),
    ("SFace forward (embed)", "forward", "faceproof/runtime/embed.py"),
    ("image decode (Pillow)", "decode_image", "faceproof/runtime/io.py"),
    ("align (5-point similarity + warp)", "chips", "faceproof/runtime/embed.py"),
]


def cprofile(engine: str) -> None:
    import cProfile
    import pstats
    import time

    import cv2

    cv2.setNumThreads(1)
    fp = _client(engine)
    profiler = cProfile.Profile()
    cpu = time.process_time()
    profiler.enable()
    calls = _run(fp)
    profiler.disable()
    cpu = time.process_time() - cpu
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = 0.0
    shares: Counter[str] = Counter()
    for (path, _line, name), (_cc, _nc, _tt, ct, _callers) in stats.items():
        if name == "verify" and path.endswith("faceproof/client.py"):
            total += ct
        for label, func, marker in CUMULATIVE:
            if name == func and path.endswith(marker):
                shares[label] += ct
    shares["other (detect's resize/pad/NMS, compare, pose, glue)"] = total - sum(shares.values())
    print(f"YuNet engine {engine}: {calls} verify calls, {1000 * cpu / calls:.1f} ms CPU per verify (profiled)")
    print("| where | share of the profiled time | ms per verify |\n|---|---|---|")
    for label, t in shares.most_common():
        print(f"| {label} | {100.0 * t / total:.1f} % | {1000.0 * t / calls:.1f} |")


def _client(engine: str) -> object:
    from faceproof import FaceProof
    from faceproof.runtime.detect import YuNetDetector

    fp = FaceProof(attributes=(), detector=YuNetDetector(engine=engine))
    fp.warmup()
    return fp


def _run(fp: object) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from speed import SINGLE_FACE_640, jpeg_at

    photos = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "photos"
    datas = [jpeg_at(photos / p, 640) for p in SINGLE_FACE_640]
    calls = 0
    for _ in range(8):
        for i in range(len(datas)):
            fp.verify(datas[i], datas[(i + 1) % len(datas)])  # type: ignore[attr-defined]
            calls += 1
    return calls


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
    ap.add_argument("--cprofile", action="store_true", help="profile with cProfile instead (no py-spy needed)")
    ap.add_argument("--engine", default="onnxruntime", help="YuNet engine for --cprofile: onnxruntime or opencv")
    args = ap.parse_args()
    if args.cprofile:
        cprofile(args.engine)
    elif args.summarize:
        summarize(args.summarize)
    else:
        workload()
