"""What a maximal JSON image request costs the service's event loop (docs/service.md,
"Large JSON bodies"): the GIL-holding C calls that remain after parsing moved to a worker
thread, on a body of two 10 MiB images as base64 data URIs (the default caps).

    python bench/json_body_cost.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    image = base64.b64encode(os.urandom(10 * 1024 * 1024))
    uri = b'"data:image/jpeg;base64,' + image + b'"'
    body = b'{"origin": ' + uri + b', "target": ' + uri + b"}"
    timings: dict[str, list[float]] = {"count structure (all chunks)": [], "json.loads": [], "b64decode one image": []}
    for _ in range(args.repeat):
        start = time.perf_counter()
        body.count(b"{") + body.count(b"[") + body.count(b",")
        timings["count structure (all chunks)"].append(time.perf_counter() - start)
        start = time.perf_counter()
        json.loads(body)
        timings["json.loads"].append(time.perf_counter() - start)
        start = time.perf_counter()
        base64.b64decode(image, validate=True)
        timings["b64decode one image"].append(time.perf_counter() - start)
    print(f"body {len(body) / 1e6:.1f} MB, {args.repeat} runs, median ms:")
    for name, values in timings.items():
        print(f"  {name:30s} {statistics.median(values) * 1000:8.1f}")


if __name__ == "__main__":
    main()
