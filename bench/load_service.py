"""Load test of ``faceproof serve``: POST /v1/verify with 1, 4, 8 and 16 concurrent clients.

Starts the server as a child process bound to 127.0.0.1 (loopback only, never another
address), waits for /readyz, warms up, then runs each concurrency level for a fixed
number of requests (and at most ``--max-seconds`` each), and reports req/s, p50/p95/p99
latency, error counts (non-200 answers, wrong verdicts, connection errors) and the
server's RSS (process tree) before and after. Optionally a second short run against a
server with a tiny queue shows overload answered with fast 503s. Everything is bounded
in count and time and stops by itself.

Run it alone on the machine (it measures throughput), e.g.:

    flock /tmp/faceproof-cpu.lock python bench/load_service.py --json /tmp/load.json

The requests are the same four pairs of 640-px single-face JPEGs (two same-person, two
different-person pairs from ../shared/testdata/photos), cycled in a fixed order.
"""

from __future__ import annotations

import argparse
import http.client
import io
import itertools
import json
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

HOST = "127.0.0.1"  # loopback only
REPO = Path(__file__).resolve().parents[1]
PHOTOS = Path(os.environ.get("FACEPROOF_TESTDATA", REPO.parent / "shared" / "testdata")) / "photos"
PAIRS = (  # (origin, target, expected result_code)
    ("pytopenface/obama1.jpg", "pytopenface/obama2.jpg", 2),
    ("pytopenface/chirac1.jpg", "pytopenface/chirac2.jpg", 2),
    ("pytopenface/obama1.jpg", "pytopenface/chirac1.jpg", 0),
    ("pytopenface/obama2.jpg", "pytopenface/chirac2.jpg", 0),
)
BOUNDARY = "faceproofLoadBoundary"
MAX_TOTAL_REQUESTS = 50_000


def jpeg_640(path: Path) -> bytes:
    im = Image.open(path).convert("RGB")
    im.thumbnail((640, 640), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def multipart(origin: bytes, target: bytes) -> bytes:
    out = b""
    for name, data in (("origin", origin), ("target", target)):
        out += (
            (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}.jpg"\r\n'
                "Content-Type: image/jpeg\r\n\r\n"
            ).encode()
            + data
            + b"\r\n"
        )
    return out + f"--{BOUNDARY}--\r\n".encode()


# ------------------------------------------------------------------ server process


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def tree_pids(pid: int) -> list[int]:
    pids = [pid]
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            children = Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
        except OSError:
            continue
        for child in children:
            pids.extend(tree_pids(int(child)))
    return pids


