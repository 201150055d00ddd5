"""Does OUR processing of turned faces limit frontal-vs-profile accuracy? Alignment
variants, flip (mirror) handling and score normalisation for turned faces, each measured
with the held-out protocol of ``bench/pose_calibrate.py`` (pose-aware thresholds fitted on
one CFP fold's FP + FF pairs and LFW dev-train, measured on the other fold; LFW dev-test
with the table fitted on both folds).

Steps. ``collect`` re-embeds, from the landmarks cached by ``bench/pose_collect.py``
(YuNet, centre face), every CFP image and every LFW image whose turn is >= 20 degrees
under the named alignment variants (plain and mirrored chip, raw SFace outputs);
``landmarks`` finds two other landmark sets for the same faces (dlib's 68-point predictor
in YuNet's box; YuNet's landmarks averaged with those of the mirrored photo)::

    A="--cfp /tmp/hard-cache/cfp.npz --lfw /tmp/hard-cache/lfw.npz"
    flock -s /tmp/faceproof-cpu.lock python bench/pose_align.py collect $A --out /tmp/align-cache/variants.npz
    flock -s /tmp/faceproof-cpu.lock python bench/pose_align.py collect $A \
        --variants tight1.05 tight1.1 base_replicate --out /tmp/align-cache/variants2.npz
    flock -s /tmp/faceproof-cpu.lock python bench/pose_align.py landmarks $A --out /tmp/align-cache/landmarks.npz
    flock -s /tmp/faceproof-cpu.lock python bench/pose_align.py collect $A --variants base --landmarks dlib68 \
        --landmark-cache /tmp/align-cache/landmarks.npz --out /tmp/align-cache/variants_dlib68.npz
    flock -s /tmp/faceproof-cpu.lock python bench/pose_align.py collect $A --variants base --landmarks mirror_avg \
        --landmark-cache /tmp/align-cache/landmarks.npz --out /tmp/align-cache/variants_mavg.npz
    flock -s /tmp/faceproof-cpu.lock python bench/pose_align.py collect $A --variants mirror_detected \
        --out /tmp/align-cache/variants_mdet.npz

``report`` prints the Markdown table docs/accuracy.md quotes (no model runs)::

    python bench/pose_align.py report $A --variants /tmp/align-cache/variants.npz \
        /tmp/align-cache/variants2.npz /tmp/align-cache/variants_dlib68.npz \
        /tmp/align-cache/variants_mavg.npz /tmp/align-cache/variants_mdet.npz

``tails`` lists the turned bin's closest impostor pairs and the farthest genuine pairs
(``--sheet x.png`` draws their chips).

Why this module is long: one bench for one question (is our processing of turned faces
the limit?), so the variants, their collection and the held-out report sit together;
the protocol itself is imported from ``bench/pose_calibrate.py``.

A variant replaces the shipped embedding only for faces whose turn
(:func:`faceproof.runtime.pose.turn_angle`) is >= ``--min-turn`` (30 degrees, the pose
bins' edge, fixed before any measurement), so frontal faces keep today's embeddings.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pose_calibrate as pc

from faceproof.runtime.align import ARCFACE_TEMPLATE_112, estimate_similarity, warp
from faceproof.runtime.pose import MOUTH_DEPTH, NOSE_DEPTH, estimate_pose, face_frame, turn_angle

T = ARCFACE_TEMPLATE_112.astype(np.float64)
EYE_MID = T[:2].mean(axis=0)
MOUTH_MID = T[3:].mean(axis=0)
CENTRE = np.array([56.0, 56.0])


# ---------------------------------------------------------------------------- alignments
def _scale_about_centre(m: np.ndarray, s: float) -> np.ndarray:
    """``m`` followed by a scaling by ``s`` about the chip centre (s < 1: a looser crop)."""
    a = np.array([[s, 0.0, (1 - s) * CENTRE[0]], [0.0, s, (1 - s) * CENTRE[1]], [0, 0, 1]])
    return (a @ np.vstack([m, [0, 0, 1]]))[:2]


def base(lm: np.ndarray) -> np.ndarray:
    return estimate_similarity(lm, T)


def loose(s: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda lm: _scale_about_centre(estimate_similarity(lm, T), s)


def upright(anchor: str) -> Callable[[np.ndarray], np.ndarray]:
    """No rotation beyond the face's in-plane tilt: the eye-midpoint-to-mouth-midpoint axis
    made vertical and scaled to the template's length (a turn does not shorten it); the
    horizontal position from ``anchor`` (centroid of the 5 points, or the nose tip)."""

    def f(lm: np.ndarray) -> np.ndarray:
        p = np.asarray(lm, np.float64).reshape(5, 2)
        axis = p[3:].mean(axis=0) - p[:2].mean(axis=0)
        length = float(np.hypot(*axis))
        s = float(np.hypot(*(MOUTH_MID - EYE_MID))) / max(length, 1e-6)
        ang = math.atan2(axis[0], axis[1])  # rotate so the axis points straight down
        c, si = math.cos(ang) * s, math.sin(ang) * s
        rot = np.array([[c, -si], [si, c]])
        if anchor == "centroid":
            src, dst = p.mean(axis=0), T.mean(axis=0)
        else:  # nose x, eye-mouth mid y
            src_y = rot @ (0.5 * (p[:2].mean(axis=0) + p[3:].mean(axis=0)))
            src_x = rot @ p[2]
            t = np.array([T[2, 0] - src_x[0], 0.5 * (EYE_MID[1] + MOUTH_MID[1]) - src_y[1]])
            return np.hstack([rot, t[:, None]])
        t = dst - rot @ src
        return np.hstack([rot, t[:, None]])

    return f


def projected_axis(z0: float) -> Callable[[np.ndarray], np.ndarray]:
    """The 5-point similarity fit to the frontal template turned by the face's own yaw (a
    generic 3-D face, eyes at depth 0, nose and mouth in front, rotated about a vertical
    axis ``z0`` inter-eye distances behind the eyes, which stays at the chip's centre
    line): a turned face is matched to where a turned head's points would be in a frontal
    chip instead of being stretched onto the frontal layout."""
    ie = float(T[1, 0] - T[0, 0])
    depth = np.array([0.0, 0.0, NOSE_DEPTH, MOUTH_DEPTH, MOUTH_DEPTH]) * ie
    cx = float(EYE_MID[0])

    def f(lm: np.ndarray) -> np.ndarray:
        yaw = estimate_pose(lm).yaw
        a = math.radians(math.copysign(turn_angle(lm), yaw))
        x = T[:, 0] - cx
        # a point (x, z) rotated about the axis at z = -z0*ie: x' = x cos a + (z + z0 ie) sin a
        xt = x * math.cos(a) + (depth + z0 * ie) * math.sin(a)
        dst = np.stack([xt + cx, T[:, 1]], axis=1)
        return estimate_similarity(lm, dst)

    return f


def visible3(lm: np.ndarray) -> np.ndarray:
    """The fit on the visible side only: the near eye, the nose tip and the near mouth
    corner (near: the side the nose points away from)."""
    p = np.asarray(lm, np.float64).reshape(5, 2)
    q, _, _ = face_frame(p)
    near = 0 if q[2, 0] > 0 else 1  # nose right of the eye midpoint: the left eye is near
    idx = [near, 2, 3 + near]
    return estimate_similarity(p[idx], T[idx])


#: variants whose chip is warped with the border replicated instead of black
REPLICATE = {"base_replicate"}

VARIANTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "base": base,
    "loose0.9": loose(0.9),
    "loose0.8": loose(0.8),
    "upright_centroid": upright("centroid"),
    "upright_nose": upright("nose"),
    "projected0": projected_axis(0.0),
    "projected1": projected_axis(1.0),
    "visible3": visible3,
    "tight1.05": loose(1.05),
    "tight1.1": loose(1.1),
    "base_replicate": base,
}
#: how the report names the variants
LABELS = {
    "loose0.9": "looser crop (5-point fit, chip zoomed out 10 %)",
    "loose0.8": "looser crop (zoomed out 20 %)",
    "tight1.05": "tighter crop (zoomed in 5 %)",
    "tight1.1": "tighter crop (zoomed in 10 %)",
    "upright_centroid": "no rotation beyond roll: eye-mouth axis upright and scaled, landmark centroid centred",
    "upright_nose": "the same, nose tip on the template's nose column",
    "projected0": "turned template: the frontal template turned by the face's own yaw (axis at the eyes)",
    "projected1": "turned template, rotation axis 1 inter-eye distance behind the eyes (head centred)",
    "visible3": "fit on the visible side only (near eye, nose tip, near mouth corner)",
    "base_replicate": "5-point fit, border replicated instead of black",
}
#: the variants measured in the first collect run (the docs' first table)
FIRST = ("base", "loose0.9", "loose0.8", "upright_centroid", "upright_nose", "projected0", "projected1", "visible3")


def _warp(image: np.ndarray, name: str, lm: np.ndarray) -> np.ndarray:
    if name not in REPLICATE:
        return warp(image, VARIANTS[name](lm), 112)
    import cv2

    out = cv2.warpAffine(
        image,
        np.asarray(VARIANTS[name](lm), np.float64),
        (112, 112),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return np.asarray(out, np.uint8)


# ---------------------------------------------------------------------------- collect
_net = None
_lm_pipe = None
_lm_predictor = None


def _one(args: tuple[str, np.ndarray, tuple[str, ...], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    global _net
    import cv2

    from faceproof.runtime.embed import SFaceRecognizer
    from faceproof.runtime.io import load_image

    if _net is None:
        cv2.setNumThreads(1)
        _net = SFaceRecognizer()
    path, lm, names, mlm = args
    nan = np.full((len(names), 128), np.nan, np.float32)
    if not np.all(np.isfinite(lm)) or ("mirror_detected" in names and not np.all(np.isfinite(mlm))):
        return nan, nan
    image = load_image(Path(path))
    # "mirror_detected": the mirrored photo aligned with the landmarks YuNet found in it
    # (what a second detection would give), instead of the mirror image of the chip
    chips = [
        warp(np.ascontiguousarray(image[:, ::-1]), base(mlm), 112) if v == "mirror_detected" else _warp(image, v, lm)
        for v in names
    ]
    return _net.forward(chips), _net.forward(chips, mirrored=True)


def _landmarks_one(args: tuple[str, np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Two other landmark sets for the centre face: dlib's 68-point predictor run in the
    detector's box (eye centres, nose tip, mouth corners), and the mean of YuNet's
    landmarks and those YuNet found in the mirrored image (mapped back)."""
    global _lm_pipe, _lm_predictor
    import cv2
    import dlib

    from faceproof import Pipeline, PipelineConfig
    from faceproof.runtime.models import model_path

    if _lm_pipe is None:
        cv2.setNumThreads(1)
        _lm_pipe = Pipeline(PipelineConfig(flip=False, attributes=()))
        _lm_predictor = dlib.shape_predictor(str(model_path("dlib_landmarks_68")))
    path, lm, mlm = args
    nan5 = np.full((5, 2), np.nan, np.float32)
    image = _lm_pipe.load_image(Path(path))
    h, w = image.shape[:2]
    # mirror-averaged: x -> w - 1 - x (YuNet gives image coordinates), left and right swap
    if np.all(np.isfinite(mlm)):
        back = np.asarray(mlm, np.float64).copy()
        back[:, 0] = w - 1 - back[:, 0]
        back = back[[1, 0, 2, 4, 3]]
        mavg = (0.5 * (np.asarray(lm, np.float64) + back)).astype(np.float32)
    else:
        mavg = nan5
    faces = [f for f in _lm_pipe.detect(image)[0] if f.landmarks is not None]
    if not faces:
        return nan5, mavg
    # the detected face whose landmarks are the cached centre face's
    face = min(faces, key=lambda f: float(np.abs(np.asarray(f.landmarks) - lm).sum()))
    # YuNet's box mapped to a dlib-detector-like box, as runtime.align.DlibChipper does
    b = face.bbox
    side = 0.5 * ((b.x2 - b.x1) + (b.y2 - b.y1)) * 0.92
    cx, cy = (b.x1 + b.x2) / 2.0, (b.y1 + b.y2) / 2.0 + 0.06 * (b.y2 - b.y1)
    left, top = round(max(0.0, cx - side / 2)), round(max(0.0, cy - side / 2))
    right, bottom = round(min(w - 1.0, cx + side / 2)), round(min(h - 1.0, cy + side / 2))
    rect = dlib.rectangle(left, top, max(right, left + 1), max(bottom, top + 1))
    shape = _lm_predictor(image, rect)
    pts = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
    five = np.stack([pts[36:42].mean(axis=0), pts[42:48].mean(axis=0), pts[30], pts[48], pts[54]])
    return five.astype(np.float32), mavg


