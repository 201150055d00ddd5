"""What earns accuracy on LFW View 1 with the shipped models, and what does not.

Every configuration is embedded once on the dev-train and dev-test images (cached), the
threshold (or the learned model) is fitted on pairs_dev_train.csv only, and everything is
measured on pairs_dev_test.csv: 10-fold accuracy (LFW protocol, stratified folds, seed 0),
ROC AUC, EER, TAR at FAR 1e-3 and 1e-2, and the accuracy at the threshold chosen on
dev-train. Configurations:

* SFace and dlib ResNet, each with and without horizontal-flip TTA;
* detection variants: YuNet on the image upscaled 2x (landmarks from a larger image), the
  SFace chip cut with a 10 % tighter or looser template;
* face policies center / largest / max;
* score fusion of SFace and dlib (z-normalised sum; logistic regression on the two scores);
* a learned verifier head: logistic regression on [|e1 - e2|, e1 * e2] (standardised),
  trained on dev-train with a fixed seed.

Run by hand (not in CI), under the shared CPU lock; needs ``faceproof[eval,dlib]``:

    flock /tmp/faceproof-cpu.lock python bench/accuracy_study.py --cache /tmp/faceproof-cache \
        --json docs/accuracy-study.json

It prints the Markdown table of docs/accuracy.md ("What earns accuracy").
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from faceproof import FaceProof
from faceproof.evaluation import (
    ClientConfig,
    EmbeddingCache,
    ImageFaces,
    PairSet,
    assign_folds,
    auc,
    best_threshold,
    eer,
    embed_image,
    embed_images,
    kfold_accuracy,
    load_pairs,
    pair_distances,
    rates_at,
    tar_at_far,
)
from faceproof.runtime.align import estimate_similarity, template_for, warp
from faceproof.runtime.detect import YuNetDetector
from faceproof.runtime.embed import SFaceRecognizer
from faceproof.types import Face

SEED = 0


class UpscaledDetector:
    """YuNet run on the image resized by ``factor``; boxes and landmarks mapped back."""

    def __init__(self, base: YuNetDetector, factor: float) -> None:
        self.base, self.factor = base, factor
        self.name = f"{base.name}@x{factor:g}"

    def detect(self, image: np.ndarray) -> list[Face]:
        import cv2

        h, w = image.shape[:2]
        big = cv2.resize(image, (round(w * self.factor), round(h * self.factor)), interpolation=cv2.INTER_CUBIC)
        out = []
        for f in self.base.detect(big):
            b = f.bbox
            box = type(b)(b.x1 / self.factor, b.y1 / self.factor, b.x2 / self.factor, b.y2 / self.factor)
            lm = None if f.landmarks is None else f.landmarks / self.factor
            out.append(f.evolve(bbox=box, landmarks=lm, detector=self.name))
        return out


class ScaledChipSFace(SFaceRecognizer):
    """SFace on a chip whose template is scaled about the chip centre (``scale`` < 1: the
    face is smaller in the chip, i.e. a looser crop)."""

    def __init__(self, scale: float, *, flip: bool) -> None:
        super().__init__(flip=flip)
        self.scale = scale

    def chips(self, image: np.ndarray, faces: Any) -> list[np.ndarray]:
        tpl = (template_for(112) - 56.0) * self.scale + 56.0
        return [warp(image, estimate_similarity(f.landmarks, tpl), 112) for f in faces if f.landmarks is not None]


@dataclass
class Scores:
    train: np.ndarray  # distances (lower = same), inf = no face
    test: np.ndarray


def embed_variant(name: str, fp: FaceProof, paths: list[str], root: Path, cache_dir: Path) -> dict[str, ImageFaces]:
    cache = EmbeddingCache(cache_dir, ClientConfig(flip=True), root)
    cache.file = cache_dir / f"variant-{name}.npz"
    done = cache.load()
    todo = [p for p in paths if p not in done]
    t = time.perf_counter()
    for i, rel in enumerate(todo):
        done[rel] = embed_image(fp, root, rel)
        if i % 500 == 0:
            print(f"  {name}: {i}/{len(todo)} ({time.perf_counter() - t:.0f} s)", file=sys.stderr)
    if todo:
        cache.save(done)
    return done


def measure(label: str, s: Scores, ytr: np.ndarray, yte: np.ndarray, folds: np.ndarray) -> dict[str, Any]:
    t_train, acc_train = best_threshold(s.train, ytr)
    e, _ = eer(s.test, yte)
    return {
        "config": label,
        "train_best_accuracy": acc_train,
        "train_threshold": t_train,
        "test_accuracy_at_train_threshold": rates_at(s.test, yte, t_train)["accuracy"],
        "test_kfold": kfold_accuracy(s.test, yte, folds),
        "test_auc": auc(s.test, yte),
        "test_eer": e,
        "test_tar_far_1e-3": tar_at_far(s.test, yte, 1e-3)[0],
        "test_tar_far_1e-2": tar_at_far(s.test, yte, 1e-2)[0],
        "no_face_pairs_test": int((~np.isfinite(s.test)).sum()),
    }


def pair_features(pairs: PairSet, images: dict[str, ImageFaces]) -> tuple[np.ndarray, np.ndarray]:
    """[|e1 - e2|, e1 * e2] of the centre faces, and a mask of pairs that have both."""
    feats, ok = [], []
    dim = next(f.embeddings.shape[1] for f in images.values() if f.n_faces)
    for p in pairs.pairs:
        a, b = images[p.path1], images[p.path2]
        if a.n_faces and b.n_faces:
            ea = a.embeddings[a.pick(_center())[0]]
            eb = b.embeddings[b.pick(_center())[0]]
            feats.append(np.r_[np.abs(ea - eb), ea * eb])
            ok.append(True)
        else:
            feats.append(np.zeros(2 * dim))
            ok.append(False)
    return np.array(feats), np.array(ok)


def _center() -> Any:
    from faceproof.evaluation import FacePolicy

    return FacePolicy.CENTER


def logistic(seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000, random_state=seed))


def learned_scores(model: Any, x: np.ndarray, ok: np.ndarray) -> np.ndarray:
    d = -model.decision_function(x)  # higher decision = same person; distance = its negative
    return np.where(ok, d, np.inf)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_lfw = Path(__file__).resolve().parents[1].parent / "shared" / "testdata" / "lfw_view1"
    ap.add_argument("--lfw", type=Path, default=default_lfw)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/faceproof-cache"))
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    train = load_pairs(args.lfw / "pairs_dev_train.csv")
    test = load_pairs(args.lfw / "pairs_dev_test.csv")
    ytr, yte = train.labels, test.labels
    folds = assign_folds(yte, 10, SEED)
    paths = sorted(set(train.paths()) | set(test.paths()))

    images: dict[str, dict[str, ImageFaces]] = {}
    for model in ("sface", "dlib"):
        for flip in (False, True):
            name = model + ("+flip" if flip else "")
            print(f"embedding {name}", file=sys.stderr)
            images[name] = embed_images(
                paths, args.lfw, ClientConfig(model=model, flip=flip), workers=args.workers, cache_dir=args.cache
            )
    variants = {
        "sface+flip, YuNet on 2x upscaled image": FaceProof(
            detector=UpscaledDetector(YuNetDetector(), 2.0), model=SFaceRecognizer(flip=True), attributes=()
        ),
        "sface+flip, chip template x1.1 (tighter)": FaceProof(model=ScaledChipSFace(1.1, flip=True), attributes=()),
        "sface+flip, chip template x0.9 (looser)": FaceProof(model=ScaledChipSFace(0.9, flip=True), attributes=()),
    }
    for i, (name, fp) in enumerate(variants.items()):
        print(f"embedding {name}", file=sys.stderr)
        images[name] = embed_variant(f"v{i}", fp, paths, args.lfw, args.cache)

    def dist(name: str, metric: str = "cosine", policy: str = "center") -> Scores:
        return Scores(
            pair_distances(train.pairs, images[name], metric, policy),
            pair_distances(test.pairs, images[name], metric, policy),
        )

    rows = []
    for name in images:
        rows.append(measure(f"{name} (cosine, center face)", dist(name), ytr, yte, folds))
    for model in ("sface", "dlib"):
        for flip in ("", "+flip"):
            rows.append(
                measure(f"{model}{flip} (euclidean, center face)", dist(model + flip, "euclidean"), ytr, yte, folds)
            )
    for policy in ("largest", "max"):
        rows.append(measure(f"sface+flip (cosine, {policy} face)", dist("sface+flip", policy=policy), ytr, yte, folds))

    # fusion of the two models' cosine scores (with flip TTA on both)
    s1, s2 = dist("sface+flip"), dist("dlib+flip")

    def z(train_d: np.ndarray, d: np.ndarray) -> np.ndarray:
        finite = np.isfinite(train_d)
        return (d - train_d[finite].mean()) / train_d[finite].std()

    fused = Scores(z(s1.train, s1.train) + z(s2.train, s2.train), z(s1.train, s1.test) + z(s2.train, s2.test))
    rows.append(measure("fusion sface+flip & dlib+flip: z-normalised sum", fused, ytr, yte, folds))

    def two(s_a: Scores, s_b: Scores, part: str) -> tuple[np.ndarray, np.ndarray]:
        a, b = getattr(s_a, part), getattr(s_b, part)
        ok = np.isfinite(a) & np.isfinite(b)
        return np.c_[np.where(ok, a, 0.0), np.where(ok, b, 0.0)], ok

    xtr, oktr = two(s1, s2, "train")
    xte, okte = two(s1, s2, "test")
    lr = logistic(SEED).fit(xtr[oktr], ytr[oktr])
    fused_lr = Scores(learned_scores(lr, xtr, oktr), learned_scores(lr, xte, okte))
    rows.append(
        measure("fusion sface+flip & dlib+flip: logistic regression on the two scores", fused_lr, ytr, yte, folds)
    )

    for name in ("sface+flip", "dlib+flip"):
        ftr, oktr = pair_features(train, images[name])
        fte, okte = pair_features(test, images[name])
        head = logistic(SEED).fit(ftr[oktr], ytr[oktr])
        learned = Scores(learned_scores(head, ftr, oktr), learned_scores(head, fte, okte))
        rows.append(measure(f"{name}: learned head, logistic on [|e1-e2|, e1*e2]", learned, ytr, yte, folds))

    def pct(x: float) -> str:
        return f"{100 * x:.2f}"

    print(
        "| configuration | dev-test 10-fold acc. % (± std) | AUC | EER % | TAR@FAR 1e-3 % | TAR@FAR 1e-2 % "
        "| dev-train threshold | dev-test acc. % at it | no-face pairs |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        k = r["test_kfold"]
        print(
            f"| {r['config']} | {pct(k['mean'])} ± {pct(k['std'])} | {r['test_auc']:.4f} | {pct(r['test_eer'])} "
            f"| {pct(r['test_tar_far_1e-3'])} | {pct(r['test_tar_far_1e-2'])} | {r['train_threshold']:.4f} "
            f"| {pct(r['test_accuracy_at_train_threshold'])} | {r['no_face_pairs_test']} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
