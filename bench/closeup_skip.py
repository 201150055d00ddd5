"""Does skipping YuNet's close-up pass when it cannot add a face change any detection?

The default pyramid skips the close-up pass (long side 320, 25 % padding, faces >= 35 %
of the long side) when the 640-px main pass found faces and all of them are under 28 %
of the long side (``PyramidPass.skip_below``). This compares, image by image, the faces
of the default detector with those of the same pyramid that always runs the pass:

* every licensed photo of ``photos/manifest.csv`` as it is and resized to 640 px (long side);
* synthetic close-ups of each single-face photo, the face filling 35 % ... 110 % of a
  1080-px crop (``bench/closeup_pass.py``'s crops: the case the pass exists for);
* every CFP image of ``cfp_dev`` (frontal and profile, varied sizes).

A difference is a different number of faces or a box or landmark moved by more than
0.01 px. It also reports how often the pass ran and the detection time of both pyramids
per 640-px photo (median of ``--repeat``, alternating, ONNX Runtime on one thread)::

    flock -x /tmp/faceproof-cpu.lock python bench/closeup_skip.py
"""

from __future__ import annotations

import argparse
import csv
import io
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
from closeup_pass import FILLS, close_up
from PIL import Image

from faceproof.runtime.detect import PyramidPass, YuNetDetector
from faceproof.runtime.io import load_image
from faceproof.types import Face


def always() -> YuNetDetector:
    """The default pyramid with the close-up pass never skipped."""
    default = YuNetDetector()
    return YuNetDetector(
        passes=tuple(PyramidPass(p.long_side, p.pad, p.min_rel, p.max_rel, p.extra_confidence) for p in default.passes)
    )


def same(a: list[Face], b: list[Face]) -> bool:
    if len(a) != len(b):
        return False
    for fa, fb in zip(a, b, strict=True):
        boxes = np.array([fa.bbox.x1, fa.bbox.y1, fa.bbox.x2, fa.bbox.y2]) - np.array(
            [fb.bbox.x1, fb.bbox.y1, fb.bbox.x2, fb.bbox.y2]
        )
        if np.abs(boxes).max() > 0.01:
            return False
        if (fa.landmarks is None) != (fb.landmarks is None):
            return False
        if fa.landmarks is not None and fb.landmarks is not None and np.abs(fa.landmarks - fb.landmarks).max() > 0.01:
            return False
    return True


def at_640(image: np.ndarray) -> np.ndarray:
    scale = 640 / max(image.shape[:2])
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    out = Image.fromarray(image).resize(size, Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=90)
    return load_image(buf.getvalue())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--testdata", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "testdata")
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    skip, full = YuNetDetector(), always()
    photos = args.testdata / "photos"
    rows = list(csv.DictReader((photos / "manifest.csv").open(encoding="utf-8")))
    sets: dict[str, list[np.ndarray]] = {"manifest photos as they are": [], "manifest photos at 640 px": []}
    closeups: list[np.ndarray] = []
    for row in rows:
        image = load_image(photos / row["path"])
        sets["manifest photos as they are"].append(image)
        sets["manifest photos at 640 px"].append(at_640(image))
        if int(row["faces"]) == 1:
            found = full.detect(image)
            if len(found) == 1 and found[0].landmarks is not None:
                closeups.extend(close_up(image, found[0], fill)[0] for fill in FILLS)
    sets["close-ups of the single-face photos (35-110 % fill)"] = closeups
    cfp = sorted((args.testdata / "cfp_dev" / "images").rglob("*.jpg"))
    sets["cfp_dev images"] = [load_image(p) for p in cfp]

    runs = {"full": 0, "skip": 0}
    for name, det in (("full", full), ("skip", skip)):
        inner = det._run

        def counted(bgr: np.ndarray, name: str = name, inner=inner) -> np.ndarray:  # type: ignore[no-untyped-def]
            runs[name] += 1
            return inner(bgr)

        det._run = counted  # type: ignore[method-assign]
    print("| images | n | faces found (always / skip) | images whose faces differ | close-up pass skipped |")
    print("|---|---|---|---|---|")
    for name, images in sets.items():
        n_full = n_skip = differ = skipped = 0
        for image in images:
            before = dict(runs)
            a, b = full.detect(image), skip.detect(image)
            n_full, n_skip = n_full + len(a), n_skip + len(b)
            differ += 0 if same(a, b) else 1
            skipped += (runs["skip"] - before["skip"]) < (runs["full"] - before["full"])
        print(f"| {name} | {len(images)} | {n_full} / {n_skip} | {differ} | {skipped} of {len(images)} |")

    timing = sets["manifest photos at 640 px"]
    t_full: list[float] = []
    t_skip: list[float] = []
    for _ in range(args.repeat):
        for det, acc in ((full, t_full), (skip, t_skip)):
            start = time.perf_counter()
            for image in timing:
                det.detect(image)
            acc.append((time.perf_counter() - start) * 1000 / len(timing))
    a, b = statistics.median(t_full), statistics.median(t_skip)
    print(f"\ndetect per 640-px manifest photo ({len(timing)} photos, median of {args.repeat}): ")
    print(f"always {a:.2f} ms, skip when it cannot add a face {b:.2f} ms ({b / a:.3f})")


if __name__ == "__main__":
    main()
