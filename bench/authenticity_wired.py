"""What the authenticity checks cost as wired into check_profile.

    flock -x /tmp/faceproof-cpu.lock python bench/authenticity_wired.py [--reps 5] [--src OTHER_CHECKOUT/src]

The same profile check (the ``obama1.jpg`` selfie against the first N licensed profile
photos of bench/copy_cost.py) with ``authenticity=False``, the default (copy check
against the faces the model matched), and every check (copy, replay lookup in a SQLite
store, a ``look_straight`` challenge: token, nonce spent in the store, upright_landmarks
and the pose check). Reports the median of the check's own timings per stage
(``copy_check``, ``replay_check``, ``challenge_pose``, ``total``) and the median CPU time
of the process per check. The remembered fingerprints are deleted after each repetition
(so the honest selfie is not a replay of itself).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_ap = argparse.ArgumentParser()
_ap.add_argument("--reps", type=int, default=5)
_ap.add_argument("--photos", type=int, nargs="+", default=[3, 10])
_ap.add_argument("--src", type=Path, default=REPO / "src", help="the faceproof source tree to time (another checkout)")
ARGS = _ap.parse_args()
sys.path.insert(0, str(ARGS.src))

from PIL import Image  # noqa: E402

from faceproof import FaceProof  # noqa: E402
from faceproof.authenticity import Authenticity, ReplayStore, StoreNonceLedger, new_challenge  # noqa: E402
from faceproof.authenticity.attacks import apply_attack  # noqa: E402
from faceproof.storage import open_store  # noqa: E402

DATA = Path(os.environ.get("FACEPROOF_TESTDATA", REPO.parent / "shared" / "testdata"))
sys.path.insert(0, str(REPO / "bench"))
from copy_cost import PROFILE  # noqa: E402

SECRET = b"b" * 32


def main() -> None:
    import faceproof

    args = ARGS
    print(f"faceproof from {Path(faceproof.__file__).parent}; load average {os.getloadavg()[0]:.2f}", flush=True)
    fp = FaceProof(attributes=())
    fp.warmup()
    honest = (DATA / "photos" / "pytopenface/obama1.jpg").read_bytes()
    # a copy: profile photo 1 mirrored, halved and re-saved at JPEG 60 (the attack)
    im = fp.load_image(DATA / "photos" / PROFILE[0])
    buf = io.BytesIO()
    Image.fromarray(apply_attack("mirror_half_q60", im, 1, fp.detect(im)[0].bbox)).save(buf, format="JPEG", quality=90)
    with tempfile.TemporaryDirectory() as tmp, open_store(f"sqlite:///{tmp}/bench.db") as store:
        replays = ReplayStore(store)
        full = Authenticity(replays=replays, nonces=StoreNonceLedger(store), challenge_secret=SECRET)
        configs = {"off": False, "default": None, "copy+replay": Authenticity(replays=replays), "full": full}
        for n, kind in [(n, "honest") for n in args.photos] + [(3, "copy")]:
            selfie = honest if kind == "honest" else buf.getvalue()
            photos = [(DATA / "photos" / p).read_bytes() for p in PROFILE[:n]]
            fp.check_profile(selfie, photos, authenticity=False)  # caches warm
            for name in ("off", "default", "copy+replay", "full") if kind == "honest" else ("off", "copy+replay"):
                rows: dict[str, list[float]] = {}
                for _ in range(args.reps):
                    auth = configs[name]
                    token = new_challenge(SECRET, "look_straight").token if name == "full" else None
                    cpu = time.process_time()
                    r = fp.check_profile(selfie, photos, authenticity=auth, challenge=token, member_id="bench")
                    rows.setdefault("cpu", []).append((time.process_time() - cpu) * 1000)
                    for k in ("copy_check", "replay_check", "challenge_pose", "total"):
                        if k in r.timings_ms:
                            rows.setdefault(k, []).append(r.timings_ms[k])
                    replays.delete_member("bench")
                faces = "" if r.authenticity.copy is None else f", {len(r.authenticity.copy.matches)} faces compared"
                stats = ", ".join(f"{k} {statistics.median(v):.1f}" for k, v in rows.items())
                print(f"{kind} selfie, {n} photos, {name}: {r.verdict.value}{faces}; median ms: {stats}", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
