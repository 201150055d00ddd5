"""How verification accuracy falls with face quality, on degraded copies of LFW View 1.

For every dev-test pair the first image stays as it is (the selfie) and the second (the
profile photo) is degraded: shrunk (pasted, smaller, on a 320x320 grey canvas), blurred
(Gaussian, sigma in source pixels; LFW's faces are ~26 px between the eyes), or exposed
darker/brighter (gain in linear light, then clipped and quantised to 8 bits). Pose cannot
be synthesised well, so accuracy is also binned by the estimated yaw/pitch of the real,
undegraded pairs. Each table reports what the quality measures read on the degraded face,
so the thresholds in ``src/faceproof/data/policy.json`` can be read off them.

It measures the library's default configuration (``FaceProof()``: detector, model, flip
TTA and the distance threshold in force come from the client, the quality limits and the
band from ``Policy.default()``) and prints that configuration at the top of its output;
``--no-flip`` measures ``FaceProof(flip=False)`` (and its own threshold) instead.

    flock /tmp/faceproof-cpu.lock python bench/quality.py --out docs/policy-measurements.md

Everything is deterministic (no random numbers); detections and embeddings are cached
under --cache, keyed by the client configuration and the weights' SHA-256 (a flip and a
no-flip run never share a cache entry).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import itertools
import json
import math
import pickle
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from faceproof import FaceProof, registry
from faceproof.client import confirming_detector
from faceproof.decision.policy import Policy
from faceproof.decision.quality import assess_face, confirmations, estimate_pose, face_frame
from faceproof.evaluation import ClientConfig
from faceproof.runtime.compare import Metric, distance_matrix, embeddings_of, similarity_matrix
from faceproof.runtime.embed import embed_faces
from faceproof.runtime.models import MODEL_FILES
from faceproof.types import Face

Degrade = Callable[[np.ndarray], np.ndarray]
#: (same person, predicted same, reference measures, probe measures, distance) of one pair
Outcome = tuple[bool, bool, dict[str, Any] | None, dict[str, Any] | None, float | None]


def shrink(factor: float) -> Degrade:
    def run(img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        small = cv2.resize(img, (max(1, round(w * factor)), max(1, round(h * factor))), interpolation=cv2.INTER_AREA)
        canvas = np.full((320, 320, 3), 128, np.uint8)
        y, x = (320 - small.shape[0]) // 2, (320 - small.shape[1]) // 2
        canvas[y : y + small.shape[0], x : x + small.shape[1]] = small
        return canvas

    return run


def blur(sigma: float) -> Degrade:
    return lambda img: np.asarray(cv2.GaussianBlur(img, (0, 0), sigma), np.uint8)


def exposure(gain: float) -> Degrade:
    def run(img: np.ndarray) -> np.ndarray:
        linear = (img.astype(np.float64) / 255.0) ** 2.2 * gain
        return np.asarray(np.clip(linear, 0.0, 1.0) ** (1 / 2.2) * 255.0 + 0.5, np.uint8)

    return run


CONDITIONS: dict[str, tuple[str, float, Degrade]] = {
    "clean": ("clean", 0.0, lambda img: img),
    **{f"shrink {f}": ("size", f, shrink(f)) for f in (0.8, 0.6, 0.45, 0.35, 0.28, 0.22, 0.18)},
    **{f"blur {s}": ("blur", s, blur(s)) for s in (0.5, 1.0, 1.5, 2.0, 3.0)},
    **{f"gain {g:g}": ("exposure", g, exposure(g)) for g in (1 / 32, 1 / 16, 1 / 8, 1 / 4, 2, 4, 8, 16)},
}


def subject(faces: list[Face], shape: tuple[int, ...]) -> Face | None:
    """LFW's convention: the subject is the face nearest the image centre."""
    if not faces:
        return None
    h, w = shape[:2]
    return min(faces, key=lambda f: (f.bbox.center[0] - w / 2) ** 2 + (f.bbox.center[1] - h / 2) ** 2)


def detect_and_embed(fp: FaceProof, img: np.ndarray) -> Face | None:
    face = subject(fp.detector.detect(img), img.shape)
    if face is None:
        return None
    (face,) = embed_faces(fp.recognizer, img, [face])
    return face


