"""Variants of the copy check measured pair by pair (the exploration behind the first
look, the ECC iterations and the face-crop rule; tune split only).

    flock -s /tmp/faceproof-cpu.lock python bench/copy_variants.py measure tune
    flock -s /tmp/faceproof-cpu.lock python bench/copy_variants.py measure extra-tune   # unlisted pairs
    python bench/copy_variants.py report /tmp/faceproof-bench-copies/variants-{tune,extra-tune}.json
    flock -s /tmp/faceproof-cpu.lock python bench/copy_variants.py measure-lite tune    # and extra-tune
    python bench/copy_variants.py report-gate /tmp/faceproof-bench-copies/variants-{tune,extra-tune}-lite.json

(rows written to /tmp/faceproof-bench-copies/variants-SPLIT.json; ``extra-tune``: every
same-person pair of LFW dev-train people that no pair list names.)

For every copy (bench/copy_attacks.py's sources and attacks, seed 0) and every genuine
pair, per crop level (context ``c`` / face ``f``) and orientation (0 straight, 1
mirrored): the unregistered correlation ``raw``, three cheap first looks (``coarse``: a
lower DoG band at 64x64; ``low``: 16x16 area-averaged, high-passed — the one adopted),
the registered correlation at 30 ECC iterations (``r64``) and at 8, 12 and 18. The
report applies a rule to these rows: copies caught and genuine pairs flagged per set,
for the face-crop thresholds, the first-look bars (with the share of genuine
orientations that skip registration) and the ECC iterations. Uses the copy module's
private steps on purpose (a bench, not library code).
"""

from __future__ import annotations

import collections
import hashlib
import json
import math
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

import copy_attacks as B  # noqa: E402

from faceproof import FaceProof  # noqa: E402
from faceproof.authenticity import copies as C  # noqa: E402
from faceproof.authenticity.attacks import ATTACKS, apply_attack  # noqa: E402

OUT = Path("/tmp/faceproof-bench-copies")
LITE = False


def coarse(sel, crop, mask, sig=(1.6, 6.0)):

    def bp(g):
        return cv2.GaussianBlur(g, (0, 0), sig[0]) - cv2.GaussianBlur(g, (0, 0), sig[1])

    both = cv2.erode(np.bitwise_and(sel.mask, mask), C._KERNEL).astype(bool)
    return C._ncc(bp(sel.crop), bp(crop), both)


def lowres(sel, crop, mask):
    # 16x16 area-averaged, band-passed mildly
    s = cv2.resize(sel.crop, (16, 16), interpolation=cv2.INTER_AREA)
    p = cv2.resize(crop, (16, 16), interpolation=cv2.INTER_AREA)
    both = cv2.erode(np.bitwise_and(sel.mask, mask), C._KERNEL)
    m = cv2.resize(both.astype(np.float32), (16, 16), interpolation=cv2.INTER_AREA) > 0.99
    s = s - cv2.GaussianBlur(s, (0, 0), 3.0)
    p = p - cv2.GaussianBlur(p, (0, 0), 3.0)
    return C._ncc(s.astype(np.float32), p.astype(np.float32), m)


def nz(x):
    return None if (x is None or (isinstance(x, float) and math.isnan(x))) else round(float(x), 4)


def measures(sd, pd):
    out = {}
    for level in ("context", "face"):
        s = getattr(sd, level)
        p = getattr(pd, level)
        for o in (0, 1):
            crop = p.mirrored if o else p.crop
            band = p.band_mirrored if o else p.band
            mask = p.mask_mirrored if o else p.mask
            k = f"{level[0]}{o}"
            out["ov" + k] = round(float(np.bitwise_and(s.mask, mask).mean()), 3)
            out["raw" + k] = nz(C._raw_correlation(s, band, mask))
            out["coarse" + k] = nz(coarse(s, crop, mask))
            out["low" + k] = nz(lowres(s, crop, mask))
            g = C._mirror_geometry(pd.geometry) if o else pd.geometry
            out["geom" + k] = round(float(np.abs(sd.geometry - g).max()), 4)
            default = C.ECC_ITERATIONS
            if LITE:  # only the adopted iterations (bench/copy_variants.py measure-lite)
                out["r64i12" + k] = nz(C._registered_correlation(s, crop, mask)[0])
                continue
            C.ECC_ITERATIONS = 30
            out["r64" + k] = nz(C._registered_correlation(s, crop, mask)[0])
            for it in (8, 12, 18):
                C.ECC_ITERATIONS = it
                out[f"r64i{it}" + k] = nz(C._registered_correlation(s, crop, mask)[0])
            C.ECC_ITERATIONS = default
    return out


