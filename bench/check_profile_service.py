"""Cost of ``POST /v1/check-profile`` per request, by number of profile photos.

Runs the app in this process behind FastAPI's TestClient with one inference worker and
one OpenCV thread (as each of the default layout's two workers has; requests run one at a
time, so the latency is the time one request holds a worker), sends the same selfie with
1, 4 and 10 profile photos, each ``--repeat`` times after a warm-up, plus ``/v1/verify``
on one pair as the unit of comparison. Reports the median latency, the process CPU time
per request (server and test client: the client's share is small, parsing a few hundred
kB) and the median of the service's own stage timings (``timings_ms``). The same photos
with the policy's face confirmation off (``confirm: none``) show the dlib HOG pass's
share. Everything is deterministic (fixed images, fixed order); the numbers are times.

    flock /tmp/faceproof-cpu.lock python bench/check_profile_service.py --json /tmp/check-profile-cost.json

The images are 640-px JPEGs made from ../shared/testdata/photos (as bench/load_service.py).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
PHOTOS = Path(os.environ.get("FACEPROOF_TESTDATA", REPO.parent / "shared" / "testdata")) / "photos"
SELFIE = "pytopenface/obama1.jpg"
PROFILE = (  # ten different photos; the first n are sent
    "pytopenface/obama2.jpg",
    "pytopenface/obama3.jpg",
    "pytopenface/obama4.jpg",
    "kerns_dummy/obama_nasa_hq_photo.jpg",
    "kerns_dummy/obama_fatherhood_townhall.jpg",
    "kerns_dummy/obama_backstage_the_white_house.jpg",
    "pytopenface/chirac1.jpg",
    "pytopenface/chirac2.jpg",
    "pytopenface/chirac4.jpg",
    "kerns_dummy/clinton_world_economic_forum.jpg",
)
COUNTS = (1, 4, 10)


def jpeg_640(path: Path) -> bytes:
    im = Image.open(path).convert("RGB")
    im.thumbnail((640, 640), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def measure(client: Any, path: str, files: list[tuple[str, tuple[str, bytes]]], repeat: int) -> dict[str, Any]:
    for _ in range(2):  # warm-up (first-call allocations)
        assert client.post(path, files=files).status_code == 200
    latencies: list[float] = []
    stages: dict[str, list[float]] = {}
    verdicts: set[str] = set()
    cpu0 = time.process_time()
    for _ in range(repeat):
        start = time.perf_counter()
        r = client.post(path, files=files)
        latencies.append((time.perf_counter() - start) * 1000.0)
        assert r.status_code == 200, r.text[:300]
        doc = r.json()
        verdicts.add(str(doc.get("verdict", doc.get("result_code"))))
        for key, value in doc["timings_ms"].items():
            stages.setdefault(key, []).append(value)
    cpu_ms = (time.process_time() - cpu0) * 1000.0 / repeat
    return {
        "requests": repeat,
        "p50_ms": round(statistics.median(latencies), 1),
        "max_ms": round(max(latencies), 1),
        "cpu_ms_per_request": round(cpu_ms, 1),
        "stages_p50_ms": {k: round(statistics.median(v), 1) for k, v in stages.items()},
        "answers": sorted(verdicts),
    }


def run(policy: str | None, repeat: int, images: dict[str, bytes]) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*install `httpx2` instead")
        from fastapi.testclient import TestClient

    from faceproof.server import ServiceSettings, create_app

    app = create_app(ServiceSettings(threads=1, cv_threads=1, policy=policy))
    out: dict[str, Any] = {}
    with TestClient(app) as client:
        deadline = time.monotonic() + 120
        while client.get("/readyz").status_code != 200:
            if time.monotonic() > deadline:
                raise SystemExit("the app did not become ready")
            time.sleep(0.05)
        if policy is None:
            pair = [("origin", ("o.jpg", images[SELFIE])), ("target", ("t.jpg", images[PROFILE[0]]))]
            out["verify"] = measure(client, "/v1/verify", pair, repeat)
        for n in COUNTS:
            files = [("selfie", ("s.jpg", images[SELFIE]))]
            files += [("photos", (f"p{i}.jpg", images[p])) for i, p in enumerate(PROFILE[:n])]
            out[f"check_profile_{n}"] = measure(client, "/v1/check-profile", files, repeat)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10, help="measured requests per row [10]")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()
    if not 1 <= args.repeat <= 200:
        parser.error("--repeat must be within 1..200")
    images = {p: jpeg_640(PHOTOS / p) for p in (SELFIE, *PROFILE)}
    results: dict[str, Any] = {"default_policy": run(None, args.repeat, images)}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "policy.json"
        path.write_text(json.dumps({"profile": {"confirm": "none"}}))
        results["confirm_none"] = run(str(path), args.repeat, images)
    results["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}
    print("| policy | request | p50 ms | max ms | CPU ms / request | selfie_faces p50 | photos p50 | answers |")
    print("|---|---|---|---|---|---|---|---|")
    for policy in ("default_policy", "confirm_none"):
        for name, row in results[policy].items():
            s = row["stages_p50_ms"]
            print(
                f"| {policy} | {name} | {row['p50_ms']} | {row['max_ms']} | {row['cpu_ms_per_request']} | "
                f"{s.get('selfie_faces', '-')} | {s.get('photos', '-')} | {', '.join(row['answers'])} |"
            )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