def measures(img: np.ndarray, face: Face | None) -> dict[str, Any] | None:
    if face is None:
        return None
    q = assess_face(img, face)
    frame, _, _ = face_frame(face.landmarks)
    return {
        "nose_drop": float(frame[2, 1]),
        "mouth_drop": float(frame[3:, 1].mean()),
        "face": face,
        "ie": q.inter_eye_px,
        "sharp": q.sharpness,
        "bright": q.brightness,
        "clipped": q.clipped,
        "yaw": q.pose.yaw,
        "pitch": q.pose.pitch,
        "roll": q.pose.roll,
        "det": q.detector_score,
        "score": q.score,
        "usable": q.usable,
        "issues": [i.value for i in q.issues],
    }


def load_pairs(lfw: Path, name: str) -> list[tuple[str, str, bool]]:
    with (lfw / name).open(encoding="utf-8") as fh:
        return [(r["path1"], r["path2"], r["same"] == "1") for r in csv.DictReader(fh)]


def table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def pct(num: int, den: int) -> str:
    return f"{100.0 * num / den:.1f}" if den else "-"


def accuracy_row(label: str, sel: list[Outcome]) -> list[Any]:
    """label, pairs, same accepted %, different rejected %, errors, accuracy % of ``sel``."""
    same = [o for o in sel if o[0]]
    diff = [o for o in sel if not o[0]]
    return [
        label,
        len(sel),
        pct(sum(o[1] for o in same), len(same)),
        pct(sum(not o[1] for o in diff), len(diff)),
        sum(o[1] != o[0] for o in sel),
        pct(sum(o[1] == o[0] for o in sel), len(sel)),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--testdata", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "testdata")
    ap.add_argument("--pairs", default="pairs_dev_test.csv")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/faceproof-bench-quality"))
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--no-flip", action="store_true", help="measure FaceProof(flip=False) instead of the default")
    args = ap.parse_args()
    lfw = args.testdata / "lfw_view1"
    pairs = load_pairs(lfw, args.pairs)
    fp = FaceProof(attributes=(), flip=not args.no_flip)
    flip = bool(getattr(fp.recognizer, "flip", False))
    policy = Policy.default()
    threshold = fp.default_threshold
    thr = threshold.value
    args.cache.mkdir(parents=True, exist_ok=True)
    # the configuration and the weights name the cache: embeddings with and without flip
    # TTA differ, and the recogniser's name alone does not say which
    config = ClientConfig(detector=fp.detector.name, model=fp.recognizer.name, flip=flip)
    tag = f"{fp.detector.name}-{fp.recognizer.name}-{config.key()}-{args.pairs}"
    firsts = sorted({a for a, _, _ in pairs})
    seconds = sorted({b for _, b, _ in pairs})

    def cached(name: str, paths: list[str], degrade: Degrade) -> dict[str, dict[str, Any] | None]:
        """Detection + embedding are cached (the slow part); quality is measured afresh."""
        path = args.cache / f"{tag}-{name.replace(' ', '_').replace('/', '_')}.pkl"
        images = {p: degrade(fp.load_image(lfw / p)) for p in paths}
        if path.exists():
            with path.open("rb") as fh:
                faces: dict[str, Face | None] = pickle.load(fh)
        else:
            t = time.perf_counter()
            faces = {p: detect_and_embed(fp, images[p]) for p in paths}
            print(f"  {name}: {len(paths)} images in {time.perf_counter() - t:.0f} s", flush=True)
            with path.open("wb") as fh:
                pickle.dump(faces, fh)
        return {p: measures(images[p], faces[p]) for p in paths}

    ref = cached("reference", firsts, lambda img: img)
    results: dict[str, dict[str, dict[str, Any] | None]] = {
        name: cached(name, seconds, fn) for name, (_, _, fn) in CONDITIONS.items()
    }

    raw = fp.metric is Metric.EUCLIDEAN
    decided: dict[str, list[Outcome]] = {}

    def outcomes(name: str) -> list[Outcome]:
        """(same, predicted, reference, probe, distance) per pair, the distance in the
        client's metric by the library's own distance_matrix; a missing face is a rejection."""
        if name not in decided:
            res: list[Outcome] = []
            for a, b, same in pairs:
                ra, rb = ref[a], results[name][b]
                dist = None
                if ra is not None and rb is not None:
                    ea, eb = embeddings_of([ra["face"]], raw=raw), embeddings_of([rb["face"]], raw=raw)
                    dist = float(distance_matrix(ea, eb, fp.metric)[0, 0])
                res.append((same, dist is not None and dist <= thr, ra, rb, dist))
            decided[name] = res
        return decided[name]

    out: list[str] = []
    command = "python bench/quality.py" + (" --no-flip" if args.no_flip else "")
    if args.pairs != "pairs_dev_test.csv":
        command += f" --pairs {args.pairs}"
    q = policy.quality
    if args.out:
        command += f" --out {args.out}"
    out.append(f"Generated by `flock /tmp/faceproof-cpu.lock {command}`.\n")
    out.append(
        f"Configuration: `FaceProof({'flip=False' if args.no_flip else ''})`: detector {fp.detector.name}, "
        f"model {fp.recognizer.name}, flip TTA **{'on' if flip else 'off'}**, metric {fp.metric.value}, "
        f"threshold **{thr}** (`fp.default_threshold`, table key `{fp.threshold_key}`: {threshold.source}). "
        "Quality limits and band from `Policy.default()` (`data/policy.json`): "
        f"inter-eye >= {q.min_inter_eye_px:g} px, "
        f"sharpness >= {q.min_sharpness:g}, brightness {q.min_brightness:g}..{q.max_brightness:g}, "
        f"clipped <= {q.max_clipped:g}, abs(yaw) <= {q.max_abs_yaw:g}, abs(pitch) <= {q.max_abs_pitch:g}, "
        f"band width {policy.band_width:g}, review below quality {policy.review_below_quality:g}.\n"
    )
    out.append(
        f"LFW View 1 `{args.pairs}`: {len(pairs)} pairs ({sum(s for *_, s in pairs)} same). "
        "A pair whose degraded image has no face counts as a "
        "rejection (an error for a same pair, correct for a different pair)."
    )

    # ---- 1. accuracy per degradation
    rows = []
    for name, (kind, _, _) in CONDITIONS.items():
        oc = outcomes(name)
        found = [o for o in oc if o[3] is not None]
        same = [o for o in oc if o[0]]
        diff = [o for o in oc if not o[0]]

        def med(key: str, found: list[Any] = found) -> str:
            return f"{np.median([o[3][key] for o in found]):.3g}" if found else "-"

        usable = sum(1 for o in found if o[3]["usable"])
        rows.append(
            [
                name,
                kind,
                pct(len(found), len(oc)),
                med("ie"),
                med("sharp"),
                med("bright"),
                med("score"),
                pct(usable, len(oc)),
                pct(sum(o[1] for o in same), len(same)),
                pct(sum(not o[1] for o in diff), len(diff)),
                pct(sum(o[1] == o[0] for o in oc), len(oc)),
            ]
        )
    out.append("### Accuracy per degradation of the second image\n")
    out.append(
        table(
            [
                "condition",
                "kind",
                "face found %",
                "median inter-eye px",
                "median sharpness",
                "median brightness",
                "median quality score",
                "usable %",
                "same pairs accepted %",
                "different pairs rejected %",
                "accuracy %",
            ],
            rows,
        )
    )

    # ---- 2. accuracy binned by each measure (pooled over the conditions that vary it)
    def binned(
        title: str, kinds: set[str], key: str, edges: list[float], fmt: str = "{:g}", usable_only: bool = False
    ) -> None:
        pooled = [o for name, (kind, _, _) in CONDITIONS.items() if kind in kinds for o in outcomes(name)]
        pooled = [o for o in pooled if o[3] is not None and (o[3]["usable"] or not usable_only)]
        rows = []
        for lo, hi in itertools.pairwise(edges):
            sel = [o for o in pooled if lo <= o[3][key] < hi]
            hi_s = "inf" if math.isinf(hi) else fmt.format(hi)
            rows.append(accuracy_row(f"[{fmt.format(lo)}, {hi_s})", sel))
        out.append(f"\n### {title}\n")
        out.append(table([key, "pairs", "same accepted %", "different rejected %", "errors", "accuracy %"], rows))

    binned(
        "Accuracy by inter-eye distance (clean + shrunk)",
        {"clean", "size"},
        "ie",
        [0, 6, 8, 10, 12, 14, 16, 20, 24, math.inf],
    )
    binned(
        "Accuracy by sharpness (clean + blurred)",
        {"clean", "blur"},
        "sharp",
        [0, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1, 0.12, 0.15, math.inf],
    )
    binned(
        "Accuracy by brightness (clean + exposure)",
        {"clean", "exposure"},
        "bright",
        [0, 15, 20, 25, 30, 40, 60, 100, 160, 200, 215, 225, 235, 256],
    )
    binned(
        "Accuracy by share of clipped (>= 250) pixels (clean + exposure)",
        {"clean", "exposure"},
        "clipped",
        [0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 1.01],
    )
    binned(
        "Accuracy by detector score (all conditions)",
        set(k for k, _, _ in CONDITIONS.values()),
        "det",
        [0.6, 0.7, 0.8, 0.85, 0.9, 1.01],
    )
    binned(
        "Accuracy by quality score of the second face when it is usable (all conditions)",
        set(k for k, _, _ in CONDITIONS.values()),
        "score",
        [0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.01],
        usable_only=True,
    )

    # ---- 3. pose on the real pairs: bin by the larger |yaw| (|pitch|) of the two faces
    clean = [o for o in outcomes("clean") if o[2] is not None and o[3] is not None]
    for key, edges in (
        ("yaw", [0, 5, 10, 15, 20, 25, 30, 35, 40, 50, 60, 90]),
        ("pitch", [0, 5, 10, 15, 20, 30, 90]),
    ):
        rows = []
        for lo, hi in itertools.pairwise(edges):
            sel = [o for o in clean if lo <= max(abs(o[2][key]), abs(o[3][key])) < hi]
            rows.append(accuracy_row(f"[{lo}, {hi})", sel))
        out.append(f"\n### Accuracy by estimated |{key}| (larger of the two faces, real undegraded pairs)\n")
        out.append(
            table(
                [f"max abs {key} (deg)", "pairs", "same accepted %", "different rejected %", "errors", "accuracy %"],
                rows,
            )
        )

    # ---- 4. the uncertainty band: pairs inside thr*(1-w) .. thr*(1+w) go to review
    def band_table(title: str, sel: list[Any]) -> None:
        rows = []
        errors_all = sum(o[1] != o[0] for o in sel)
        for w in sorted({0.0, 0.05, 0.1, 0.15, 0.2, 0.3, policy.band_width}):
            lo, hi = dataclasses.replace(policy, band_width=w).band(thr)  # the library's band
            inside = [o for o in sel if lo < o[4] <= hi] if w > 0 else []
            outside = [o for o in sel if not (lo < o[4] <= hi)] if w > 0 else sel
            caught = errors_all - sum(o[1] != o[0] for o in outside)
            rows.append(
                [
                    f"**{w:g} (default)**" if w == policy.band_width else f"{w:g}",
                    f"{lo:.3f} .. {hi:.3f}",
                    f"{len(inside)} ({pct(len(inside), len(sel))} %)",
                    f"{caught} of {errors_all}",
                    f"{len(inside) / caught:.1f}" if caught else "-",
                    pct(sum(o[1] == o[0] for o in outside), len(outside)),
                ]
            )
        out.append(f"\n### {title}\n")
        out.append(
            table(
                [
                    "band width w",
                    "distance band",
                    f"pairs sent to review (of {len(sel)})",
                    "errors caught",
                    "reviews per error caught",
                    "accuracy outside %",
                ],
                rows,
            )
        )

    band_table("Uncertainty band (clean pairs with a face on both sides)", clean)
    # what check_profile compares: the degraded face must be usable (an unusable face is
    # never "present"); the same LFW pairs recur across conditions, so these are not
    # independent pairs, but they hold more errors near the threshold than the clean set
    compared = [
        o
        for name in CONDITIONS
        for o in outcomes(name)
        if o[2] is not None and o[3] is not None and o[2]["usable"] and o[3]["usable"]
    ]
    band_table(
        f"Uncertainty band (all {len(CONDITIONS)} conditions pooled, both faces usable: what check_profile compares)",
        compared,
    )

    # ---- 5. pose estimator checks on the real images: mirror and in-plane rotation
    mirror_err, roll_err, yaw_shift = [], [], []
    sample = firsts[:300]
    for p in sample:
        img = fp.load_image(lfw / p)
        face = subject(fp.detector.detect(img), img.shape)
        if face is None or face.landmarks is None:
            continue
        pose = estimate_pose(face.landmarks)
        flipped = np.ascontiguousarray(img[:, ::-1])
        face_m = subject(fp.detector.detect(flipped), flipped.shape)
        if face_m is not None and face_m.landmarks is not None:
            mirror_err.append(abs(pose.yaw + estimate_pose(face_m.landmarks).yaw))
        h, w = img.shape[:2]
        rot = cv2.warpAffine(img, cv2.getRotationMatrix2D((w / 2, h / 2), 15, 1.0), (w, h))
        face_r = subject(fp.detector.detect(rot), rot.shape)
        if face_r is not None and face_r.landmarks is not None:
            pose_r = estimate_pose(face_r.landmarks)
            roll_err.append(pose_r.roll - pose.roll)
            yaw_shift.append(abs(pose_r.yaw - pose.yaw))
    layout = {**{p: m for p, m in ref.items() if m}, **{p: m for p, m in results["clean"].items() if m}}
    out.append("\n### Pose estimator checks\n")
    out.append(
        f"Neutral landmark layout over the {len(layout)} distinct images of these pairs (the constants in "
        "`faceproof.decision.quality` come from `--pairs pairs_dev_train.csv`): median nose drop "
        f"{np.median([m['nose_drop'] for m in layout.values()]):.3f}, median mouth drop "
        f"{np.median([m['mouth_drop'] for m in layout.values()]):.3f} inter-eye distances below the eye line.\n"
    )
    out.append("Mirror and in-plane rotation (first 300 reference images):\n")
    out.append(
        table(
            ["check", "faces", "median", "90th percentile"],
            [
                [
                    "mirror: abs(yaw + yaw of the mirrored image)",
                    len(mirror_err),
                    f"{np.median(mirror_err):.1f} deg",
                    f"{np.percentile(mirror_err, 90):.1f} deg",
                ],
                [
                    "image turned 15 deg counter-clockwise: roll change (signed; YuNet's landmarks under-read it)",
                    len(roll_err),
                    f"{np.median(roll_err):.1f} deg",
                    f"{np.percentile(roll_err, 90):.1f} deg",
                ],
                [
                    "rotated 15 deg: abs(yaw change)",
                    len(yaw_shift),
                    f"{np.median(yaw_shift):.1f} deg",
                    f"{np.percentile(yaw_shift, 90):.1f} deg",
                ],
            ],
        )
    )

    # ---- 6. the second detector: cost and how often it confirms
    dlib_det = confirming_detector("dlib")  # the one the library confirms faces with
    getattr(dlib_det, "load", lambda: None)()
    photos = args.testdata / "photos"
    rows = []
    for label, images in (
        ("LFW 150x150, clean (first 200)", [fp.load_image(lfw / p) for p in firsts[:200]]),
        ("LFW blurred sigma 2 (first 200)", [blur(2.0)(fp.load_image(lfw / p)) for p in firsts[:200]]),
        (
            "licensed photos with faces (0.1-4 MP)",
            [
                fp.load_image(photos / r["path"])
                for r in csv.DictReader((photos / "manifest.csv").open(encoding="utf-8"))
                if int(r["faces"]) > 0
            ],
        ),
    ):
        n_faces = n_conf = 0
        t_det = t_conf = 0.0
        for img in images:
            t = time.perf_counter()
            faces = fp.detector.detect(img)
            t_det += time.perf_counter() - t
            t = time.perf_counter()
            conf = confirmations(img, faces, dlib_det)
            t_conf += time.perf_counter() - t
            n_faces += len(faces)
            n_conf += sum(conf)
        rows.append(
            [
                label,
                len(images),
                n_faces,
                pct(n_conf, n_faces),
                f"{1000 * t_det / len(images):.0f}",
                f"{1000 * t_conf / len(images):.0f}",
            ]
        )
    out.append("\n### Second detector (dlib HOG, lenient threshold, no landmarks): confirmation rate and cost\n")
    out.append(
        table(
            ["images", "n", "YuNet faces", "confirmed by dlib %", "YuNet ms / image", "dlib confirmation ms / image"],
            rows,
        )
    )

    # accuracy by whether dlib confirms a face: check_profile confirms the selfie by default
    # and multiplies an unconfirmed face's score by unconfirmed_factor. Measured on the
    # second (degraded) faces the library would compare, as with confirm: "all"; the
    # confirmations are cached like the embeddings (they do not depend on the recogniser).
    # the faces (same with or without flip) and the detectors' weights name this cache
    detector_files = sorted(
        {f for n in (*fp.detector.name.split("+"), "dlib") for f in registry.get_spec("detector", n).model_files}
    )
    detector_key = hashlib.sha256(
        json.dumps({f: MODEL_FILES[f].sha256 for f in detector_files}, sort_keys=True).encode()
    ).hexdigest()[:16]

    def confirmed_of(name: str, fn: Degrade, measured: dict[str, dict[str, Any] | None]) -> dict[str, bool]:
        path = args.cache / f"{fp.detector.name}-dlib-confirm-{detector_key}-{args.pairs}-{name.replace(' ', '_')}.pkl"
        if path.exists():
            with path.open("rb") as fh:
                done: dict[str, bool] = pickle.load(fh)
            return done
        done = {
            p: confirmations(fn(fp.load_image(lfw / p)), [m["face"]], dlib_det)[0]
            for p, m in measured.items()
            if m is not None
        }
        with path.open("wb") as fh:
            pickle.dump(done, fh)
        return done

    confirmed_ref = confirmed_of("reference", lambda img: img, ref)
    rows = []
    for label, want in (("confirmed", True), ("not confirmed", False)):
        sel = []
        for name, (_, _, fn) in CONDITIONS.items():
            confirmed = confirmed_of(name, fn, results[name])
            sel += [
                o
                for (_, b, _), o in zip(pairs, outcomes(name), strict=True)
                if o[2] is not None and o[3] is not None and o[2]["usable"] and o[3]["usable"] and confirmed[b] is want
            ]
        rows.append(accuracy_row(label, sel))
    out.append(
        f"\nConfirmation and accuracy: {sum(confirmed_ref.values())} of {len(confirmed_ref)} distinct clean LFW "
        "subject faces (the selfies) are confirmed. Pairs of all conditions pooled, both faces usable, by whether "
        "dlib confirms the second (degraded) face (an unconfirmed face's score is multiplied by "
        f"`unconfirmed_factor` = {policy.quality.unconfirmed_factor:g}):\n"
    )
    out.append(table(["second face", "pairs", "same accepted %", "different rejected %", "errors", "accuracy %"], rows))

    # ---- 7. the licensed-photo examples quoted in docs/policy.md (tests/test_profile.py)
    def sim_row(selfie: str, photo: str) -> list[str]:
        (ref_face,) = fp.represent(photos / selfie)  # single-face portraits
        img = fp.load_image(photos / photo)
        faces = embed_faces(fp.recognizer, img, fp.detect(img))
        sims = similarity_matrix(embeddings_of([ref_face]), embeddings_of(faces))[0]
        cells = []
        for f, sim in zip(faces, sims, strict=True):
            fq = assess_face(img, f, policy.quality)
            cells.append(
                f"{float(sim):.3f} (yaw {fq.pose.yaw:.0f}, "
                f"{'usable' if fq.usable else '/'.join(i.value for i in fq.blocking)})"
            )
        return [f"`{selfie}`", f"`{photo}`", "; ".join(cells)]

    examples = [
        ("pytopenface/obama1.jpg", p)
        for p in (
            "pytopenface/obama2.jpg",
            "pytopenface/obama3.jpg",
            "kerns_dummy/obama_nasa_hq_photo.jpg",
            "kerns_dummy/obama_fatherhood_townhall.jpg",
            "pytopenface/chirac1.jpg",
            "pytopenface/chirac2.jpg",
            "pytopenface/chirac4.jpg",
        )
    ] + [("us_presidents/President_46.png", "kerns_dummy/obama_fatherhood_townhall.jpg")]
    out.append(
        f"\n### Licensed photos: cosine similarity of the selfie's face to each face of the photo (left to right)\n\n"
        f"Threshold {thr:.4f} ({fp.metric.value} distance); band (default width {policy.band_width:g}): distance "
        f"{thr * (1 - policy.band_width):.4f} .. {thr * (1 + policy.band_width):.4f} is uncertain"
        + (
            f", i.e. similarity {1 - thr * (1 + policy.band_width):.4f} .. {1 - thr * (1 - policy.band_width):.4f} "
            f"(match: similarity >= {1 - thr:.4f}).\n"
            if fp.metric is Metric.COSINE
            else ".\n"
        )
    )
    out.append(table(["selfie", "photo", "similarity (estimated yaw, quality)"], [sim_row(a, b) for a, b in examples]))

    # ---- 8. the pose checks and the cost quoted in docs/policy.md, on the licensed photos
    rows = []
    for name in ("pytopenface/chirac4.jpg", "max_facial_recognizer/Chris.jpeg", "pytopenface/obama1.jpg"):
        img = fp.load_image(photos / name)
        (face,) = fp.detect(img)
        (mirrored,) = fp.detect(np.ascontiguousarray(img[:, ::-1]))
        h, w = img.shape[:2]
        turned = cv2.warpAffine(img, cv2.getRotationMatrix2D((w / 2, h / 2), 15, 1.0), (w, h))
        (rotated,) = fp.detect(turned)
        pose, pose_m, pose_r = (estimate_pose(f.landmarks) for f in (face, mirrored, rotated))
        rows.append(
            [
                f"`{name}`",
                f"{pose.yaw:+.0f} / {pose_m.yaw:+.0f}",
                f"{pose.roll:+.1f} / {pose_m.roll:+.1f}",
                f"{pose_r.roll - pose.roll:+.1f}",
            ]
        )
    out.append("\n### Licensed photos: pose under mirroring and a 15 degree counter-clockwise turn\n")
    out.append(table(["photo", "yaw / mirrored yaw", "roll / mirrored roll", "roll change when turned 15 deg"], rows))

    # a 20 px wide face, built as tests/test_quality.py's tiny_face builds it
    portrait = fp.load_image(photos / "pytopenface/obama1.jpg")
    (face,) = fp.detect(portrait)
    pil = Image.fromarray(portrait)
    scale = 20 / face.bbox.width
    small = pil.resize((round(pil.width * scale), round(pil.height * scale)), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (320, 320), (120, 120, 120))
    canvas.paste(small, ((320 - small.width) // 2, (320 - small.height) // 2))
    tiny = np.asarray(canvas)
    tiny_faces = [assess_face(tiny, f, policy.quality) for f in fp.detect(tiny)]
    townhall = fp.load_image(photos / "kerns_dummy/obama_fatherhood_townhall.jpg")
    faces = fp.detect(townhall)
    t = time.perf_counter()
    for _ in range(50):
        for f in faces:
            assess_face(townhall, f, policy.quality)
    per_face = (time.perf_counter() - t) * 1000 / (50 * len(faces))
    out.append(
        "\nA 20 px wide face (obama1 shrunk onto a 320x320 canvas, as in `tests/test_quality.py`): "
        + (", ".join(f"{fq.inter_eye_px:.1f} px between the eyes" for fq in tiny_faces) or "no face found")
        + f". Quality measures without the second detector: {per_face:.2f} ms per face "
        f"(the town hall photo's {len(faces)} faces, 50 repetitions)."
    )

    text = "\n".join(out) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
