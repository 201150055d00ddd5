"""CPU cost of one ``verify`` and where it goes, as one inference worker of the service
spends it (OpenCV on one thread), with and without flip TTA.

The pair is the load test's obama1 + chirac1, resized to 640 px (long side) and
re-encoded as JPEG in memory, as ``bench/load_service.py`` sends them. The two
configurations take turns call by call (flip on, flip off, flip off, flip on, ...), so the
load of the shared machine falls on both alike. Prints, per configuration, the process CPU
time per verify (mean of ``--repeat`` calls after 5 warm-up calls) and the median of each
stage's ``timings_ms``, then the flip on / flip off ratio of the CPU per verify.

    flock /tmp/faceproof-cpu.lock python bench/verify_cpu.py
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
from PIL import Image

from faceproof import FaceProof

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "photos"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import machine_facts  # noqa: E402


def jpeg_640(path: Path) -> bytes:
    im = Image.open(path).convert("RGB")
    im.thumbnail((640, 640), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=Path, default=PHOTOS)
    ap.add_argument("--repeat", type=int, default=100)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    a = jpeg_640(args.photos / "pytopenface/obama1.jpg")
    b = jpeg_640(args.photos / "pytopenface/chirac1.jpg")
    facts = machine_facts()
    load0 = os.getloadavg()
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    clients = {flip: FaceProof(flip=flip, cascade=False, attributes=()) for flip in (True, False)}
    for fp in clients.values():
        fp.warmup()
        for _ in range(5):
            fp.verify(a, b)
    stages: dict[bool, dict[str, list[float]]] = {True: {}, False: {}}
    cpu: dict[bool, float] = {True: 0.0, False: 0.0}
    for i in range(args.repeat):
        order = (True, False) if i % 2 == 0 else (False, True)
        for flip in order:
            cpu0 = time.process_time()
            result = clients[flip].verify(a, b)
            cpu[flip] += time.process_time() - cpu0
            for key, ms in result.timings_ms.items():
                stages[flip].setdefault(key, []).append(ms)
    load1 = os.getloadavg()
    print(
        f"{date}; commit {facts['commit']}; {facts['nproc']} x {facts['cpu_model']}; load average (1/5/15 min) "
        f"at start {'/'.join(f'{x:.1f}' for x in load0)}, at end {'/'.join(f'{x:.1f}' for x in load1)}"
    )
    for flip in (True, False):
        cpu_ms = 1000 * cpu[flip] / args.repeat
        medians = ", ".join(f"{k} {statistics.median(v):.1f}" for k, v in stages[flip].items())
        print(f"flip {'on ' if flip else 'off'}: {cpu_ms:.1f} ms CPU per verify; median ms: {medians}")
    print(f"CPU per verify, flip on / flip off (same run, interleaved): {cpu[True] / cpu[False]:.2f}")


if __name__ == "__main__":
    main()
