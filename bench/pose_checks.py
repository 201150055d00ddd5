"""Challenge pose checks measured on real photos.

    flock /tmp/faceproof-cpu.lock python bench/pose_checks.py --split tune
    flock /tmp/faceproof-cpu.lock python bench/pose_checks.py --split test

Roll (tilt_left / tilt_right / look_straight) exactly: every photo is rotated by -30..30
degrees (canvas enlarged, nothing cut) and the face re-found; a rotation of +a degrees
(counter-clockwise in the image) is a head tilted a degrees towards the member's right
shoulder. Per angle: the estimated roll from the first detection's landmarks and from
``upright_landmarks`` (re-detected upright), and the pass rate of each instruction.

Yaw (turn_left / turn_right / look_straight) as far as the data allows: CFP frontal photos
(yaw near 0: look_straight should pass, turns should not) and CFP profile (side-view)
photos, each also mirrored (a mirror flips the direction, so turn_left on a photo must
equal turn_right on its mirror).

Splits: tune = CFP people 001-050, LFW dev-train images; test = CFP people 051-100, LFW
dev-test images, the licensed portraits. Nothing is written but the printed tables.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from faceproof import FaceProof  # noqa: E402
from faceproof.authenticity.attacks import rotate_full  # noqa: E402
from faceproof.authenticity.challenge import Instruction, check_pose, upright_landmarks  # noqa: E402
from faceproof.runtime.pose import estimate_pose  # noqa: E402
from faceproof.types import Face  # noqa: E402

DATA = Path(os.environ.get("FACEPROOF_TESTDATA", REPO.parent / "shared" / "testdata"))
ANGLES = list(range(-30, 31, 5))


def main_face(faces: list[Face]) -> Face | None:
    faces = [f for f in faces if f.landmarks is not None]
    return max(faces, key=lambda f: f.bbox.area) if faces else None


def roll_sources(split: str) -> list[tuple[str, Path]]:
    ids = range(1, 51) if split == "tune" else range(51, 101)
    out = [("cfp", DATA / "cfp_dev" / "images" / f"{i:03d}" / "frontal" / "01.jpg") for i in ids]
    name = "pairs_dev_train.csv" if split == "tune" else "pairs_dev_test.csv"
    with (DATA / "lfw_view1" / name).open() as fh:
        rows = list(csv.DictReader(fh))
    seen: list[Path] = []
    for r in rows[::10]:
        p = DATA / "lfw_view1" / r["path1"]
        if p not in seen:
            seen.append(p)
    out += [("lfw", p) for p in seen[:50]]
    if split == "test":
        with (DATA / "photos" / "manifest.csv").open() as fh:
            for r in csv.DictReader(fh):
                if r["faces"] == "1" and r["identity"]:
                    out.append(("licensed", DATA / "photos" / r["path"]))
    return out


def measure_roll(fp: FaceProof, split: str) -> list[dict]:
    rows = []
    for kind, path in roll_sources(split):
        image = fp.load_image(path)
        for a in ANGLES:
            rotated = rotate_full(image, a)
            face = main_face(fp.detect(rotated))
            row = {"set": kind, "path": str(path.relative_to(DATA)), "angle": a, "found": face is not None}
            if face is not None:
                assert face.landmarks is not None
                t0 = time.perf_counter()
                up = upright_landmarks(rotated, face, fp.detector)
                row["ms"] = 1000 * (time.perf_counter() - t0)
                row["plain"] = estimate_pose(face.landmarks).roll
                row["upright"] = estimate_pose(up).roll
                row["checks"] = {i.value: check_pose(i, up).passed for i in Instruction}
                row["checks_plain"] = {i.value: check_pose(i, face).passed for i in Instruction}
            rows.append(row)
    return rows


def yaw_rows(fp: FaceProof, split: str) -> list[dict]:
    ids = range(1, 51) if split == "tune" else range(51, 101)
    rows = []
    for i in ids:
        base = DATA / "cfp_dev" / "images" / f"{i:03d}"
        for view, names in (
            ("frontal", ["01.jpg", "02.jpg", "03.jpg"]),
            ("profile", ["01.jpg", "02.jpg", "03.jpg", "04.jpg"]),
        ):
            for n in names:
                path = base / view / n
                image = fp.load_image(path)
                for mirrored in (False, True):
                    img = np.ascontiguousarray(image[:, ::-1]) if mirrored else image
                    face = main_face(fp.detect(img))
                    row = {
                        "view": view,
                        "path": str(path.relative_to(DATA)),
                        "mirrored": mirrored,
                        "found": face is not None,
                    }
                    if face is not None:
                        pose = estimate_pose(face.landmarks)
                        row.update(yaw=pose.yaw, pitch=pose.pitch, roll=pose.roll)
                        row["checks"] = {ins.value: check_pose(ins, face).passed for ins in Instruction}
                    rows.append(row)
    return rows


def pct(rows: list[dict], pred: Callable[[dict], bool]) -> str:
    return f"{100.0 * sum(pred(r) for r in rows) / len(rows):.1f}" if rows else "-"


def report(roll: list[dict], yaw: list[dict]) -> str:
    out = ["Roll: photos rotated by a degrees (+ = counter-clockwise = tilted to the member's right)", ""]
    for kind in [*sorted({r["set"] for r in roll}), "all"]:
        rs = [r for r in roll if kind == "all" or r["set"] == kind]
        out.append(f"set {kind}: {len({r['path'] for r in rs})} photos")
        out.append(
            "| angle | found % | median roll (first detection) | median roll (upright) |"
            " look_straight % | tilt_left % | tilt_right % |"
        )
        out.append("|---|---|---|---|---|---|---|")
        for a in ANGLES:
            at = [r for r in rs if r["angle"] == a]
            f = [r for r in at if r["found"]]
            mp = float(np.median([r["plain"] for r in f])) if f else float("nan")
            mu = float(np.median([r["upright"] for r in f])) if f else float("nan")
            out.append(
                f"| {a:+d} | {pct(at, lambda r: r['found'])} | {mp:+.1f} | {mu:+.1f} | "
                f"{pct(f, lambda r: r['checks']['look_straight'])} | {pct(f, lambda r: r['checks']['tilt_left'])} | "
                f"{pct(f, lambda r: r['checks']['tilt_right'])} |"
            )
        out.append("")
    ms = [r["ms"] for r in roll if "ms" in r]
    out.append(f"upright_landmarks: {np.median(ms):.1f} ms median per face")
    out.append("")
    out.append("Yaw: CFP frontal and profile photos, as given and mirrored")
    out.append("| view | mirrored | photos | found % | median abs yaw | look_straight % | turn_left % | turn_right % |")
    out.append("|---|---|---|---|---|---|---|---|")
    for view in ("frontal", "profile"):
        for m in (False, True):
            rs = [r for r in yaw if r["view"] == view and r["mirrored"] == m]
            f = [r for r in rs if r["found"]]
            my = float(np.median([abs(r["yaw"]) for r in f])) if f else float("nan")
            out.append(
                f"| {view} | {m} | {len(rs)} | {pct(rs, lambda r: r['found'])} | {my:.1f} | "
                f"{pct(f, lambda r: r['checks']['look_straight'])} | {pct(f, lambda r: r['checks']['turn_left'])} | "
                f"{pct(f, lambda r: r['checks']['turn_right'])} |"
            )
    # direction consistency: a photo and its mirror found both: turn_left on one == turn_right on the other
    pairs = {}
    for r in yaw:
        if r["view"] == "profile" and r["found"]:
            pairs.setdefault(r["path"], {})[r["mirrored"]] = r
    both = [p for p in pairs.values() if len(p) == 2]
    flips = sum(np.sign(p[False]["yaw"]) == -np.sign(p[True]["yaw"]) for p in both)
    turned = [p for p in both if p[False]["checks"]["turn_left"] or p[False]["checks"]["turn_right"]]
    consistent = sum(
        p[False]["checks"]["turn_left"] == p[True]["checks"]["turn_right"]
        and p[False]["checks"]["turn_right"] == p[True]["checks"]["turn_left"]
        for p in turned
    )
    out.append("")
    out.append(f"profile photos found straight and mirrored: {len(both)}; yaw sign flips under the mirror: {flips}")
    out.append(
        f"of those passing a turn: {len(turned)}; the mirror passes the opposite turn (and not the same): {consistent}"
    )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", choices=["tune", "test"], default="tune")
    args = ap.parse_args()
    fp = FaceProof()
    t0 = time.perf_counter()
    roll = measure_roll(fp, args.split)
    yaw = yaw_rows(fp, args.split)
    print(f"split {args.split}; {fp!r}\n")
    print(report(roll, yaw))
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
