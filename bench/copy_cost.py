"""What the copy check and the replay fingerprint add to one profile check.

    flock -x /tmp/faceproof-cpu.lock sh -c 'python bench/copy_cost.py --src OLD_CHECKOUT/src; python bench/copy_cost.py'

``--src`` times another checkout's ``faceproof`` (e.g. the commit before a change) with the
same script, so the two configurations are measured side by side in one locked run.

A profile check already has the decoded images and their faces (landmarks); this times
only what the authenticity checks add: ``find_copy`` of the selfie against N profile
photos and ``selfie_fingerprint`` of the selfie (with the file's bytes, reusing the
selfie's copy descriptor), for honest selfies (no copy: the registration runs only where
the first look asks for it) and for a copy. Licensed photos (0.1-3 MP) and LFW images.
Median wall-clock and median CPU time of the process over repetitions; OpenCV's default
threads. Run it on a quiet machine: the wall clock counts time spent waiting for cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
_ap = argparse.ArgumentParser(description="copy + replay check cost")
_ap.add_argument("--src", type=Path, default=REPO / "src", help="the faceproof source tree to time")
_ap.add_argument("--reps", type=int, default=30)
ARGS, _ = _ap.parse_known_args()
sys.path.insert(0, str(ARGS.src))

from faceproof import FaceProof  # noqa: E402
from faceproof.authenticity.attacks import apply_attack  # noqa: E402
from faceproof.authenticity.copies import compare_descriptors, describe_face, find_copy  # noqa: E402
from faceproof.authenticity.fingerprint import selfie_fingerprint  # noqa: E402

DATA = Path(os.environ.get("FACEPROOF_TESTDATA", REPO.parent / "shared" / "testdata"))
PROFILE = [
    "pytopenface/obama2.jpg",
    "pytopenface/obama3.jpg",
    "pytopenface/obama4.jpg",
    "kerns_dummy/obama_nasa_hq_photo.jpg",
    "kerns_dummy/obama_fatherhood_townhall.jpg",
    "kerns_dummy/obama_backstage_the_white_house.jpg",
    "pytopenface/chirac1.jpg",
    "pytopenface/chirac2.jpg",
    "bsplus/paul.jpg",
    "max_facial_recognizer/Chris.jpeg",
]


def timed(fn, reps: int) -> tuple[float, float]:
    """Median wall-clock ms and median CPU ms of this process (all its threads): on a
    shared machine the wall clock includes waiting for the cores, the CPU time does not."""
    ts, cs = [], []
    for _ in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        ts.append(1000 * (time.perf_counter() - t0))
        cs.append(1000 * (time.process_time() - c0))
    return float(np.median(ts)), float(np.median(cs))


def main() -> None:
    import faceproof

    print(f"faceproof from {Path(faceproof.__file__).parent}; load average {os.getloadavg()[0]:.2f}")
    reps = ARGS.reps
    fp = FaceProof()
    selfie_path = DATA / "photos" / "pytopenface" / "obama1.jpg"
    selfie = fp.load_image(selfie_path)
    raw = selfie_path.read_bytes()
    sface = max(fp.detect(selfie), key=lambda f: f.bbox.area)
    photos = []
    for rel in PROFILE:
        im = fp.load_image(DATA / "photos" / rel)
        photos.append((im, fp.detect(im)))
    n_faces = sum(len(f) for _, f in photos)
    print(f"selfie obama1.jpg {selfie.shape[1]}x{selfie.shape[0]}; {fp!r}")
    print("| what | profile photos (faces) | wall ms (median) | CPU ms (median) |")
    print("|---|---|---|---|")

    def fingerprint() -> None:
        selfie_fingerprint(selfie, sface, raw, descriptor=describe_face(selfie, sface))

    def copy_and_replay(sub, s_image=selfie, s_face=sface) -> None:
        """What the wired check runs: the selfie's descriptor once, shared by the copy
        check and the fingerprint (the file's bytes hashed)."""
        d = describe_face(s_image, s_face)
        for im, faces in sub:
            for f in faces:
                compare_descriptors(d, describe_face(im, f))
        selfie_fingerprint(s_image, s_face, raw, descriptor=d)

    # the 3-photo profile of bench/authenticity_wired.py: the matched face of each photo
    three = [(im, [max(f, key=lambda x: x.bbox.area)]) for im, f in photos[:3]]
    med, cpu = timed(lambda: copy_and_replay(three), reps)
    print(f"| copy + fingerprint, honest selfie, 3-photo profile (matched faces) | 3 (3) | {med:.1f} | {cpu:.1f} |")
    copy = apply_attack("mirror_half_q60", photos[0][0], 1, photos[0][1][0].bbox)
    cface = max(fp.detect(copy), key=lambda f: f.bbox.area)
    med, cpu = timed(lambda: copy_and_replay(three, copy, cface), reps)
    print(f"| copy + fingerprint, a copy of photo 1, 3-photo profile | 3 (3) | {med:.1f} | {cpu:.1f} |")
    for n in (1, 5, 10):
        sub = photos[:n]
        faces = sum(len(f) for _, f in sub)
        med, cpu = timed(lambda sub=sub: find_copy(selfie, [sface], sub), reps)
        print(f"| find_copy, honest selfie, every face | {n} ({faces}) | {med:.1f} | {cpu:.1f} |")
    med, cpu = timed(lambda: find_copy(copy, [cface], photos), reps)
    print(f"| find_copy, a copy of photo 1, every face | 10 ({n_faces}) | {med:.1f} | {cpu:.1f} |")
    med, cpu = timed(fingerprint, 50)
    print(f"| selfie_fingerprint (file bytes + descriptor) | - | {med:.2f} | {cpu:.2f} |")
    med, cpu = timed(lambda: selfie_fingerprint(selfie, sface), 50)
    print(f"| selfie_fingerprint (pixels hashed, own crop) | - | {med:.2f} | {cpu:.2f} |")
    # LFW-sized images (150x150): the small end
    lfw = sorted((DATA / "lfw_view1" / "images").glob("George_W_Bush/*.jpg"))[:11]
    ims = [fp.load_image(p) for p in lfw]
    fs = [fp.detect(im) for im in ims]
    sub = list(zip(ims[1:], fs[1:], strict=True))
    med, cpu = timed(lambda: find_copy(ims[0], fs[0][:1], sub), reps)
    print(f"| find_copy, LFW 150x150, same person | 10 ({sum(len(f) for _, f in sub)}) | {med:.1f} | {cpu:.1f} |")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