def _jobs(args: argparse.Namespace) -> tuple[list[str], list[tuple[str, np.ndarray, np.ndarray]]]:
    jobs: list[tuple[str, np.ndarray, np.ndarray]] = []
    keys: list[str] = []
    for tag, cache, root in (("cfp", args.cfp, pc.DATA / "cfp_dev"), ("lfw", args.lfw, pc.DATA / "lfw_view1")):
        d = np.load(cache)
        for rel, ok, lm, mlm in zip(d["paths"], d["ok"], d["landmarks"], d["mirror_landmarks"], strict=True):
            if not ok:
                continue
            if tag == "lfw" and turn_angle(lm) < 20.0:
                continue
            jobs.append((str(root / str(rel)), lm, mlm))
            keys.append(f"{tag}:{rel}")
    return keys, jobs


def landmarks(args: argparse.Namespace) -> None:
    keys, jobs = _jobs(args)
    with ProcessPoolExecutor(args.workers) as ex:
        rows = list(ex.map(_landmarks_one, jobs, chunksize=16))
    np.savez(
        args.out, keys=np.array(keys), dlib68=np.stack([r[0] for r in rows]), mirror_avg=np.stack([r[1] for r in rows])
    )
    print(f"wrote {args.out}")


def collect(args: argparse.Namespace) -> None:
    keys, jobs3 = _jobs(args)
    lms = [j[1] for j in jobs3]
    if args.landmarks != "yunet":
        d = np.load(args.landmark_cache)
        index = {str(k): i for i, k in enumerate(d["keys"])}
        lms = [d[args.landmarks][index[k]] for k in keys]
    names = tuple(args.variants or FIRST)
    jobs = [(j[0], lm, names, j[2]) for j, lm in zip(jobs3, lms, strict=True)]
    print(f"{len(jobs)} faces x {len(names)} variants, landmarks: {args.landmarks}")
    with ProcessPoolExecutor(args.workers) as ex:
        rows = list(ex.map(_one, jobs, chunksize=16))
    np.savez(
        args.out,
        keys=np.array(keys),
        variants=np.array(list(names)),
        landmarks=np.array(args.landmarks),
        plain=np.stack([r[0] for r in rows]),
        mirrored=np.stack([r[1] for r in rows]),
    )
    print(f"wrote {args.out}")


