"""Pose-aware thresholds: calibrate a threshold per bin of ``|turn_a - turn_b|`` and measure
what it changes, honestly (cross-validated across the two CFP folds).

Input: the caches written by ``bench/pose_collect.py`` (landmarks of the centre face, the
landmarks found in the mirrored image, SFace plain and mirrored-chip embeddings) for
``cfp_dev`` (frontal-vs-profile and frontal-vs-frontal pairs, folds 1-2) and LFW View 1
(dev-train for calibration, dev-test held out)::

    flock -s /tmp/faceproof-cpu.lock python bench/pose_collect.py --out /tmp/hard-cache/cfp.npz \\
        --root ../shared/testdata/cfp_dev ../shared/testdata/cfp_dev/pairs_fp.csv \\
        ../shared/testdata/cfp_dev/pairs_ff.csv
    flock -s /tmp/faceproof-cpu.lock python bench/pose_collect.py --out /tmp/hard-cache/lfw.npz \\
        --root ../shared/testdata/lfw_view1 ../shared/testdata/lfw_view1/pairs_dev_train.csv \\
        ../shared/testdata/lfw_view1/pairs_dev_test.csv
    python bench/pose_calibrate.py --cfp /tmp/hard-cache/cfp.npz --lfw /tmp/hard-cache/lfw.npz \\
        --out src/faceproof/data/pose_thresholds.json

``turn`` is :func:`faceproof.runtime.pose.turn_angle` (how far a head is turned from
frontal; the runtime bins pairs by the same function). The rule per bin (bin 0, nearly the
same pose, keeps the table's threshold so frontal pairs are judged as before): the largest
threshold whose false-accept rate on the calibration pairs of that bin does not exceed
``--far`` (default 0: no impostor pair of the bin's calibration pairs is accepted), placed
halfway between the last accepted and the first refused distance. Calibration pairs: CFP
FP + FF of the calibration fold(s) and LFW dev-train. Reported: held-out accuracy / FAR /
TAR per bin before and after (fold 1 calibrates, fold 2 measures, and vice versa), LFW
dev-test, the k-fold accuracy and TAR at FAR 1e-3 of the scores, the mirror disagreement
of the yaw and turn estimates, and the cascade's stage shares with the pose-aware
thresholds. The shipped table is fitted on both folds.
Prints Markdown (docs/accuracy.md quotes it).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import shlex
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from faceproof import Pipeline, PipelineConfig
from faceproof.runtime.cascade import CascadeMargins
from faceproof.runtime.compare import Metric
from faceproof.runtime.pose import estimate_pose, turn_angle
from faceproof.runtime.thresholds import weights_sha256

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "testdata"


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _yaw(lm: np.ndarray) -> float:
    return float(estimate_pose(lm).yaw) if np.all(np.isfinite(lm)) else float("nan")


def _turn(lm: np.ndarray) -> float:
    return float(turn_angle(lm)) if np.all(np.isfinite(lm)) else float("nan")


@dataclass
class Images:
    index: dict[str, int]
    yaw: np.ndarray
    mirror_yaw: np.ndarray
    turn: np.ndarray
    mirror_turn: np.ndarray
    flip: np.ndarray  # unit flip-TTA embeddings
    plain: np.ndarray  # unit no-flip embeddings

    @classmethod
    def load(cls, path: Path) -> Images:
        d = np.load(path)
        return cls(
            {str(p): i for i, p in enumerate(d["paths"])},
            np.array([_yaw(lm) for lm in d["landmarks"]]),
            np.array([_yaw(lm) for lm in d["mirror_landmarks"]]),
            np.array([_turn(lm) for lm in d["landmarks"]]),
            np.array([_turn(lm) for lm in d["mirror_landmarks"]]),
            _unit(d["plain"] + d["mirrored"]),
            _unit(d["plain"]),
        )


@dataclass
class Pairs:
    name: str
    labels: np.ndarray
    fold: np.ndarray
    d1: np.ndarray  # cosine distance, flip
    d0: np.ndarray  # cosine distance, no flip
    dturn: np.ndarray  # |turn_a - turn_b| (as the runtime computes it): the bins
    dyaw: np.ndarray  # |yaw_a - yaw_b| (estimate_pose alone), for comparison
    dyaw_sym: np.ndarray  # the same with the mirror-symmetrised yaw, for comparison

    FIELDS = ("labels", "fold", "d1", "d0", "dturn", "dyaw", "dyaw_sym")

    def __getitem__(self, m: np.ndarray) -> Pairs:
        return Pairs(self.name, *(getattr(self, f)[m] for f in self.FIELDS))

    @classmethod
    def concat(cls, name: str, parts: list[Pairs]) -> Pairs:
        return cls(name, *(np.concatenate([getattr(p, f) for p in parts]) for f in cls.FIELDS))

    def feature(self, name: str) -> np.ndarray:
        return {"turn": self.dturn, "yaw": self.dyaw, "yaw_sym": self.dyaw_sym}[name]


def load_pairs(name: str, csv_path: Path, images: Images) -> Pairs:
    with csv_path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    a = np.array([images.index[r["path1"]] for r in rows])
    b = np.array([images.index[r["path2"]] for r in rows])
    sym = np.where(np.isfinite(images.mirror_yaw), (images.yaw - images.mirror_yaw) / 2, images.yaw)

    def dist(e: np.ndarray) -> np.ndarray:
        d = 1.0 - np.sum(e[a] * e[b], axis=1)
        return np.where(np.isfinite(d), d, np.inf)

    return Pairs(
        name,
        np.array([int(r["same"]) for r in rows]),
        np.array([int(r.get("fold") or 0) for r in rows]),
        dist(images.flip),
        dist(images.plain),
        np.abs(images.turn[a] - images.turn[b]),
        np.abs(images.yaw[a] - images.yaw[b]),
        np.abs(sym[a] - sym[b]),
    )


def bins_of(dyaw: np.ndarray, edges: list[float]) -> np.ndarray:
    return np.searchsorted(np.asarray(edges), np.nan_to_num(dyaw, nan=0.0), side="right")


def calibrate_bin(d: np.ndarray, labels: np.ndarray, far: float) -> tuple[float, int, int]:
    """The largest threshold with FAR <= far on these pairs, halfway between the last
    accepted and the first refused distance; (threshold, impostors, genuines)."""
    imp = np.sort(d[labels == 0])
    k = int(np.floor(far * len(imp) + 1e-9))  # impostors that may be accepted
    if k >= len(imp):
        return float(np.max(d[np.isfinite(d)])), len(imp), int(np.sum(labels == 1))
    first_refused = imp[k]
    below = d[d < first_refused]
    last = float(below.max()) if below.size else first_refused - 0.01
    return (last + float(first_refused)) / 2.0, len(imp), int(np.sum(labels == 1))


def fit(
    cal: Pairs, edges: list[float], base: dict[str, float], far: float, feat: str = "turn"
) -> dict[str, list[float]]:
    """Per key (flip, noflip): one cosine threshold per bin, bin 0 the table's."""
    b = bins_of(cal.feature(feat), edges)
    out: dict[str, list[float]] = {}
    for key, d in (("flip", cal.d1), ("noflip", cal.d0)):
        vals = [base[key]]
        for k in range(1, len(edges) + 1):
            m = b == k
            vals.append(calibrate_bin(d[m], cal.labels[m], far)[0] if np.sum(cal.labels[m] == 0) >= 50 else base[key])
        out[key] = vals
    return out


