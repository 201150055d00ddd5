"""Collect, per image of a pair list, what pose-aware calibration needs: the centre face's
five landmarks, the landmarks of the same face found in the mirrored image, and SFace's
plain and mirrored-chip embeddings (raw, so no-flip and flip embeddings both follow).

    flock -s /tmp/faceproof-cpu.lock python bench/pose_collect.py --out /tmp/hard-cache/cfp.npz \\
        --root ../shared/testdata/cfp_dev ../shared/testdata/cfp_dev/pairs_fp.csv \\
        ../shared/testdata/cfp_dev/pairs_ff.csv

The output (an ``.npz``: paths, landmarks, mirror_landmarks, plain, mirrored, ok) is a
cache for ``bench/pose_calibrate.py``; it never goes into the repository.
"""

from __future__ import annotations

import argparse
import csv
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from faceproof import Pipeline, PipelineConfig
from faceproof.errors import FaceProofError
from faceproof.types import Face

_pipe: Pipeline | None = None


def _centre(faces: list[Face], w: int, h: int) -> Face | None:
    faces = [f for f in faces if f.landmarks is not None]
    if not faces:
        return None
    return min(
        faces, key=lambda f: ((f.bbox.x1 + f.bbox.x2) / 2 - w / 2) ** 2 + ((f.bbox.y1 + f.bbox.y2) / 2 - h / 2) ** 2
    )


def _one(args: tuple[str, str]) -> tuple[str, bool, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    global _pipe
    if _pipe is None:
        import cv2

        cv2.setNumThreads(1)
        _pipe = Pipeline(PipelineConfig(flip=False, attributes=()))
    root, rel = args
    nan5 = np.full((5, 2), np.nan, np.float32)
    nanv = np.full(128, np.nan, np.float32)
    try:
        image = _pipe.load_image(Path(root) / rel)
    except FaceProofError:
        return rel, False, nan5, nan5, nanv, nanv
    h, w = image.shape[:2]
    face = _centre(_pipe.detect(image)[0], w, h)
    if face is None:
        return rel, False, nan5, nan5, nanv, nanv
    rec = _pipe.recognizer
    chips = rec.chips(image, [face])  # type: ignore[attr-defined]
    plain = rec.forward(chips)[0]  # type: ignore[attr-defined]
    mirrored = rec.forward(chips, mirrored=True)[0]  # type: ignore[attr-defined]
    mface = _centre(_pipe.detect(np.ascontiguousarray(image[:, ::-1]))[0], w, h)
    mlm = nan5 if mface is None or mface.landmarks is None else np.asarray(mface.landmarks, np.float32).reshape(5, 2)
    return rel, True, np.asarray(face.landmarks, np.float32).reshape(5, 2), mlm, plain, mirrored


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pairs", nargs="+", type=Path)
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    paths: list[str] = []
    for p in args.pairs:
        with p.open(newline="") as fh:
            for row in csv.DictReader(fh):
                paths += [row["path1"], row["path2"]]
    paths = sorted(set(paths))
    print(f"{len(paths)} images")
    with ProcessPoolExecutor(args.workers) as ex:
        rows = list(ex.map(_one, [(str(args.root), r) for r in paths], chunksize=16))
    np.savez(
        args.out,
        paths=np.array([r[0] for r in rows]),
        ok=np.array([r[1] for r in rows]),
        landmarks=np.stack([r[2] for r in rows]),
        mirror_landmarks=np.stack([r[3] for r in rows]),
        plain=np.stack([r[4] for r in rows]),
        mirrored=np.stack([r[5] for r in rows]),
    )
    print(f"wrote {args.out}: {int(sum(r[1] for r in rows))} with a face")


if __name__ == "__main__":
    main()