def tree_rss_mib(pid: int) -> float:
    total = 0
    for p in tree_pids(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024.0


def tree_cpu_s(pid: int) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in tree_pids(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        except (OSError, IndexError, ValueError):
            continue
    return total


class Server:
    def __init__(self, args: list[str], log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        cmd = [sys.executable, "-m", "faceproof.cli.main", "serve", "--host", HOST, "--port", str(self.port)]
        cmd += ["--log-level", "warning", *args]
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdout=log_path.open("wb"), stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
                conn.close()
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise SystemExit("server did not become ready")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ------------------------------------------------------------------ load


@dataclass
class Phase:
    clients: int
    requests: int
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    status: dict[int, int] = field(default_factory=dict)
    wrong: int = 0
    conn_errors: int = 0
    ok_latencies_ms: list[float] = field(default_factory=list)
    rejected_latencies_ms: list[float] = field(default_factory=list)
    server_cpu_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        done = len(self.latencies_ms)
        lat = np.asarray(self.ok_latencies_ms or [float("nan")])
        rej = np.asarray(self.rejected_latencies_ms or [float("nan")])
        ok = self.status.get(200, 0)
        return {
            "clients": self.clients,
            "requests": done,
            "seconds": round(self.seconds, 2),
            "req_per_s": round(done / self.seconds, 2) if self.seconds else 0.0,
            "ok_per_s": round(ok / self.seconds, 2) if self.seconds else 0.0,
            "p50_ms": round(float(np.percentile(lat, 50)), 1),
            "p95_ms": round(float(np.percentile(lat, 95)), 1),
            "p99_ms": round(float(np.percentile(lat, 99)), 1),
            "max_ms": round(float(np.max(lat)), 1),
            "status": {str(k): v for k, v in sorted(self.status.items())},
            "errors": done - ok + self.conn_errors + self.wrong,
            "wrong_verdicts": self.wrong,
            "connection_errors": self.conn_errors,
            "rejected_503_p50_ms": None if not self.rejected_latencies_ms else round(float(np.percentile(rej, 50)), 1),
            "rejected_503_p99_ms": None if not self.rejected_latencies_ms else round(float(np.percentile(rej, 99)), 1),
            "server_cpu_s": round(self.server_cpu_s, 1),
        }


def run_phase(
    port: int,
    bodies: list[tuple[bytes, int]],
    clients: int,
    requests: int,
    max_seconds: float,
    *,
    backoff: bool = False,
) -> Phase:
    """``clients`` threads, each with one keep-alive connection, send ``requests`` verify
    requests in all (at most ``max_seconds``). With ``backoff`` a client refused with 503
    waits as its Retry-After says (at most 1 s), as a well-behaved caller would."""
    phase = Phase(clients, requests)
    counter = itertools.count()
    lock = threading.Lock()
    stop_at = time.monotonic() + max_seconds
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}

    def client() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        while True:
            with lock:
                i = next(counter)
            if i >= requests or time.monotonic() > stop_at:
                break
            body, expected = bodies[i % len(bodies)]
            start = time.perf_counter()
            try:
                conn.request("POST", "/v1/verify", body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=60)
                with lock:
                    phase.conn_errors += 1
                continue
            elapsed = (time.perf_counter() - start) * 1000.0
            code = None
            if resp.status == 200:
                code = json.loads(data)["result_code"]
            with lock:
                phase.latencies_ms.append(elapsed)
                phase.status[resp.status] = phase.status.get(resp.status, 0) + 1
                if resp.status == 200:
                    phase.ok_latencies_ms.append(elapsed)
                    if code != expected:
                        phase.wrong += 1
                elif resp.status == 503:
                    phase.rejected_latencies_ms.append(elapsed)
            if backoff and resp.status == 503:
                time.sleep(min(1.0, float(resp.getheader("retry-after", "1"))))
            if resp.getheader("connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=60)
        conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(max_seconds + 120)
    phase.seconds = time.perf_counter() - start
    return phase


def library_baseline(images: dict[str, bytes], requests: int) -> dict[str, Any]:
    """The same verify calls without HTTP: the service's inference workers (built exactly
    as the server builds them) called directly from one thread per worker."""
    from faceproof.server.settings import ServiceSettings
    from faceproof.server.workers import build_worker

    settings = ServiceSettings()
    if settings.opencv_threads is not None:
        import cv2

        cv2.setNumThreads(settings.opencv_threads)
    workers = [build_worker(i, settings) for i in range(settings.slots)]
    for w in workers:
        w.warmup()
    pairs = [(images[o], images[t], code) for o, t, code in PAIRS]
    for o, t, _ in pairs:
        workers[0].default.verify(o, t)
    counter = itertools.count()
    lock = threading.Lock()
    wrong = [0]

    def run(worker: Any) -> None:
        while True:
            with lock:
                i = next(counter)
            if i >= requests:
                return
            o, t, code = pairs[i % len(pairs)]
            if int(worker.default.verify(o, t).code) != code:
                with lock:
                    wrong[0] += 1

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    seconds = time.perf_counter() - start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {
        "workers": len(workers),
        "requests": requests,
        "seconds": round(seconds, 2),
        "verify_per_s": round(requests / seconds, 2),
        "cpu_ms_per_verify": round(1000.0 * cpu / requests, 1),
        "wrong_verdicts": wrong[0],
    }


def table(rows: list[dict[str, Any]]) -> str:
    cols = ["clients", "requests", "req/s", "200/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "non-200", "wrong"]
    cols += ["conn err"]
    cols += ["503 p50 ms", "server CPU ms/req"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        non200 = sum(v for k, v in r["status"].items() if k != "200")
        rejected = r["rejected_503_p50_ms"] if r["rejected_503_p50_ms"] is not None else "-"
        cpu = round(1000.0 * r["server_cpu_s"] / r["requests"], 1) if r["requests"] and r["server_cpu_s"] else "-"
        lines.append(
            f"| {r['clients']} | {r['requests']} | {r['req_per_s']} | {r['ok_per_s']} | {r['p50_ms']} "
            f"| {r['p95_ms']} | {r['p99_ms']} "
            f"| {r['max_ms']} | {non200} | {r['wrong_verdicts']} | {r['connection_errors']} | {rejected} | {cpu} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--concurrency", default="1,4,8,16", help="client counts, one phase each")
    ap.add_argument("--requests", default="500,1500,4000,4000", help="requests per phase (10,000 in all by default)")
    ap.add_argument("--warmup", type=int, default=200, help="requests before RSS is first measured (not counted)")
    ap.add_argument("--max-seconds", type=float, default=400.0, help="time cap per phase")
    ap.add_argument("--server-args", default="", help="extra arguments for faceproof serve, e.g. '--workers 2'")
    ap.add_argument(
        "--overload", action="store_true", help="also run 32 clients (honouring Retry-After) against --max-queue 2"
    )
    ap.add_argument("--overload-seconds", type=float, default=20.0)
    ap.add_argument("--library-baseline", type=int, default=0, help="also run N verify calls without HTTP")
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    args = ap.parse_args()

    levels = [int(x) for x in args.concurrency.split(",")]
    counts = [int(x) for x in args.requests.split(",")]
    if len(counts) == 1:
        counts = counts * len(levels)
    if len(counts) != len(levels) or any(c < 1 for c in levels + counts):
        raise SystemExit("--requests needs one positive count per concurrency level")
    if sum(counts) + args.warmup + args.library_baseline > MAX_TOTAL_REQUESTS or max(levels) > 64:
        raise SystemExit(f"bounded: at most {MAX_TOTAL_REQUESTS} requests and 64 clients")

    images = {p: jpeg_640(PHOTOS / p) for pair in PAIRS for p in pair[:2]}
    bodies = [(multipart(images[o], images[t]), code) for o, t, code in PAIRS]
    sizes = {p: (Image.open(io.BytesIO(b)).size, len(b)) for p, b in images.items()}
    if args.library_baseline:
        baseline = library_baseline(images, args.library_baseline)
        print("library baseline (no HTTP):", json.dumps(baseline), flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="faceproof-load-"))
    server = Server(args.server_args.split(), workdir / "server.log")
    results: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "server_command": " ".join(server.cmd[1:]),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "images": {p: {"size": list(s), "bytes": n} for p, (s, n) in sizes.items()},
    }
    if args.library_baseline:
        results["library_baseline"] = baseline
    try:
        t0 = time.perf_counter()
        server.wait_ready()
        results["startup_to_ready_s"] = round(time.perf_counter() - t0, 2)
        results["rss_ready_mib"] = round(tree_rss_mib(server.proc.pid), 1)
        warm = run_phase(server.port, bodies, max(levels), args.warmup, args.max_seconds)
        results["warmup"] = warm.summary()
        rss_before = tree_rss_mib(server.proc.pid)
        client_cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        phases = []
        for clients, count in zip(levels, counts, strict=True):
            cpu0 = tree_cpu_s(server.proc.pid)
            phase = run_phase(server.port, bodies, clients, count, args.max_seconds)
            phase.server_cpu_s = tree_cpu_s(server.proc.pid) - cpu0
            phases.append(phase.summary())
            print(json.dumps(phases[-1]), flush=True)
        client_cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        rss_after = tree_rss_mib(server.proc.pid)
        results["phases"] = phases
        results["total_requests"] = sum(p["requests"] for p in phases)
        results["rss_before_mib"] = round(rss_before, 1)
        results["rss_after_mib"] = round(rss_after, 1)
        results["rss_growth_pct"] = round(100.0 * (rss_after - rss_before) / rss_before, 2)
        results["client_cpu_s"] = round(
            (client_cpu1.ru_utime - client_cpu0.ru_utime) + (client_cpu1.ru_stime - client_cpu0.ru_stime), 2
        )
    finally:
        server.stop()
    if args.overload:
        small = Server([*args.server_args.split(), "--max-queue", "2"], workdir / "server-overload.log")
        try:
            small.wait_ready()
            cpu0 = tree_cpu_s(small.proc.pid)
            over = run_phase(small.port, bodies, 32, MAX_TOTAL_REQUESTS, args.overload_seconds, backoff=True)
            over.server_cpu_s = tree_cpu_s(small.proc.pid) - cpu0
            results["overload"] = {"server_command": " ".join(small.cmd[1:]), **over.summary()}
        finally:
            small.stop()

    print()
    print(table(results["phases"]))
    if "overload" in results:
        print("\noverload (32 clients honouring Retry-After, --max-queue 2):")
        print(table([results["overload"]]))
    print(
        f"\nRSS {results['rss_before_mib']} MiB -> {results['rss_after_mib']} MiB "
        f"({results['rss_growth_pct']:+.2f} %) over {results['total_requests']} requests; "
        f"ready after {results['startup_to_ready_s']} s at {results['rss_ready_mib']} MiB; "
        f"load generator CPU {results['client_cpu_s']} s"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