def decide(p: Pairs, table: list[float], edges: list[float], feat: str = "turn", key: str = "flip") -> np.ndarray:
    t = np.asarray(table)[bins_of(p.feature(feat), edges)]
    return (p.d1 if key == "flip" else p.d0) <= t


def rates(pred: np.ndarray, labels: np.ndarray) -> tuple[float, float, float, int, int]:
    same, diff = labels == 1, labels == 0
    far = float(np.mean(pred[diff])) if diff.any() else float("nan")
    tar = float(np.mean(pred[same])) if same.any() else float("nan")
    return float(np.mean(pred == labels.astype(bool))), far, tar, int(diff.sum()), int(same.sum())


def tar_at_far(d: np.ndarray, labels: np.ndarray, far: float = 1e-3) -> float:
    imp = np.sort(d[labels == 0])
    k = int(np.floor(far * len(imp)))
    t = imp[k] if k < len(imp) else np.inf
    return float(np.mean(d[labels == 1] < t))


def kfold_accuracy(p: Pairs) -> float:
    accs = []
    for k in (1, 2):
        tr, te = p[p.fold != k], p[p.fold == k]
        ts = np.unique(tr.d1[np.isfinite(tr.d1)])
        t = max(ts, key=lambda t: np.mean((tr.d1 <= t) == tr.labels))
        accs.append(np.mean((te.d1 <= t) == te.labels))
    return float(np.mean(accs))