def measure(split: str) -> None:
    fp = FaceProof()
    cache = B.FaceCache(fp)
    rows = []
    srcs = B.sources(split) if split in ("tune", "test") else []
    for kind, path in srcs:
        image = fp.load_image(path)
        sf_ = cache.faces(str(path), image)
        sm = B.main_face(sf_)
        if sm is None:
            continue
        pdesc = [C.describe_face(image, f) for f in sf_ if f.landmarks is not None]
        rel = str(path.relative_to(B.DATA))
        for name in ATTACKS:
            seed = int.from_bytes(hashlib.sha1(f"{rel}|{name}|0".encode()).digest()[:4], "big")
            att = apply_attack(name, image, seed, sm.bbox)
            f = B.main_face(cache.faces(f"{rel}|{name}|{seed}", att))
            if f is None:
                continue
            sd = C.describe_face(att, f)
            for j, pd in enumerate(pdesc):
                rows.append({"kind": "copy", "set": kind, "attack": name, "source": rel, "j": j, **measures(sd, pd)})
    pairs = B.genuine_pairs(split) if split != "extra" else []
    if split in ("extra-tune", "extra-test"):
        import csv
        import itertools
        import os

        listed = set()
        ids = {}
        for f, nm in (("pairs_dev_train.csv", "tune"), ("pairs_dev_test.csv", "test")):
            for r in csv.DictReader(open(B.DATA / "lfw_view1" / f)):
                listed.add(frozenset((r["path1"], r["path2"])))
                for kk in ("path1", "path2"):
                    ids[r[kk].split("/")[1]] = nm
        pairs = []
        root = B.DATA / "lfw_view1" / "images"
        for d in sorted(os.listdir(root)):
            if ids.get(d) != split.split("-")[1]:
                continue
            fs = sorted(f"images/{d}/{f}" for f in os.listdir(root / d))
            for a, b in itertools.combinations(fs, 2):
                if frozenset((a, b)) not in listed:
                    pairs.append(("lfw-extra", B.DATA / "lfw_view1" / a, B.DATA / "lfw_view1" / b))
    for kind, p1, p2 in pairs:
        im1, im2 = fp.load_image(p1), fp.load_image(p2)
        f1 = B.main_face(cache.faces(str(p1), im1))
        f2 = cache.faces(str(p2), im2)
        if f1 is None or not f2:
            continue
        sd = C.describe_face(im1, f1)
        for j, f in enumerate(f2):
            if f.landmarks is None:
                continue
            rows.append(
                {
                    "kind": "genuine",
                    "set": kind,
                    "p1": str(p1),
                    "p2": str(p2),
                    "j": j,
                    **measures(sd, C.describe_face(im2, f)),
                }
            )
    cache.save()
    (OUT / f"variants-{split}{'-lite' if LITE else ''}.json").write_text(json.dumps(rows))
    print(len(rows))


def v(x):
    return -1.0 if x is None else x


def load(f):
    G = collections.defaultdict(list)
    for r in json.load(open(f)):
        G[(r["kind"], r["set"], r.get("attack"), r.get("source"), r.get("p1"), r.get("p2"))].append(r)
    return G


def pair(r, reg="r64", pre=None, bar=-9):
    lv = "c" if (r["rawc0"] is not None or r["rawc1"] is not None) else "f"
    best = None
    for o in (0, 1):
        raw = r[f"raw{lv}{o}"]
        if raw is None:
            continue
        c = raw
        p = max(v(r[f"{x}{lv}{o}"]) for x in pre) if pre else 9
        if p >= bar:
            c = max(c, v(r[f"{reg}{lv}{o}"]))
        if best is None or c > best[0]:
            best = (c, o)
    if best is None:
        return None
    c, o = best
    f = max(v(r[f"rawf{o}"]), v(r[f"{reg}f{o}"])) if lv == "c" else c
    return c, f, lv


def rule(r, C=0.8, F=0.8, A=None, H=None, **kw):
    p = pair(r, **kw)
    if p is None:
        return False
    c, f, lv = p
    if lv == "f":
        return c >= C
    return (c >= C and f >= F) or (A is not None and c >= A and f >= H)


def score(G, **kw):
    out = collections.defaultdict(lambda: [0, 0])
    for k, rs in G.items():
        out[(k[0], k[1])][0] += any(rule(r, **kw) for r in rs)
        out[(k[0], k[1])][1] += 1
    return "  ".join(f"{a}/{b}:{x}/{n}({100 * x / n:.2f}%)" for (a, b), (x, n) in sorted(out.items()))


