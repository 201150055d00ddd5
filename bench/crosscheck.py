"""How the yunet+dlib cross-check changes detection on the licensed test photos.

Counts, per YuNet threshold, the faces YuNet reports, how many are true (matched to the
manifest count: when YuNet reports more faces than the manifest, the lowest-scoring extras
are false; when the manifest count is 0, all are false) and what the cross-check keeps.

    python bench/crosscheck.py [--testdata ../shared/testdata] [--out docs/detection.md]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from faceproof.runtime.detect import CrossCheckDetector, DlibHogDetector, YuNetDetector
from faceproof.runtime.io import load_image


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--testdata", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "testdata")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    photos = args.testdata / "photos"
    rows = list(csv.DictReader((photos / "manifest.csv").open(encoding="utf-8")))
    dlib_det = DlibHogDetector(0.25, landmarks=False)
    lines = [
        "| YuNet threshold | true faces (manifest) | YuNet found | YuNet false | cross-check kept "
        "| false removed | true lost | images where a true face was lost |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for thr in (0.6, 0.45, 0.3):
        yunet = YuNetDetector(thr)
        cross = CrossCheckDetector(yunet, [dlib_det])
        tot_true = found = false = kept = false_removed = true_lost = 0
        lost_where: list[str] = []
        for row in rows:
            image = load_image(photos / row["path"])
            expected = int(row["faces"])
            faces = sorted(yunet.detect(image), key=lambda f: -f.score)
            confirmed = cross.detect(image)
            conf_boxes = {tuple(f.bbox.as_list(None)) for f in confirmed}
            tot_true += expected
            found += len(faces)
            for rank, face in enumerate(faces):
                is_true = rank < expected
                is_kept = tuple(face.bbox.as_list(None)) in conf_boxes
                false += not is_true
                kept += is_kept
                false_removed += (not is_true) and not is_kept
                if is_true and not is_kept:
                    true_lost += 1
                    lost_where.append(row["path"])
        lost = ", ".join(sorted(set(lost_where))) or "-"
        lines.append(f"| {thr} | {tot_true} | {found} | {false} | {kept} | {false_removed} | {true_lost} | {lost} |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