def pct(x: float) -> str:
    return "—" if not np.isfinite(x) else f"{100 * x:.2f} %"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cfp", type=Path, required=True)
    ap.add_argument("--lfw", type=Path, required=True)
    ap.add_argument("--edges", type=float, nargs="+", default=[30.0], help="bin edges of |turn_a - turn_b|, degrees")
    ap.add_argument("--far", type=float, default=0.0, help="FAR ceiling per bin on its calibration pairs")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    edges: list[float] = sorted(args.edges)

    t_flip = Pipeline(PipelineConfig(attributes=(), pose_thresholds=False)).default_threshold.value
    t_noflip = Pipeline(PipelineConfig(attributes=(), flip=False, pose_thresholds=False)).default_threshold.value
    base = {"flip": t_flip, "noflip": t_noflip}
    far = float(args.far)

    cfp, lfw = Images.load(args.cfp), Images.load(args.lfw)
    fp = load_pairs("CFP-FP", DATA / "cfp_dev/pairs_fp.csv", cfp)
    ff = load_pairs("CFP-FF", DATA / "cfp_dev/pairs_ff.csv", cfp)
    ltr = load_pairs("LFW dev-train", DATA / "lfw_view1/pairs_dev_train.csv", lfw)
    lte = load_pairs("LFW dev-test", DATA / "lfw_view1/pairs_dev_test.csv", lfw)

    print(f"base thresholds (table): flip {t_flip:.6f}, no flip {t_noflip:.6f}; FAR ceiling per bin {far:.4%}\n")
    # ---------------------------------------------------------------- pose estimates
    print("## Pose estimates: a face and its mirror image\n")
    print(
        "| images | n | median abs(yaw) | yaw mirror disagreement abs(yaw(img) + yaw(mirror)): median / p90 | "
        "median turn | turn mirror disagreement abs(turn(img) - turn(mirror)): median / p90 |"
    )
    print("|---|---|---|---|---|---|")
    for name, imgs, sel in (
        ("CFP frontal", cfp, lambda p: "/frontal/" in p),
        ("CFP profile", cfp, lambda p: "/profile/" in p),
        ("LFW View 1", lfw, lambda p: True),
    ):
        idx = np.array([i for p, i in imgs.index.items() if sel(p)])
        y, ym, t, tm = imgs.yaw[idx], imgs.mirror_yaw[idx], imgs.turn[idx], imgs.mirror_turn[idx]
        ok = np.isfinite(y) & np.isfinite(ym)
        dis, tdis = np.abs(y[ok] + ym[ok]), np.abs(t[ok] - tm[ok])
        print(
            f"| {name} | {int(ok.sum())} | {np.nanmedian(np.abs(y)):.1f}° | "
            f"{np.median(dis):.1f}° / {np.percentile(dis, 90):.1f}° | {np.nanmedian(t):.1f}° | "
            f"{np.median(tdis):.1f}° / {np.percentile(tdis, 90):.1f}° |"
        )
    for name, imgs in (("CFP profile", cfp), ("LFW View 1", lfw)):
        sel = np.array(["/profile/" in p for p in imgs.index]) if imgs is cfp else np.ones(len(imgs.index), bool)
        print(
            f"\n{name}: abs(yaw) p5 / p50 / p95 = "
            + " / ".join(f"{v:.1f}°" for v in np.nanpercentile(np.abs(imgs.yaw[sel]), [5, 50, 95]))
            + "; turn p5 / p50 / p95 = "
            + " / ".join(f"{v:.1f}°" for v in np.nanpercentile(imgs.turn[sel], [5, 50, 95]))
        )
    print(
        "\n(The mirror-symmetrised yaw (yaw(img) - yaw(mirror)) / 2 disagrees by 0° by construction but "
        "costs a second detection per image; the held-out table compares the bins it would give.)\n"
    )

    # ---------------------------------------------------------------- pose bins of the data
    print("## Pairs per bin of abs(turn_a - turn_b)\n")
    labels_b = (
        [f"[0, {edges[0]:g})"] + [f"[{a:g}, {b:g})" for a, b in itertools.pairwise(edges)] + [f">= {edges[-1]:g}"]
    )
    print("| pairs | " + " | ".join(labels_b) + " |")
    print("|---|" + "---|" * len(labels_b))
    for p in (fp, ff, ltr, lte):
        counts = np.bincount(bins_of(p.dturn, edges), minlength=len(edges) + 1)
        print(f"| {p.name} | " + " | ".join(str(int(c)) for c in counts) + " |")

    # ---------------------------------------------------------------- cross-validation
    print("\n## Held out: calibrated on the other CFP fold + LFW dev-train\n")
    print(
        "| measured on | bin | pairs (diff/same) | threshold before → after | accuracy before → after "
        "| FAR before → after | TAR before → after |"
    )
    print("|---|---|---|---|---|---|---|")
    pooled_before: dict[str, list[np.ndarray]] = {"CFP-FP": [], "CFP-FF": []}
    pooled_after: dict[str, list[np.ndarray]] = {"CFP-FP": [], "CFP-FF": []}
    pooled_labels: dict[str, list[np.ndarray]] = {"CFP-FP": [], "CFP-FF": []}
    alt_after: dict[str, list[np.ndarray]] = {"yaw": [], "yaw_sym": []}
    for k in (1, 2):
        cal = Pairs.concat("cal", [fp[fp.fold != k], ff[ff.fold != k], ltr])
        table = fit(cal, edges, base, far)
        alt = {f: fit(cal, edges, base, far, feat=f) for f in alt_after}
        for p in (fp, ff):
            te = p[p.fold == k]
            before = te.d1 <= t_flip
            after = decide(te, table["flip"], edges)
            pooled_before[p.name].append(before)
            pooled_after[p.name].append(after)
            pooled_labels[p.name].append(te.labels)
            if p is fp:
                for f in alt_after:
                    alt_after[f].append(decide(te, alt[f]["flip"], edges, feat=f))
            b = bins_of(te.dturn, edges)
            for j in range(len(edges) + 1):
                m = b == j
                if not m.any():
                    continue
                rb, ra = rates(before[m], te.labels[m]), rates(after[m], te.labels[m])
                print(
                    f"| {p.name} fold {k} | {labels_b[j]} | {rb[3]}/{rb[4]} | {t_flip:.4f} → {table['flip'][j]:.4f} | "
                    f"{pct(rb[0])} → {pct(ra[0])} | {pct(rb[1])} → {pct(ra[1])} | {pct(rb[2])} → {pct(ra[2])} |"
                )
    print(
        "\n| held-out pairs (both folds pooled) | accuracy before → after | FAR before → after | TAR before → after |"
    )
    print("|---|---|---|---|")
    for name in ("CFP-FP", "CFP-FF"):
        lab = np.concatenate(pooled_labels[name])
        rb, ra = rates(np.concatenate(pooled_before[name]), lab), rates(np.concatenate(pooled_after[name]), lab)
        print(f"| {name} | {pct(rb[0])} → {pct(ra[0])} | {pct(rb[1])} → {pct(ra[1])} | {pct(rb[2])} → {pct(ra[2])} |")
    for f, label in (("yaw", "abs(yaw) difference"), ("yaw_sym", "mirror-symmetrised abs(yaw) difference")):
        rs = rates(np.concatenate(alt_after[f]), np.concatenate(pooled_labels["CFP-FP"]))
        print(f"| CFP-FP, bins of the {label} instead | — → {pct(rs[0])} | — → {pct(rs[1])} | — → {pct(rs[2])} |")

    # ---------------------------------------------------------------- the shipped table
    final = fit(Pairs.concat("cal", [fp, ff, ltr]), edges, base, far)
    print("\n## Shipped table (fitted on both CFP folds + LFW dev-train)\n")
    print("| key | " + " | ".join(labels_b) + " |")
    print("|---|" + "---|" * len(labels_b))
    for key in ("flip", "noflip"):
        print(f"| {key} | " + " | ".join(f"{v:.6f}" for v in final[key]) + " |")
    print("\n| pairs | accuracy before → after | FAR before → after | TAR before → after |")
    print("|---|---|---|---|")
    for p in (lte, ltr):
        rb, ra = rates(p.d1 <= t_flip, p.labels), rates(decide(p, final["flip"], edges), p.labels)
        tag = " (held out)" if p is lte else " (calibration)"
        print(
            f"| {p.name}{tag} | {pct(rb[0])} → {pct(ra[0])} | {pct(rb[1])} → {pct(ra[1])} "
            f"| {pct(rb[2])} → {pct(ra[2])} |"
        )
        b = bins_of(p.dturn, edges)
        before, after = p.d1 <= t_flip, decide(p, final["flip"], edges)
        for j in range(len(edges) + 1):
            m = b == j
            if m.any():
                rb, ra = rates(before[m], p.labels[m]), rates(after[m], p.labels[m])
                print(
                    f"| {p.name}{tag}, bin {labels_b[j]} ({rb[3]} diff. / {rb[4]} same) "
                    f"| {pct(rb[0])} → {pct(ra[0])} | "
                    f"{pct(rb[1])} → {pct(ra[1])} | {pct(rb[2])} → {pct(ra[2])} |"
                )

    # ---------------------------------------------------------------- the price of a looser turned bin
    print("\n## CFP-FP (both folds) if the turned bin's threshold were looser: accuracy against false accepts\n")
    print("| turned-bin threshold | accuracy | FAR (impostor pairs accepted) | TAR |")
    print("|---|---|---|---|")
    for t in sorted({round(final["flip"][-1], 4), 0.72, 0.74, 0.76, 0.77, 0.78, 0.80}):
        table = [*final["flip"][:-1], t]
        r = rates(decide(fp, table, edges), fp.labels)
        n_acc = int(np.sum(decide(fp, table, edges)[fp.labels == 0]))
        print(f"| {t:.4f} | {pct(r[0])} | {pct(r[1])} ({n_acc} of {r[3]}) | {pct(r[2])} |")

    # ---------------------------------------------------------------- score properties
    print("\n## Properties of the scores (no threshold choice moves these)\n")
    print(
        "| pairs | k-fold accuracy (threshold fitted on the other fold) | TAR at FAR 1e-3 (flip) "
        "| TAR at FAR 1e-3 (no flip) |"
    )
    print("|---|---|---|---|")
    for p in (fp, ff):
        print(
            f"| {p.name} | {pct(kfold_accuracy(p))} | {pct(tar_at_far(p.d1, p.labels))} "
            f"| {pct(tar_at_far(p.d0, p.labels))} |"
        )
    print(f"| LFW dev-test | — | {pct(tar_at_far(lte.d1, lte.labels))} | {pct(tar_at_far(lte.d0, lte.labels))} |")

    # ---------------------------------------------------------------- the cascade
    # per bin, the cascade's margin around the no-flip threshold: bin 0 keeps data/cascade.json's
    # (calibrated on LFW dev-train); the other bins take the largest |d0 - t0| of a calibration pair
    # whose no-flip and flip decisions differ, times the same safety factor (1.5)
    shipped = CascadeMargins.builtin()
    every = Pairs.concat("cal", [fp, ff, ltr])
    cal_bins = bins_of(every.dturn, edges)
    margins: dict[str, list[float]] = {}
    measured_m: dict[str, list[float]] = {}
    for metric in (Metric.COSINE, Metric.EUCLIDEAN_L2):
        conv = (lambda x: x) if metric is Metric.COSINE else (lambda x: np.sqrt(2.0 * np.maximum(x, 0.0)))
        t0s = [float(conv(np.float64(v))) for v in final["noflip"]]
        t1s = [float(conv(np.float64(v))) for v in final["flip"]]
        if metric is Metric.EUCLIDEAN_L2:
            t0s[0] = Pipeline(
                PipelineConfig(attributes=(), metric=metric, flip=False, pose_thresholds=False)
            ).default_threshold.value
            t1s[0] = Pipeline(
                PipelineConfig(attributes=(), metric=metric, pose_thresholds=False)
            ).default_threshold.value
        ms, meas = [shipped.margin(metric)], [float("nan")]
        for k in range(1, len(edges) + 1):
            m = cal_bins == k
            d0, d1 = conv(every.d0[m]), conv(every.d1[m])
            differ = (d0 <= t0s[k]) != (d1 <= t1s[k])
            got = float(np.max(np.abs(d0[differ] - t0s[k]))) if differ.any() else 0.0
            meas.append(got)
            ms.append(max(1.5 * got, abs(t1s[k] - t0s[k]) * 1.01, shipped.margin(metric)))
        margins[metric.value], measured_m[metric.value] = ms, meas
    print("\n## The cascade with the pose-aware thresholds and margins\n")
    print(
        "margins per bin (cosine): "
        + ", ".join(f"{v:.4f}" for v in margins["cosine"])
        + f" (measured in the turned bins: {', '.join(f'{v:.4f}' for v in measured_m['cosine'][1:])})\n"
    )
    print("| pairs | share reaching stage 2 (flip) | verdicts unlike always-flip (pose-aware) |")
    print("|---|---|---|")
    for p in (fp, ff, ltr, lte):
        b = bins_of(p.dturn, edges)
        t0, t1 = np.asarray(final["noflip"])[b], np.asarray(final["flip"])[b]
        width = np.maximum(np.asarray(margins["cosine"])[b], np.abs(t1 - t0))
        unsure = np.abs(p.d0 - t0) <= width
        final_dist = np.where(unsure, p.d1, p.d0)
        unlike = int(np.sum((final_dist <= t1) != (p.d1 <= t1)))
        print(f"| {p.name} | {pct(float(np.mean(unsure)))} | {unlike} of {len(p.labels)} |")

    if args.out is not None:
        now = datetime.now(UTC)
        command = "python bench/pose_calibrate.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        sha = weights_sha256("sface")
        source = (
            f"cfp_dev pairs_fp.csv + pairs_ff.csv (folds 1-2) and lfw_view1/pairs_dev_train.csv; bins of "
            f"|turn_a - turn_b| (runtime.pose.turn_angle) with edges {edges} degrees; bin 0 keeps the table's "
            f"threshold, each other bin the largest threshold with FAR <= {far:.4%} on its calibration pairs "
            "(halfway between the last accepted and the first refused distance)"
        )
        entries: dict[str, dict[str, dict[str, object]]] = {}
        for key, tkey in (("flip", "sface"), ("noflip", "sface/noflip")):
            cos = [round(v, 6) for v in final[key]]
            common = {"weights_sha256": sha, "flip": key == "flip", "target_far": far, "metric_from": "cosine"}
            entries[tkey] = {
                "cosine": {"values": cos, **common},
                # euclidean_l2 of unit vectors is sqrt(2 * cosine distance): the same decisions
                "euclidean_l2": {"values": [round(float(np.sqrt(2.0 * v)), 6) for v in cos], **common},
            }
        entries["sface"]["euclidean_l2"]["values"][0] = Pipeline(
            PipelineConfig(attributes=(), metric="euclidean_l2", pose_thresholds=False)
        ).default_threshold.value
        entries["sface/noflip"]["euclidean_l2"]["values"][0] = Pipeline(
            PipelineConfig(attributes=(), metric="euclidean_l2", flip=False, pose_thresholds=False)
        ).default_threshold.value
        out = {
            "schema": 1,
            "comment": "pose-aware distance thresholds: one per bin of |turn_a - turn_b| (degrees), per model key "
            "and metric; a pair matches when its distance <= its bin's threshold. Bin 0 is the table's "
            "threshold (data/thresholds.json); the bins apply only while the table in force has that value.",
            "created": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "date": now.strftime("%Y-%m-%d"),
            "command": command,
            "source": source,
            "model": "sface",
            "detector": "yunet",
            "face_policy": "center",
            "edges_deg": edges,
            "target_far": far,
            "pairs": {
                "cfp_fp": len(fp.labels),
                "cfp_ff": len(ff.labels),
                "lfw_dev_train": len(ltr.labels),
            },
            "thresholds": entries,
            "cascade_margins": {
                "values": {k: [round(v, 6) for v in vs] for k, vs in margins.items()},
                "measured": {
                    k: [None if not np.isfinite(v) else round(v, 6) for v in vs] for k, vs in measured_m.items()
                },
                "safety": 1.5,
                "source": "bin 0: data/cascade.json; other bins: the largest |d0 - t0| of a calibration pair (the "
                "pairs above) in the bin whose no-flip and flip decisions differ, times the safety factor",
            },
        }
        args.out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
