"""Would the SFace + dlib fusion rescue frontal-vs-profile pairs? TAR at FAR 1e-3 and the
2-fold accuracy of SFace (flip), of dlib's ResNet alone and of the fused distance
``d_sface + w * d_dlib`` on CFP FP and FF pairs (folds 1-2; ``w`` chosen in-sample, so the
fused rows are an upper bound).

    flock -s /tmp/faceproof-cpu.lock python bench/pose_fusion.py --cfp /tmp/hard-cache/cfp.npz \\
        --dlib-cache /tmp/hard-cache/cfp_dlib.npz

``--cfp`` is bench/pose_collect.py's cache; the dlib embeddings (centre face, YuNet
detection, the library's dlib recognizer) are computed once into ``--dlib-cache``.
"""

from __future__ import annotations

import argparse
import csv
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pose_calibrate as pc

from faceproof import Pipeline, PipelineConfig

_pipe: Pipeline | None = None


def _dlib_one(rel: str) -> np.ndarray:
    global _pipe
    if _pipe is None:
        import cv2

        cv2.setNumThreads(1)
        _pipe = Pipeline(PipelineConfig(model="dlib", attributes=()))
    image = _pipe.load_image(pc.DATA / "cfp_dev" / rel)
    h, w = image.shape[:2]
    faces = _pipe.faces(image)
    if not faces:
        return np.full(128, np.nan, np.float32)
    f = min(
        faces, key=lambda f: ((f.bbox.x1 + f.bbox.x2) / 2 - w / 2) ** 2 + ((f.bbox.y1 + f.bbox.y2) / 2 - h / 2) ** 2
    )
    return np.asarray(f.embedding, np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cfp", type=Path, required=True)
    ap.add_argument("--dlib-cache", type=Path, required=True)
    args = ap.parse_args()
    cfp = pc.Images.load(args.cfp)
    paths = list(cfp.index)
    if args.dlib_cache.exists():
        emb = np.load(args.dlib_cache)["emb"]
    else:
        with ProcessPoolExecutor(2) as ex:
            emb = np.stack(list(ex.map(_dlib_one, paths, chunksize=16)))
        np.savez(args.dlib_cache, paths=np.array(paths), emb=emb)
    print(
        "| pairs | SFace flip: TAR at FAR 1e-3 / 2-fold acc. | dlib alone: TAR at FAR 1e-3 "
        "| best fused (w) TAR at FAR 1e-3 / 2-fold acc. |"
    )
    print("|---|---|---|---|")
    for name in ("pairs_fp.csv", "pairs_ff.csv"):
        path = pc.DATA / "cfp_dev" / name
        p = pc.load_pairs(name, path, cfp)
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        a = np.array([cfp.index[r["path1"]] for r in rows])
        b = np.array([cfp.index[r["path2"]] for r in rows])
        dd = 1.0 - np.sum(emb[a] * emb[b], axis=1)
        dd = np.where(np.isfinite(dd), dd, 1.0)
        best = max((pc.tar_at_far(p.d1 + w * dd, p.labels), w) for w in (0.25, 0.5, 1.0, 2.0, 4.0))
        fused = pc.Pairs(p.name, p.labels, p.fold, p.d1 + best[1] * dd, p.d0, p.dturn, p.dyaw, p.dyaw_sym)
        print(
            f"| CFP {name[6:8].upper()} | {pc.pct(pc.tar_at_far(p.d1, p.labels))} / {pc.pct(pc.kfold_accuracy(p))} | "
            f"{pc.pct(pc.tar_at_far(dd, p.labels))} | {pc.pct(best[0])} ({best[1]:g}) "
            f"/ {pc.pct(pc.kfold_accuracy(fused))} |"
        )


if __name__ == "__main__":
    main()
