"""CPU cost of one ``verify`` and where it goes, as one inference worker of the service
spends it (OpenCV on one thread), with and without flip TTA.

The pair is the load test's obama1 + chirac1, resized to 640 px (long side) and
re-encoded as JPEG in memory, as ``bench/load_service.py`` sends them. Prints, per
configuration, the process CPU time per verify (mean of ``--repeat`` calls after 5
warm-up calls) and the median of each stage's ``timings_ms``.

    flock /tmp/faceproof-cpu.lock python bench/verify_cpu.py
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from pathlib import Path

import cv2
from PIL import Image

from faceproof import FaceProof

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "photos"


def jpeg_640(path: Path) -> bytes:
    im = Image.open(path).convert("RGB")
    im.thumbnail((640, 640), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=Path, default=PHOTOS)
    ap.add_argument("--repeat", type=int, default=100)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    a = jpeg_640(args.photos / "pytopenface/obama1.jpg")
    b = jpeg_640(args.photos / "pytopenface/chirac1.jpg")
    for flip in (True, False):
        fp = FaceProof(flip=flip, attributes=())
        fp.warmup()
        for _ in range(5):
            fp.verify(a, b)
        stages: dict[str, list[float]] = {}
        cpu0 = time.process_time()
        for _ in range(args.repeat):
            for key, ms in fp.verify(a, b).timings_ms.items():
                stages.setdefault(key, []).append(ms)
        cpu_ms = 1000 * (time.process_time() - cpu0) / args.repeat
        medians = ", ".join(f"{k} {statistics.median(v):.1f}" for k, v in stages.items())
        print(f"flip {'on ' if flip else 'off'}: {cpu_ms:.1f} ms CPU per verify; median ms: {medians}")


if __name__ == "__main__":
    main()
