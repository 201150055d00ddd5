"""Embed the test-data faces once for the index benchmarks (cache in /tmp, never in the repo).

    flock /tmp/faceproof-cpu.lock env PYTHONPATH=src python bench/index_embed.py [--out DIR]

Writes ``DIR/<set>.npz`` (``paths``: image paths relative to the set's folder, ``emb``:
float32 (n, 128) L2-normalised SFace embeddings with the library's default flip TTA,
``ok``: whether a face was found) for ``lfw`` (LFW View 1, the face nearest the centre),
``utk`` (UTKFace dev, largest face) and ``cfp`` (CFP dev folds 1-2, largest face).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

TESTDATA = Path(os.environ.get("FACEPROOF_TESTDATA", Path(__file__).resolve().parents[2] / "shared" / "testdata"))
DEFAULT_OUT = Path("/tmp/faceproof-index-bench")

#: LFW people filed under two names (name order or transliteration), found among the
#: highest-scoring "different people" pairs and checked by name: one person each.
LFW_ALIASES = {
    "Sepp_Blatter": "Joseph_Blatter",
    "Sung_Hong_Choi": "Choi_Sung-hong",
    "Hassan_Wirajuda": "Hasan_Wirayuda",
    "Wang_Nan": "Nan_Wang",
}


def lfw_person(path: str) -> str:
    """The person of an LFW View 1 image path (``images/Name/Name_0001.jpg``), aliases merged."""
    name = path.split("/")[1]
    return LFW_ALIASES.get(name, name)


def lfw_split(root: Path | None = None) -> dict[str, str]:
    """``person -> "train" | "test"``: the people of pairs_dev_train.csv and pairs_dev_test.csv
    (View 1 keeps them disjoint; every View 1 person is in one of the two)."""
    import csv

    root = root or SETS["lfw"]
    out: dict[str, str] = {}
    for split in ("train", "test"):
        with (root / f"pairs_dev_{split}.csv").open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                for key in ("path1", "path2"):
                    out[lfw_person(row[key])] = split
    return out


SETS = {"lfw": TESTDATA / "lfw_view1", "utk": TESTDATA / "utkface_dev", "cfp": TESTDATA / "cfp_dev"}


def _pick(faces: list, shape: tuple[int, ...], centre: bool):
    if not faces:
        return None
    if centre:
        cy, cx = shape[0] / 2, shape[1] / 2
        return min(
            faces, key=lambda f: ((f.bbox.x1 + f.bbox.x2) / 2 - cx) ** 2 + ((f.bbox.y1 + f.bbox.y2) / 2 - cy) ** 2
        )
    return max(faces, key=lambda f: (f.bbox.x2 - f.bbox.x1) * (f.bbox.y2 - f.bbox.y1))


def embed_set(name: str, out: Path) -> Path:
    from faceproof import FaceProof

    target = out / f"{name}.npz"
    if target.exists():
        return target
    root = SETS[name]
    files = sorted(p for p in (root / "images").rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    fp = FaceProof()
    emb = np.zeros((len(files), 128), np.float32)
    ok = np.zeros(len(files), bool)
    t0 = time.perf_counter()
    for i, path in enumerate(files):
        image = fp.load_image(str(path))
        face = _pick(fp.represent(image), image.shape, centre=(name == "lfw"))
        if face is not None and face.embedding is not None:
            emb[i] = face.embedding
            ok[i] = True
        if i % 500 == 0:
            print(f"{name}: {i}/{len(files)} {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
    rel = np.array([str(p.relative_to(root)) for p in files])
    out.mkdir(parents=True, exist_ok=True)
    np.savez(target, paths=rel, emb=emb, ok=ok, recognizer=fp.recognizer.name)
    print(f"{name}: {ok.sum()}/{len(files)} faces in {time.perf_counter() - t0:.0f}s -> {target}", file=sys.stderr)
    return target


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("sets", nargs="*", default=list(SETS))
    args = ap.parse_args()
    for name in args.sets:
        embed_set(name, args.out)


if __name__ == "__main__":
    main()