# ---------------------------------------------------------------------------- report
def _unit(v: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / np.linalg.norm(v, axis=-1, keepdims=True)


class Raw:
    """One image set's raw SFace outputs (plain, mirrored), signed yaw and turn per image,
    and the pair index arrays of its pair lists."""

    def __init__(self, cache: Path) -> None:
        d = np.load(cache)
        self.paths = [str(p) for p in d["paths"]]
        self.index = {p: i for i, p in enumerate(self.paths)}
        self.plain = d["plain"].astype(np.float64)
        self.mirrored = d["mirrored"].astype(np.float64)
        self.images = pc.Images.load(cache)
        self.turn = self.images.turn
        self.yaw = self.images.yaw

    def with_variant(self, tag: str, var: np.lib.npyio.NpzFile | None, name: str, min_turn: float) -> Raw:
        """A copy whose faces with turn >= min_turn carry the variant's embeddings."""
        out = object.__new__(Raw)
        out.__dict__.update(self.__dict__)
        out.plain, out.mirrored = self.plain.copy(), self.mirrored.copy()
        if var is None:
            return out
        j = list(var["variants"]).index(name)
        keys = {str(k): i for i, k in enumerate(var["keys"])}
        for p, i in self.index.items():
            k = keys.get(f"{tag}:{p}")
            if k is not None and self.turn[i] >= min_turn:
                out.plain[i], out.mirrored[i] = var["plain"][k, j], var["mirrored"][k, j]
        return out


PairFn = Callable[[Raw, np.ndarray, np.ndarray], np.ndarray]


def d_flip_average(r: Raw, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Today's flip: the cosine distance of the (plain + mirrored) embeddings."""
    e = _unit(r.plain + r.mirrored)
    return 1.0 - np.sum(e[a] * e[b], axis=1)


def d_noflip(r: Raw, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    e = _unit(r.plain)
    return 1.0 - np.sum(e[a] * e[b], axis=1)


def d_same_side(min_turn: float) -> PairFn:
    """For a pair with a turned face whose turn is opposite the other face's, compare each
    face with the other's mirror image (a left profile's mirror looks like a right
    profile): the mean of cos(plain_a, mirrored_b) and cos(mirrored_a, plain_b); otherwise
    the mean of cos(plain_a, plain_b) and cos(mirrored_a, mirrored_b)."""

    def f(r: Raw, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        p, m = _unit(r.plain), _unit(r.mirrored)
        straight = 0.5 * (np.sum(p[a] * p[b], 1) + np.sum(m[a] * m[b], 1))
        crossed = 0.5 * (np.sum(p[a] * m[b], 1) + np.sum(m[a] * p[b], 1))
        turned = np.maximum(r.turn[a], r.turn[b]) >= min_turn
        opposite = np.sign(r.yaw[a]) != np.sign(r.yaw[b])
        return 1.0 - np.where(turned & opposite, crossed, straight)

    return f


def d_best_of_four(r: Raw, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest of the four plain/mirrored cosine distances (a turned-pair upper bound)."""
    p, m = _unit(r.plain), _unit(r.mirrored)
    s = [np.sum(x[a] * y[b], 1) for x in (p, m) for y in (p, m)]
    return 1.0 - np.max(np.stack(s), axis=0)


def d_turn_weighted(min_turn: float, w: float) -> PairFn:
    """Faces with turn >= min_turn embed as plain + w * mirrored (w = 0: no flip for
    turned faces; the mirrored chip of a side view is the other side's profile)."""

    def f(r: Raw, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ww = np.where(r.turn >= min_turn, w, 1.0)[:, None]
        e = _unit(r.plain + ww * r.mirrored)
        return 1.0 - np.sum(e[a] * e[b], axis=1)

    return f


class Cohort:
    """Score normalisation by turn (symmetric s-norm against an impostor cohort), a pair
    function per calibration fold. The cohort is the CFP images (flip embeddings) of the
    calibration fold(s), never of the fold measured, without the face's own person. For a
    pair of a turned and a frontal face (by ``min_turn``), each face's similarity to the
    other is standardised by the mean and spread of its similarities to the cohort faces
    of the other face's pose class; the score is the mean of the two (given as a distance,
    ``1 - z / 10``). Other pairs keep today's distance."""

    def __init__(self, cfp: Raw, min_turn: float) -> None:
        import csv

        self.cfp, self.min_turn = cfp, min_turn
        fold_of: dict[str, int] = {}
        with (pc.DATA / "cfp_dev/pairs_fp.csv").open(newline="") as fh:
            for row in csv.DictReader(fh):
                for p in (row["path1"], row["path2"]):
                    fold_of[p.split("/")[1]] = int(row["fold"])
        self.person = np.array([p.split("/")[1] for p in cfp.paths])
        self.fold = np.array([fold_of.get(x, 0) for x in self.person])

    def for_cal(self, folds: tuple[int, ...]) -> PairFn:
        c = self.cfp
        emb_c = _unit(c.plain + c.mirrored)
        ok = np.isin(self.fold, folds) & np.all(np.isfinite(emb_c), axis=1)
        coh, coh_turn, coh_person = emb_c[ok], c.turn[ok], self.person[ok]

        def f(r: Raw, a: np.ndarray, b: np.ndarray) -> np.ndarray:
            e = _unit(r.plain + r.mirrored)
            sims = np.nan_to_num(e) @ coh.T
            if r is c or r.paths is c.paths:
                own = np.array([p.split("/")[1] for p in r.paths])[:, None] == coh_person[None, :]
            else:
                own = np.zeros(sims.shape, bool)
            stats = {}
            for cls, m in (("turned", coh_turn >= self.min_turn), ("frontal", coh_turn < self.min_turn)):
                mm = m[None, :] & ~own
                n = mm.sum(axis=1)
                mu = (sims * mm).sum(axis=1) / n
                sd = np.sqrt(((sims - mu[:, None]) ** 2 * mm).sum(axis=1) / n)
                stats[cls] = (mu, sd)
            s = np.sum(e[a] * e[b], axis=1)
            ta, tb = r.turn[a] >= self.min_turn, r.turn[b] >= self.min_turn
            mu_a = np.where(tb, stats["turned"][0][a], stats["frontal"][0][a])
            sd_a = np.where(tb, stats["turned"][1][a], stats["frontal"][1][a])
            mu_b = np.where(ta, stats["turned"][0][b], stats["frontal"][0][b])
            sd_b = np.where(ta, stats["turned"][1][b], stats["frontal"][1][b])
            z = 0.5 * ((s - mu_a) / sd_a + (s - mu_b) / sd_b)
            return np.where(ta != tb, 1.0 - z / 10.0, 1.0 - s)

        return f


def _pairs(name: str, csv_name: str, r: Raw, fn: PairFn) -> pc.Pairs:
    p = pc.load_pairs(name, csv_name_path(csv_name), r.images)
    import csv

    with csv_name_path(csv_name).open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    a = np.array([r.index[x["path1"]] for x in rows])
    b = np.array([r.index[x["path2"]] for x in rows])
    d1 = fn(r, a, b)
    d0 = d_noflip(r, a, b)
    p.d1 = np.where(np.isfinite(d1), d1, np.inf)
    p.d0 = np.where(np.isfinite(d0), d0, np.inf)
    return p


def csv_name_path(name: str) -> Path:
    return pc.DATA / name


def _sets(cfp: Raw, lfw: Raw, fn: PairFn) -> tuple[pc.Pairs, pc.Pairs, pc.Pairs, pc.Pairs]:
    return (
        _pairs("CFP-FP", "cfp_dev/pairs_fp.csv", cfp, fn),
        _pairs("CFP-FF", "cfp_dev/pairs_ff.csv", cfp, fn),
        _pairs("LFW dev-train", "lfw_view1/pairs_dev_train.csv", lfw, fn),
        _pairs("LFW dev-test", "lfw_view1/pairs_dev_test.csv", lfw, fn),
    )


def evaluate(cfp: Raw, lfw: Raw, fn: PairFn | Cohort, edges: list[float], base: dict[str, float]) -> dict[str, object]:
    per_fold = isinstance(fn, Cohort)
    fp, ff, ltr, lte = _sets(cfp, lfw, fn.for_cal((1, 2)) if isinstance(fn, Cohort) else fn)
    sets_all = (fp, ff, ltr, lte)
    out: dict[str, object] = {}
    held: dict[str, list[np.ndarray]] = {"fp": [], "fpl": [], "ff": [], "ffl": []}
    tune: list[np.ndarray] = []
    tune_l: list[np.ndarray] = []
    bin_far: list[str] = []
    thr: list[float] = []
    for k in (1, 2):
        if isinstance(fn, Cohort):  # the cohort: the calibration fold's people only
            fp, ff, ltr, _ = _sets(cfp, lfw, fn.for_cal((3 - k,)))
        cal = pc.Pairs.concat("cal", [fp[fp.fold != k], ff[ff.fold != k], ltr])
        table = pc.fit(cal, edges, base, 0.0)
        thr.append(table["flip"][-1])
        for key, p in (("fp", fp), ("ff", ff)):
            te = p[p.fold == k]
            pred = pc.decide(te, table["flip"], edges)
            held[key].append(pred)
            held[key + "l"].append(te.labels)
            if key == "fp":
                b = pc.bins_of(te.dturn, edges)
                for j in range(len(edges) + 1):
                    m = (b == j) & (te.labels == 0)
                    bin_far.append(f"{int(pred[m].sum())}/{int(m.sum())}")
        tr = fp[fp.fold != k]
        tune.append(pc.decide(tr, table["flip"], edges))
        tune_l.append(tr.labels)
    fp, ff, ltr, lte = sets_all
    del per_fold
    rfp = pc.rates(np.concatenate(held["fp"]), np.concatenate(held["fpl"]))
    rff = pc.rates(np.concatenate(held["ff"]), np.concatenate(held["ffl"]))
    rtune = pc.rates(np.concatenate(tune), np.concatenate(tune_l))
    final = pc.fit(pc.Pairs.concat("cal", [fp, ff, ltr]), edges, base, 0.0)
    rte = pc.rates(pc.decide(lte, final["flip"], edges), lte.labels)
    out.update(
        fp_acc=rfp[0],
        fp_fold_acc=[float(np.mean(p == lab.astype(bool))) for p, lab in zip(held["fp"], held["fpl"], strict=True)],
        fp_far=rfp[1],
        fp_tar=rfp[2],
        fp_bin_far=bin_far,
        ff_acc=rff[0],
        ff_far=rff[1],
        tune_acc=rtune[0],
        lte_acc=rte[0],
        lte_far=rte[1],
        thr=thr,
        final=final["flip"][-1],
        kfold=pc.kfold_accuracy(fp),
        tar3=pc.tar_at_far(fp.d1, fp.labels),
        ff_tar3=pc.tar_at_far(ff.d1, ff.labels),
        lte_tar3=pc.tar_at_far(lte.d1, lte.labels),
    )
    return out


def report(args: argparse.Namespace) -> None:
    from faceproof import Pipeline, PipelineConfig

    edges = [30.0]
    base_t = {
        "flip": Pipeline(PipelineConfig(attributes=(), pose_thresholds=False)).default_threshold.value,
        "noflip": Pipeline(PipelineConfig(attributes=(), flip=False, pose_thresholds=False)).default_threshold.value,
    }
    cfp0, lfw0 = Raw(args.cfp), Raw(args.lfw)
    mt = float(args.min_turn)
    rows: list[tuple[str, Raw, Raw, PairFn | Cohort]] = [
        ("**today**: YuNet landmarks, 5-point fit, flip", cfp0, lfw0, d_flip_average)
    ]
    for vpath in args.variants:
        var = np.load(vpath)
        lm_label = str(var["landmarks"]) if "landmarks" in var else "yunet"
        for name in var["variants"]:
            if name == "mirror_detected":
                continue  # a flip variant (below)
            if name == "base" and lm_label == "yunet":
                continue  # today's embeddings (the first row)
            rows.append(
                (
                    "align: "
                    + (
                        LABELS.get(str(name), str(name))
                        if lm_label == "yunet"
                        else {
                            "dlib68": "5-point fit on dlib 68-point landmarks (in YuNet's box)",
                            "mirror_avg": "5-point fit on YuNet's landmarks averaged with the mirrored photo's",
                        }[lm_label]
                    ),
                    cfp0.with_variant("cfp", var, str(name), mt),
                    lfw0.with_variant("lfw", var, str(name), mt),
                    d_flip_average,
                )
            )
    for vpath in args.variants[:1]:
        var = np.load(vpath)
        for name in ("loose0.9", "projected0", "upright_centroid"):
            if name in list(var["variants"]):
                c1, l1 = cfp0.with_variant("cfp", var, name, mt), lfw0.with_variant("lfw", var, name, mt)
                c2, l2 = cfp0.with_variant("cfp", None, "", mt), lfw0.with_variant("lfw", None, "", mt)
                for r1, r2 in ((c1, c2), (l1, l2)):
                    ok = np.all(np.isfinite(r1.plain), axis=1) & (r1.turn >= mt)
                    r2.plain[ok] = _unit(r2.plain[ok]) + _unit(r1.plain[ok])
                    r2.mirrored[ok] = _unit(r2.mirrored[ok]) + _unit(r1.mirrored[ok])
                rows.append((f"align ensemble: 5-point fit + {name} (unit embeddings summed)", c2, l2, d_flip_average))
    for vpath in args.variants:
        var = np.load(vpath)
        if "mirror_detected" in list(var["variants"]):
            j = list(var["variants"]).index("mirror_detected")
            c2, l2 = cfp0.with_variant("cfp", None, "", mt), lfw0.with_variant("lfw", None, "", mt)
            keys = {str(k): i for i, k in enumerate(var["keys"])}
            for tag, rr in (("cfp", c2), ("lfw", l2)):
                for p, i in rr.index.items():
                    k = keys.get(f"{tag}:{p}")
                    if k is not None and rr.turn[i] >= mt and np.all(np.isfinite(var["plain"][k, j])):
                        rr.mirrored[i] = var["plain"][k, j]
            rows.append(("flip: mirrored pass from a second detection on the mirrored photo", c2, l2, d_flip_average))
    rows += [
        ("flip: none for turned faces (w 0)", cfp0, lfw0, d_turn_weighted(mt, 0.0)),
        ("flip: mirrored weight 0.5 for turned faces", cfp0, lfw0, d_turn_weighted(mt, 0.5)),
        ("flip: opposite turns compared with the other's mirror", cfp0, lfw0, d_same_side(mt)),
        ("flip: best of the four plain/mirrored distances", cfp0, lfw0, d_best_of_four),
        ("no flip at all", cfp0, lfw0, d_noflip),
        ("score normalisation by turn (cohort s-norm)", cfp0, lfw0, Cohort(cfp0, mt)),
    ]
    print(f"variants applied to faces with turn >= {mt:g} deg; bins of |turn_a - turn_b| edges {edges}\n")
    print(
        "| idea | CFP-FP held out: acc. / FAR / TAR | fold 1 / fold 2 acc. "
        "| FP impostors accepted per fold & bin (f1 <30, f1 >=30, "
        "f2 <30, f2 >=30) | turned-bin thr. (f2-cal, f1-cal) | CFP-FP tune (in-sample) acc. "
        "| CFP-FF held out: acc. / FAR "
        "| LFW dev-test: acc. / FAR | CFP-FP 2-fold | TAR@FAR1e-3 FP / FF / LFW dev-test |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    P = pc.pct
    for label, c, lf, fn in rows:
        # without flip the frontal bin keeps the table's no-flip threshold
        o = evaluate(c, lf, fn, edges, {**base_t, "flip": base_t["noflip"]} if fn is d_noflip else base_t)
        print(
            f"| {label} | {P(o['fp_acc'])} / {P(o['fp_far'])} / {P(o['fp_tar'])} "
            f"| {' / '.join(P(x) for x in o['fp_fold_acc'])} | {', '.join(o['fp_bin_far'])} "
            f"| {o['thr'][0]:.4f}, {o['thr'][1]:.4f} | {P(o['tune_acc'])} | {P(o['ff_acc'])} / {P(o['ff_far'])} "
            f"| {P(o['lte_acc'])} / {P(o['lte_far'])} | {P(o['kfold'])} "
            f"| {P(o['tar3'])} / {P(o['ff_tar3'])} / {P(o['lte_tar3'])} |"
        )


def tails(args: argparse.Namespace) -> None:
    """The turned bin's closest impostor pairs (they pin its threshold) and the farthest
    genuine pairs of CFP-FP, with distances; ``--sheet`` writes their aligned chips side by
    side (a PNG, for looking, never into the repository)."""
    import csv

    import cv2

    from faceproof.runtime.align import norm_crop
    from faceproof.runtime.io import load_image

    cfp = pc.Images.load(args.cfp)
    d = np.load(args.cfp)
    fp = pc.load_pairs("CFP-FP", pc.DATA / "cfp_dev/pairs_fp.csv", cfp)
    with (pc.DATA / "cfp_dev/pairs_fp.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    imp = np.where((fp.labels == 0) & (fp.dturn >= 30))[0]
    gen = np.where(fp.labels == 1)[0]
    picks = [("closest impostor", i) for i in imp[np.argsort(fp.d1[imp])][: args.n]]
    picks += [("farthest genuine", i) for i in gen[np.argsort(-np.nan_to_num(fp.d1[gen], posinf=9.0))][: args.n]]
    g30 = fp.d1[(fp.labels == 1) & (fp.dturn >= 30)]
    closest = float(np.min(fp.d1[imp]))
    print(
        f"turned bin: {len(g30)} genuine pairs, flip distance p50 / p80 / p90 "
        + " / ".join(f"{v:.3f}" for v in np.percentile(g30, [50, 80, 90]))
        + f"; {np.mean(g30 > closest):.1%} lie farther than the closest impostor ({closest:.4f})\n"
    )
    print("| pair | fold | frontal | profile | flip distance | turn difference |")
    print("|---|---|---|---|---|---|")
    tiles = []
    for kind, i in picks:
        r = rows[i]
        print(f"| {kind} | {r['fold']} | {r['path1']} | {r['path2']} | {fp.d1[i]:.4f} | {fp.dturn[i]:.1f}° |")
        pair = []
        for k in ("path1", "path2"):
            j = cfp.index[r[k]]
            ok = bool(d["ok"][j])
            pair.append(
                norm_crop(load_image(pc.DATA / "cfp_dev" / r[k]), d["landmarks"][j])
                if ok
                else np.zeros((112, 112, 3), np.uint8)
            )
        tiles.append(np.hstack(pair))
    if args.sheet is not None:
        cols = 4
        while len(tiles) % cols:
            tiles.append(np.zeros_like(tiles[0]))
        sheet = np.vstack([np.hstack(tiles[k : k + cols]) for k in range(0, len(tiles), cols)])
        cv2.imwrite(str(args.sheet), np.ascontiguousarray(sheet[:, :, ::-1]))
        print(f"\nwrote {args.sheet}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--cfp", type=Path, required=True)
    c.add_argument("--lfw", type=Path, required=True)
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--workers", type=int, default=2)
    c.add_argument("--landmarks", choices=("yunet", "dlib68", "mirror_avg"), default="yunet")
    c.add_argument("--landmark-cache", type=Path, default=None)
    c.add_argument("--variants", nargs="+", choices=[*VARIANTS, "mirror_detected"], default=None)
    lm = sub.add_parser("landmarks")
    lm.add_argument("--cfp", type=Path, required=True)
    lm.add_argument("--lfw", type=Path, required=True)
    lm.add_argument("--out", type=Path, required=True)
    lm.add_argument("--workers", type=int, default=2)
    r = sub.add_parser("report")
    r.add_argument("--cfp", type=Path, required=True)
    r.add_argument("--lfw", type=Path, required=True)
    r.add_argument("--variants", type=Path, nargs="*", default=[])
    r.add_argument("--min-turn", type=float, default=30.0)
    t = sub.add_parser("tails")
    t.add_argument("--cfp", type=Path, required=True)
    t.add_argument("--n", type=int, default=8)
    t.add_argument("--sheet", type=Path, default=None)
    args = ap.parse_args()
    if args.cmd == "tails":
        tails(args)
    elif args.cmd == "collect":
        collect(args)
    elif args.cmd == "landmarks":
        landmarks(args)
    else:
        report(args)


if __name__ == "__main__":
    main()
