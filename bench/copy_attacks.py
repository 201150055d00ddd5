"""Copy detection measured: near-copies of real photos caught, genuine photo pairs not flagged.

    flock -s /tmp/faceproof-cpu.lock python bench/copy_attacks.py --split tune
    flock -s /tmp/faceproof-cpu.lock python bench/copy_attacks.py --split test
    flock -s /tmp/faceproof-cpu.lock python bench/copy_attacks.py --split fresh
    ... --previous   # the rule before the face-crop condition and the first look
    ... --first-look-only   # the first look alone decides the registration (before the raw condition)

Copies: every source photo is attacked with every transformation of
``faceproof.authenticity.attacks`` (parameters drawn from a seed per photo and attack),
in memory; the attacked image is the "selfie", the source the profile photo. Genuine
pairs: two different photos of the same person (LFW View 1 same-person pairs, CFP
frontal-frontal same-person pairs, the licensed photos' same-identity pairs).

Splits (the thresholds in ``CopyThresholds`` were chosen on ``tune`` only):

* tune: sources = 200 LFW dev-train images and the first frontal photo of CFP people
  001-050 (fold 1); genuine = LFW dev-train same pairs, CFP-FF fold 1 same pairs, and
  (set ``lfw-extra``) every other same-person pair of LFW View 1 images of dev-train
  people (1,109 pairs no list names).
* test: sources = 200 LFW dev-test images, CFP people 051-100 (fold 2), every licensed
  photo with a face; genuine = LFW dev-test same pairs, CFP-FF fold 2 same pairs, the
  licensed photos' same-identity pairs. (Looked at once while building the face-crop
  rule, see docs/authenticity.md.)
* fresh: held out and never looked at before the rule was fixed: sources = 200 other
  LFW dev-test images (interleaved with test's, none shared); genuine = every other
  same-person pair of LFW View 1 images of dev-test people (483 pairs no list names).

Faces (YuNet boxes + landmarks, no embedding) are cached under /tmp (never images).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
import json
import os
import pickle
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from faceproof import FaceProof  # noqa: E402
from faceproof.authenticity.attacks import ATTACKS, apply_attack  # noqa: E402
from faceproof.authenticity.copies import CopyThresholds, find_copy, is_copy  # noqa: E402
from faceproof.authenticity.fingerprint import selfie_fingerprint  # noqa: E402
from faceproof.decision.quality import assess_face  # noqa: E402
from faceproof.types import Face  # noqa: E402

FP_KS = (16, 24, 32, 40, 48, 56, 64)
DATA = Path(os.environ.get("FACEPROOF_TESTDATA", REPO.parent / "shared" / "testdata"))
CACHE = Path("/tmp/faceproof-bench-copies")


class FaceCache:
    def __init__(self, fp: FaceProof) -> None:
        self.fp = fp
        CACHE.mkdir(parents=True, exist_ok=True)
        self.path = CACHE / "faces-yunet.pkl"
        self.data: dict[str, list[Face]] = {}
        if self.path.is_file():
            with self.path.open("rb") as fh:
                self.data = pickle.load(fh)
        self.dirty = 0

    def faces(self, key: str, image: np.ndarray) -> list[Face]:
        k = hashlib.sha1(key.encode()).hexdigest()
        if k not in self.data:
            self.data[k] = self.fp.detect(image)
            self.dirty += 1
            if self.dirty >= 500:
                self.save()
        return self.data[k]

    def save(self) -> None:
        if self.dirty:
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")  # several runs may share the cache
            with tmp.open("wb") as fh:
                pickle.dump(self.data, fh)
            tmp.replace(self.path)
            self.dirty = 0


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def lfw_sources(csv_name: str, n: int, offset: bool = False) -> list[Path]:
    """n images spread over the list; ``offset``: the n images half a step further
    (none shared with the first n)."""
    rows = read_csv(DATA / "lfw_view1" / csv_name)
    seen: list[Path] = []
    for r in rows:
        for k in ("path1", "path2"):
            p = DATA / "lfw_view1" / r[k]
            if p not in seen:
                seen.append(p)
    step = max(1, len(seen) // n)
    return seen[step // 2 if offset else 0 :: step][:n]


def lfw_unlisted_pairs(csv_name: str) -> list[tuple[Path, Path]]:
    """Every same-person pair of LFW View 1 images of the people of ``csv_name`` that
    neither pair list names (most people have more images than their listed pairs use)."""
    listed: set[frozenset[str]] = set()
    for name in ("pairs_dev_train.csv", "pairs_dev_test.csv"):
        for r in read_csv(DATA / "lfw_view1" / name):
            listed.add(frozenset((r["path1"], r["path2"])))
    people = sorted({r[k].split("/")[1] for r in read_csv(DATA / "lfw_view1" / csv_name) for k in ("path1", "path2")})
    out: list[tuple[Path, Path]] = []
    for person in people:
        files = sorted(f"images/{person}/{p.name}" for p in (DATA / "lfw_view1" / "images" / person).glob("*.jpg"))
        for a, b in itertools.combinations(files, 2):
            if frozenset((a, b)) not in listed:
                out.append((DATA / "lfw_view1" / a, DATA / "lfw_view1" / b))
    return out


def cfp_ids(split: str) -> range:
    return range(1, 51) if split == "tune" else range(51, 101)


def licensed_rows() -> list[dict[str, str]]:
    return [r for r in read_csv(DATA / "photos" / "manifest.csv") if int(r["faces"] or 0) > 0]


def sources(split: str) -> list[tuple[str, Path]]:
    out: list[tuple[str, Path]] = []
    if split == "fresh":
        return [("lfw", p) for p in lfw_sources("pairs_dev_test.csv", 200, offset=True)]
    lfw_csv = "pairs_dev_train.csv" if split == "tune" else "pairs_dev_test.csv"
    out += [("lfw", p) for p in lfw_sources(lfw_csv, 200)]
    out += [("cfp", DATA / "cfp_dev" / "images" / f"{i:03d}" / "frontal" / "01.jpg") for i in cfp_ids(split)]
    if split == "test":
        out += [("licensed", DATA / "photos" / r["path"]) for r in licensed_rows()]
    return out


def genuine_pairs(split: str) -> list[tuple[str, Path, Path]]:
    out: list[tuple[str, Path, Path]] = []
    if split == "fresh":
        return [("lfw-extra", a, b) for a, b in lfw_unlisted_pairs("pairs_dev_test.csv")]
    lfw_csv = "pairs_dev_train.csv" if split == "tune" else "pairs_dev_test.csv"
    for r in read_csv(DATA / "lfw_view1" / lfw_csv):
        if r["same"] == "1":
            out.append(("lfw", DATA / "lfw_view1" / r["path1"], DATA / "lfw_view1" / r["path2"]))
    fold = "1" if split == "tune" else "2"
    for r in read_csv(DATA / "cfp_dev" / "pairs_ff.csv"):
        if r["same"] == "1" and r["fold"] == fold:
            out.append(("cfp", DATA / "cfp_dev" / r["path1"], DATA / "cfp_dev" / r["path2"]))
    if split == "test":
        by_id: dict[str, list[Path]] = {}
        for r in licensed_rows():
            for name in filter(None, r["identity"].split(";")):
                by_id.setdefault(name, []).append(DATA / "photos" / r["path"])
        for paths in by_id.values():
            for a, b in itertools.combinations(paths, 2):
                out.append(("licensed", a, b))
    if split == "tune":
        out += [("lfw-extra", a, b) for a, b in lfw_unlisted_pairs("pairs_dev_train.csv")]
    return out


def main_face(faces: list[Face]) -> Face | None:
    faces = [f for f in faces if f.landmarks is not None]
    return max(faces, key=lambda f: f.bbox.area) if faces else None


def measure(
    fp: FaceProof, cache: FaceCache, split: str, seeds: int, thr: CopyThresholds, limit: int | None = None
) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    timings: list[float] = []
    for kind, path in sources(split)[:limit]:
        image = fp.load_image(path)
        src_faces = cache.faces(str(path), image)
        src_main = main_face(src_faces)
        if src_main is None:
            continue
        rel = str(path.relative_to(DATA))
        for name in ATTACKS:
            for s in range(seeds):
                seed = int.from_bytes(hashlib.sha1(f"{rel}|{name}|{s}".encode()).digest()[:4], "big")
                attacked = apply_attack(name, image, seed, src_main.bbox)
                faces = cache.faces(f"{rel}|{name}|{seed}", attacked)
                sf = main_face(faces)
                row: dict[str, Any] = {
                    "set": kind,
                    "source": rel,
                    "attack": name,
                    "seed": seed,
                    "detected": sf is not None,
                }
                if sf is not None:
                    res = find_copy(attacked, [sf], [(image, src_faces)], thresholds=thr)
                    assert res.best is not None
                    row.update(res.best.to_dict())
                    quality = assess_face(attacked, sf)
                    row["selfie_usable"] = quality.usable
                    row["selfie_issues"] = [str(i) for i in quality.blocking]
                    row["fingerprint_distance"] = selfie_fingerprint(attacked, sf).distance(
                        selfie_fingerprint(image, src_main)
                    )
                rows.append(row)
    cache.save()
    genuine: list[dict[str, Any]] = []
    for kind, p1, p2 in genuine_pairs(split)[:limit]:
        im1, im2 = fp.load_image(p1), fp.load_image(p2)
        f1 = main_face(cache.faces(str(p1), im1))
        f2 = cache.faces(str(p2), im2)
        row = {
            "set": kind,
            "path1": str(p1.relative_to(DATA)),
            "path2": str(p2.relative_to(DATA)),
            "detected": f1 is not None and bool(f2),
        }
        if f1 is not None and f2:
            t0 = time.perf_counter()
            res = find_copy(im1, [f1], [(im2, f2)], thresholds=thr)
            timings.append(time.perf_counter() - t0)
            assert res.best is not None
            row.update(res.best.to_dict())
            m2 = main_face(f2)
            assert m2 is not None
            row["fingerprint_distance"] = selfie_fingerprint(im1, f1).distance(selfie_fingerprint(im2, m2))
        genuine.append(row)
    cache.save()
    # fingerprints of every distinct image of the split's LFW pairs: all pairs of different
    # images are the false-match candidates a replay store meets (same person or not)
    codes: dict[str, tuple[int, int]] = {}
    lfw_csv = "pairs_dev_train.csv" if split == "tune" else "pairs_dev_test.csv"
    for r in read_csv(DATA / "lfw_view1" / lfw_csv)[: 0 if split == "fresh" else limit]:
        for k in ("path1", "path2"):
            p = DATA / "lfw_view1" / r[k]
            if str(p) in codes:
                continue
            im = fp.load_image(p)
            f = main_face(cache.faces(str(p), im))
            if f is not None:
                sfp = selfie_fingerprint(im, f)
                codes[str(p)] = (sfp.code, sfp.code_mirrored)
    cache.save()
    return {
        "lfw_all_pairs": all_pairs_distances(list(codes.values())) if codes else {"images": 0, "hist": [0] * 257},
        "split": split,
        "thresholds": thr.to_dict(),
        "copies": rows,
        "genuine": genuine,
        "ms_per_pair": 1000 * float(np.median(timings)),
        "ms_per_pair_p90": 1000 * float(np.percentile(timings, 90)),
    }


def all_pairs_distances(codes: list[tuple[int, int]]) -> dict[str, Any]:
    """Histogram of min(straight, mirrored) Hamming distances over all pairs of codes."""
    a = np.array([np.frombuffer(c.to_bytes(32, "big"), dtype=np.uint8) for c, _ in codes])
    m = np.array([np.frombuffer(c.to_bytes(32, "big"), dtype=np.uint8) for _, c in codes])
    hist = np.zeros(257, dtype=np.int64)
    for i in range(len(codes) - 1):
        d1 = np.unpackbits(a[i + 1 :] ^ a[i], axis=1).sum(axis=1)
        d2 = np.unpackbits(a[i + 1 :] ^ m[i], axis=1).sum(axis=1)
        hist += np.bincount(np.minimum(d1, d2), minlength=257)
    return {"images": len(codes), "hist": hist.tolist()}


def rule(thr: CopyThresholds, r: dict[str, Any]) -> bool:
    """The library's rule (:func:`is_copy`) on a row's measures: another threshold can be
    applied to saved rows, not another first-look bar (that changes what is measured)."""
    c, fc = r.get("correlation"), r.get("face_correlation")
    if c is None:
        return False
    return is_copy(c, float("nan") if fc is None else fc, r.get("level", "context"), thr)


def report(result: dict[str, Any], thr: CopyThresholds) -> str:
    lines = [f"split: {result['split']}; thresholds: {thr.to_dict()}", ""]
    lines.append(
        "| attack | copies | face found | caught (of found) | caught % | min correlation |"
        " selfie usable | caught % of usable | not verified % |"
    )
    lines.append("|---|---|---|---|---|---|---|---|---|")
    copies = result["copies"]
    tot = [0, 0, 0, 0, 0, 0]
    for name in ATTACKS:
        rs = [r for r in copies if r["attack"] == name]
        found = [r for r in rs if r["detected"]]
        caught = [r for r in found if rule(thr, r)]
        cs = [r["correlation"] for r in found if r.get("correlation") is not None]
        tot[0] += len(rs)
        tot[1] += len(found)
        tot[2] += len(caught)
        pct = 100.0 * len(caught) / len(found) if found else float("nan")
        usable = [r for r in found if r.get("selfie_usable", True)]
        cu = sum(rule(thr, r) for r in usable)
        # not verified: no face, an unusable selfie (check_profile refuses it), or caught
        nv = sum(1 for r in rs if not r["detected"] or not r.get("selfie_usable", True) or rule(thr, r))
        tot[3] += len(usable)
        tot[4] += cu
        tot[5] += nv
        lines.append(
            f"| {name} | {len(rs)} | {len(found)} | {len(caught)} | {pct:.1f} | {min(cs) if cs else float('nan'):.3f} |"
            f" {len(usable)} | {100.0 * cu / max(len(usable), 1):.1f} | {100.0 * nv / max(len(rs), 1):.1f} |"
        )
    lines.append(
        f"| **all** | {tot[0]} | {tot[1]} | {tot[2]} | {100.0 * tot[2] / max(tot[1], 1):.2f} | | {tot[3]} |"
        f" {100.0 * tot[4] / max(tot[3], 1):.2f} | {100.0 * tot[5] / max(tot[0], 1):.2f} |"
    )
    lines.append("")
    lines.append("| set | copies (face found) | caught % |")
    lines.append("|---|---|---|")
    for kind in sorted({r["set"] for r in copies}):
        found = [r for r in copies if r["set"] == kind and r["detected"]]
        caught = sum(rule(thr, r) for r in found)
        lines.append(f"| {kind} | {len(found)} | {100.0 * caught / max(len(found), 1):.2f} |")
    lines.append("")
    lines.append("| genuine pairs | pairs (faces found) | flagged | flagged % | max correlation |")
    lines.append("|---|---|---|---|---|")
    gen = result["genuine"]
    allf = [r for r in gen if r["detected"]]
    for kind in [*sorted({r["set"] for r in gen}), "all"]:
        rs = allf if kind == "all" else [r for r in allf if r["set"] == kind]
        flagged = [r for r in rs if rule(thr, r)]
        cs = [r["correlation"] for r in rs if r.get("correlation") is not None]
        lines.append(
            f"| {kind} | {len(rs)} | {len(flagged)} | {100.0 * len(flagged) / max(len(rs), 1):.2f} |"
            f" {max(cs) if cs else float('nan'):.3f} |"
        )
    for r in sorted(allf, key=lambda r: -(r.get("correlation") or -1))[:8]:
        lines.append(
            f"    genuine high: {r['path1']} {r['path2']} corr {r['correlation']}"
            f" face {r.get('face_correlation')} geom {r['geometry']} mirrored {r['mirrored']}"
        )
    missed = [r for r in copies if r["detected"] and not rule(thr, r)]
    for r in sorted(missed, key=lambda r: r.get("correlation") or -1)[:15]:
        lines.append(
            f"    copy missed: {r['source']} {r['attack']} corr {r.get('correlation')}"
            f" face {r.get('face_correlation')} geom {r.get('geometry')} overlap {r.get('overlap')}"
        )
    lines.append("")
    lines.append(
        "copy check per genuine selfie-photo pair (describe both faces + compare, library defaults): "
        f"{result['ms_per_pair']:.2f} ms median, {result['ms_per_pair_p90']:.2f} ms p90"
    )
    lines.append("")
    lines.append("Replay fingerprint: Hamming distance (of 256 bits, straight or mirrored) to the source / other photo")
    lines.append("| rows | n | " + " | ".join(f"d<={k} %" for k in FP_KS) + " | median d |")
    lines.append("|---|---|" + "---|" * len(FP_KS) + "---|")
    groups = [(f"copy {n}", [r for r in copies if r["attack"] == n]) for n in ATTACKS]
    groups.append(("genuine same person", gen))
    for label, rs in groups:
        ds = [r["fingerprint_distance"] for r in rs if "fingerprint_distance" in r]
        if not ds:
            continue
        cells = " | ".join(f"{100.0 * sum(d <= k for d in ds) / len(ds):.1f}" for k in FP_KS)
        lines.append(f"| {label} | {len(ds)} | {cells} | {np.median(ds):.0f} |")
    hist = np.array(result["lfw_all_pairs"]["hist"])
    total = int(hist.sum())
    lines.append("")
    lines.append(
        f"all pairs of the {result['lfw_all_pairs']['images']} LFW images of the split ({total} pairs of different"
        " photos, same person or not): pairs at distance <= k"
    )
    for k in FP_KS:
        lines.append(f"    k={k}: {int(hist[: k + 1].sum())} ({100.0 * hist[: k + 1].sum() / max(total, 1):.5f} %)")
    if total:
        lines.append(f"    smallest distance: {int(np.nonzero(hist)[0][0])}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", choices=["tune", "test", "fresh"], default="tune")
    ap.add_argument("--previous", action="store_true", help="measure the rule before the face-crop condition")
    ap.add_argument(
        "--first-look-only",
        action="store_true",
        help="the registration rule before the unregistered-correlation condition (sure_prefilter=-1)",
    )
    ap.add_argument("--seeds", type=int, default=1, help="parameter draws per photo and attack")
    ap.add_argument("--from-json", type=Path, default=None, help="report rows saved by --json (no measuring)")
    ap.add_argument("--min-correlation", type=float, default=None, help="report with another threshold")
    ap.add_argument("--min-face", type=float, default=None, help="report with another face-crop threshold")
    ap.add_argument("--min-raw", type=float, default=None, help="report with another registration bar")
    ap.add_argument("--limit", type=int, default=None, help="first N sources / pairs only (a smoke test)")
    ap.add_argument("--json", type=Path, default=None, help="write every row here (under /tmp, not the repo)")
    args = ap.parse_args()
    base = CopyThresholds.previous() if args.previous else CopyThresholds()
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        base = CopyThresholds(**saved["thresholds"]) if "thresholds" in saved else base
    thr = CopyThresholds(
        **{
            **base.to_dict(),
            **{
                k: v
                for k, v in (
                    ("min_correlation", args.min_correlation),
                    ("min_raw_correlation", args.min_raw),
                    ("min_face_correlation", args.min_face),
                    ("sure_prefilter", -1.0 if args.first_look_only else None),
                )
                if v is not None
            },
        }
    )
    if args.from_json:
        print(report(saved, thr))
        return
    fp = FaceProof()
    cache = FaceCache(fp)
    t0 = time.perf_counter()
    result = measure(fp, cache, args.split, args.seeds, thr, args.limit)
    if args.json:
        args.json.write_text(json.dumps(result))
    print(report(result, thr))
    print(f"\n({time.perf_counter() - t0:.0f} s; {fp!r})")


if __name__ == "__main__":
    main()