def report(files: list[str]) -> None:
    groups = [load(f) for f in files]
    base = dict(F=0.8, A=0.5, H=0.9)
    print("face-crop rule (registration everywhere, 30 iterations):")
    for kw in [
        dict(F=-1),
        dict(F=0.6),
        dict(F=0.7),
        dict(F=0.75),
        dict(F=0.8),
        dict(F=0.85),
        dict(F=0.9),
        base,
        dict(F=0.8, A=0.5, H=0.85),
        dict(F=0.8, A=0.4, H=0.9),
    ]:
        print(" ", kw, " | ".join(score(G, **kw) for G in groups))

    def skipped(pre, bar):
        n = s = 0
        for G in groups:
            for k, rs in G.items():
                if k[0] != "genuine":
                    continue
                for r in rs:
                    lv = "c" if (r["rawc0"] is not None or r["rawc1"] is not None) else "f"
                    for o in (0, 1):
                        if r[f"raw{lv}{o}"] is None:
                            continue
                        n += 1
                        s += max(v(r[f"{x}{lv}{o}"]) for x in pre) < bar
        return s / max(n, 1)

    print("first look (rule F=0.8, A=0.5, H=0.9): genuine orientations that skip registration, copies caught")
    for pre in (("raw",), ("coarse",), ("low",)):
        for bar in (0.1, 0.2, 0.25, 0.3, 0.35, 0.4):
            print(
                f"  {pre[0]} >= {bar}: skip {100 * skipped(pre, bar):.0f} %;",
                score(groups[0], pre=pre, bar=bar, **base),
            )
    print("ECC iterations (with the first look low >= 0.3):")
    for reg in ("r64", "r64i8", "r64i12", "r64i18"):
        print(f"  {reg}:", " | ".join(score(G, reg=reg, pre=("low",), bar=0.3, **base) for G in groups))


def report_gate(files: list[str]) -> None:
    """The registration gate on measure-lite rows (12 iterations, the adopted face-crop
    rule): register an orientation when its first look reaches 0.30 and, below
    ``sure``, its unregistered correlation reaches ``raw`` (the straight orientation of
    the context crop only, as adopted, or every comparison: ``both``). Copies caught, genuine pairs flagged and ECC
    registrations per genuine / copy pair (face-crop ones included)."""
    groups = [load(f) for f in files]

    def decide(r, sure, rawbar, both):
        lv = "c" if (r["rawc0"] is not None or r["rawc1"] is not None) else "f"
        best, n = None, 0
        for o in (0, 1):
            raw = r[f"raw{lv}{o}"]
            if raw is None:
                continue
            c, look = raw, v(r[f"low{lv}{o}"])
            gated = both or (o == 0 and lv == "c")  # adopted: the straight context comparison only
            unsure_ok = not gated or look >= sure or raw >= rawbar
            if r[f"low{lv}{o}"] is not None and look >= 0.30 and unsure_ok:
                n += 1
                c = max(c, v(r[f"r64i12{lv}{o}"]))
            if best is None or c > best[0]:
                best = (c, o)
        if best is None:
            return False, n
        c, o = best
        if lv == "f":
            return c >= 0.8, n
        if c < 0.5:
            return False, n
        f = max(v(r[f"rawf{o}"]), v(r[f"r64i12f{o}"]))
        return (c >= 0.8 and f >= 0.8) or f >= 0.9, n + 1

    grid = [(a, b, False) for a in (0.4, 0.45, 0.5, 0.55) for b in (0.15, 0.2, 0.25, 0.3)]
    for sure, rawbar, both in [(-1, -1, False), (0.45, 0.25, True), *grid]:
        out = collections.defaultdict(lambda: [0, 0])
        regs = collections.defaultdict(lambda: [0, 0])
        for G in groups:
            for k, rs in G.items():
                res = [decide(r, sure, rawbar, both) for r in rs]
                out[(k[0], k[1])][0] += any(x for x, _ in res)
                out[(k[0], k[1])][1] += 1
                regs[k[0]][0] += sum(n for _, n in res)
                regs[k[0]][1] += len(rs)
        cells = "  ".join(f"{a}/{b}:{x}/{n}" for (a, b), (x, n) in sorted(out.items()))
        per = " ".join(f"{a}:{x / n:.2f}" for a, (x, n) in sorted(regs.items()))
        name = "first look alone" if sure < 0 else f"sure {sure}, raw {rawbar}{' (every comparison)' if both else ''}"
        print(f"  {name}: {cells}  registrations per pair {per}")


if __name__ == "__main__":
    if sys.argv[1] in ("measure", "measure-lite"):
        LITE = sys.argv[1] == "measure-lite"
        measure(sys.argv[2])
    elif sys.argv[1] == "report-gate":
        report_gate(sys.argv[2:])
    else:
        report(sys.argv[2:])
