"""Throughput of ``faceproof batch`` on this machine against the library's best
single-process loop, measured in the same run, for ``verify`` and ``check-profile``
manifests built from LFW View 1 dev-test pairs; memory per worker; a SIGKILL-and-resume
of the verify job. Writes ``docs/batch.json`` (``--json``) and prints a table.

Configurations, each over the same manifest, one after the other:

* ``loop``: one process, one FaceProof, a plain loop over the rows (OpenCV's own thread
  pool over both cores) -- the library's single-process throughput;
* ``loop-2-threads``: one process, one FaceProof shared by two threads (it is thread-safe);
* ``pool``: ``faceproof.batch.run(engine="local", workers=2)``: two processes, one
  pipeline and one OpenCV thread each;
* ``ray``: ``faceproof.batch.run(engine="ray", workers=2)`` on a local Ray instance with
  2 CPUs (``ray.init`` timed apart: a cluster is started once, not per job).

The baseline is the better of the two loops. Wall time of every configuration includes
building the pipelines and loading the models (the pool: spawning its workers).

    flock /tmp/faceproof-cpu.lock python bench/batch.py --rows 200 --json docs/batch.json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from faceproof import FaceProof, Pipeline, PipelineConfig
from faceproof.batch import read_manifest, read_results, run
from faceproof.decision.profile import check_profile

REPO = Path(__file__).resolve().parents[1]
LFW = REPO.parent / "shared" / "testdata" / "lfw_view1"
CONFIG = PipelineConfig(attributes=())


def build_manifests(lfw: Path, rows: int, profile_rows: int, directory: Path) -> dict[str, Path]:
    """verify: rows/2 same and rows/2 different pairs; check-profile: a selfie (path1 of a
    same pair) and two profile photos (its pair's path2 and another person's photo)."""
    with (lfw / "pairs_dev_test.csv").open(encoding="utf-8") as fh:
        pairs = [(r["path1"], r["path2"], int(r["same"])) for r in csv.DictReader(fh)]
    same = [p for p in pairs if p[2] == 1]
    diff = [p for p in pairs if p[2] == 0]
    half = rows // 2
    verify = same[:half] + diff[: rows - half]
    out = {"verify": directory / "verify.csv", "check-profile": directory / "check_profile.csv"}
    with out["verify"].open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path1", "path2", "same"])
        w.writerows(verify)
    with out["check-profile"].open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["selfie", "photos"])
        for i in range(profile_rows):
            a, b, _ = same[i % len(same)]
            other = diff[i % len(diff)][1]
            w.writerow([a, f"{b}|{other}"])
    return out


def loop(operation: str, manifest: Path, threads: int) -> dict[str, Any]:
    """The library's own loop: one FaceProof (one pipeline) in this process."""
    import cv2

    cv2.setNumThreads(-1 if threads == 1 else 1)  # one thread per worker thread when threaded; else all cores
    tasks = read_manifest(manifest, operation, root=LFW)
    t0, c0 = time.perf_counter(), time.process_time()
    pipeline = Pipeline(CONFIG)
    fp = FaceProof(pipeline=pipeline)
    pipeline.warmup(confirmer=operation == "check-profile")
    c1 = time.process_time()  # CPU per row is counted from here, as the batch workers count it

    def one(task: dict[str, Any]) -> Any:
        if operation == "verify":
            return fp.verify(task["origin"], task["target"]).code
        return check_profile(pipeline, task["selfie"], task["photos"]).verdict

    if threads == 1:
        results = [one(t) for t in tasks]
    else:
        with ThreadPoolExecutor(threads) as ex:
            results = list(ex.map(one, tasks))
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    return {
        "rows": len(results),
        "wall_s": round(wall, 2),
        "rows_per_s": round(len(results) / wall, 3),
        "cpu_ms_per_row": round(1000 * (cpu - (c1 - c0)) / len(results), 1),
        "setup_cpu_s": round(c1 - c0, 2),
        "peak_rss_mb": round(vm_hwm_mb(), 1),
    }


def vm_hwm_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        return next(int(line.split()[1]) / 1024 for line in fh if line.startswith("VmHWM:"))


def loop_in_subprocess(operation: str, manifest: Path, threads: int) -> dict[str, Any]:
    """:func:`loop` in a fresh interpreter (clean memory, nothing else loaded)."""
    cmd = [sys.executable, __file__, "--loop", operation, str(manifest), str(threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def batch(operation: str, manifest: Path, engine: str, workers: int) -> dict[str, Any]:
    out = Path(tempfile.mkdtemp(prefix=f"bench-{engine}-"))
    try:
        t0 = time.perf_counter()
        s = run(manifest, out, operation, CONFIG, engine=engine, workers=workers, root=LFW, progress="none")
        wall = time.perf_counter() - t0
        assert s.complete and s.rows_this_run == s.rows_total, s
        stages: dict[str, list[float]] = {}
        for rec in read_results(out):
            for key, ms in (rec["timings_ms"] or {}).items():
                stages.setdefault(key, []).append(ms)
        return {
            "stages_median_ms": {k: round(statistics.median(v), 1) for k, v in stages.items()},
            "rows": s.rows_this_run,
            "wall_s": round(wall, 2),
            "rows_per_s": round(s.rows_this_run / wall, 3),
            "cpu_ms_per_row": s.cpu_ms_per_row,
            "worker_peak_rss_mb": s.worker_peak_rss_mb,
            "errors": s.errors,
            "verdicts": s.verdicts,
        }
    finally:
        shutil.rmtree(out, ignore_errors=True)


def kill_and_resume(manifest: Path, workers: int, kill_after: float) -> dict[str, Any]:
    """``faceproof batch verify`` killed with SIGKILL (job and workers) once ``kill_after``
    of the rows are committed, then started again with the same arguments."""
    out = Path(tempfile.mkdtemp(prefix="bench-kill-"))
    cmd = [sys.executable, "-m", "faceproof.cli", "batch", "verify", str(manifest), "--out", str(out)]
    cmd += ["--root", str(LFW), "--workers", str(workers), "--part-rows", "16", "--progress", "none"]
    total = len(read_manifest(manifest, "verify", root=LFW))
    try:
        proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        log = out / "_parts.jsonl"
        while proc.poll() is None:
            n = sum(json.loads(x)["n"] for x in log.read_text().splitlines() if x.endswith("}")) if log.exists() else 0
            if n >= kill_after * total:
                break
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        import pyarrow.parquet as pq

        committed = sum(pq.read_metadata(p).num_rows for p in (out / "parts").glob("part-*.parquet"))
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        resume_s = time.perf_counter() - t0
        rows = [r["row"] for r in read_results(out)]
        summary = json.loads((out / "summary.json").read_text())
        return {
            "rows": total,
            "committed_at_kill": committed,
            "skipped_on_resume": summary["rows_skipped"],
            "done_on_resume": summary["rows_this_run"],
            "resume_wall_s": round(resume_s, 1),
            "lost": len(set(range(total)) - set(rows)),
            "duplicated": len(rows) - len(set(rows)),
        }
    finally:
        shutil.rmtree(out, ignore_errors=True)


def index_writes(members: int, photos: int = 4) -> dict[str, Any]:
    """``MemberIndex.enroll`` on SQLite, one member (``photos`` templates) per call, as the
    batch ``enroll`` operation writes: milliseconds per call (fsync included)."""
    import numpy as np

    from faceproof.index import MemberIndex, ModelId

    directory = Path(tempfile.mkdtemp(prefix="bench-index-"))
    try:
        rng = np.random.default_rng(0)
        model = ModelId.from_client(Pipeline(CONFIG))
        with MemberIndex(f"sqlite:///{directory / 'members.db'}", model=model) as index:
            times = []
            for m in range(members):
                vectors = rng.normal(size=(photos, 128)).astype(np.float32)
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                t0 = time.perf_counter()
                index.enroll(f"m-{m}", vectors, [f"p-{i}" for i in range(photos)])
                times.append((time.perf_counter() - t0) * 1000)
        return {
            "backend": "sqlite",
            "members": members,
            "templates_per_member": photos,
            "ms_per_enroll_median": round(statistics.median(times), 2),
            "ms_per_enroll_p95": round(float(np.percentile(times, 95)), 2),
            "enrolls_per_s": round(1000 / statistics.mean(times), 1),
        }
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def driver_writes(rows: int, detail_bytes: int) -> dict[str, Any]:
    """What the driver spends per row to turn finished records into committed Parquet parts
    (256 rows each, zstd, fsync, rename, record): the ceiling of one driver."""
    from faceproof.batch import JobDir

    directory = Path(tempfile.mkdtemp(prefix="bench-driver-"))
    try:
        out = JobDir(directory, "parquet")
        out.open({"operation": "check-profile"})
        import random

        rnd = random.Random(0)

        def detail() -> str:  # about detail_bytes of JSON with numbers that differ per row, as real reports
            faces = [
                {"bbox": [round(rnd.uniform(0, 600), 1) for _ in range(4)], "score": round(rnd.random(), 4)}
                for _ in range(detail_bytes // 60)
            ]
            return json.dumps({"faces": faces})

        records = [
            {
                "row": i,
                "id": f"m-{i}",
                "operation": "check-profile",
                "ok": True,
                "verdict": "verified",
                "code": None,
                "reasons": ["person_present"],
                "similarity": 0.71,
                "distance": 0.29,
                "threshold": 0.64,
                "faces": 3,
                "elapsed_ms": 300.0,
                "cpu_ms": 290.0,
                "timings_ms": {"selfie_decode": 1.5, "selfie_faces": 120.0, "photos": 180.0, "total": 301.5},
                "worker": "host:1",
                "detail": detail(),
            }
            for i in range(rows)
        ]
        encoded = [json.dumps(r) for r in records]  # as records arrive from Ray actors
        out.write_part([json.loads(s) for s in encoded[:256]])  # imports (pyarrow loads pandas) not timed
        rows -= 256
        encoded = encoded[256:]
        t0 = time.perf_counter()
        for i in range(0, rows, 256):
            out.write_part([json.loads(s) for s in encoded[i : i + 256]])
        seconds = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in out.part_files()[1:])
        return {
            "rows": rows,
            "detail_bytes": round(statistics.mean(len(r["detail"]) for r in records)),
            "ms_per_row": round(1000 * seconds / rows, 4),
            "rows_per_s": round(rows / seconds),
            "parquet_bytes_per_row": round(size / rows, 1),
        }
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=200, help="rows per manifest")
    ap.add_argument("--operations", default="verify,check-profile")
    ap.add_argument("--configs", default="loop,loop-2-threads,pool,ray")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-kill", action="store_true", help="skip the kill-and-resume run")
    ap.add_argument("--index-members", type=int, default=500, help="members enrolled in the index-write run")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--profile-rows", type=int, default=None, help="rows of the check-profile manifest (--rows)")
    ap.add_argument("--loop", nargs=3, metavar=("OPERATION", "MANIFEST", "THREADS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.loop:
        op, path, threads = args.loop
        print(json.dumps(loop(op, Path(path), int(threads))))
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    manifests = build_manifests(LFW, args.rows, args.profile_rows or args.rows, tmp)
    configs = args.configs.split(",")
    report: dict[str, Any] = {
        "command": "flock /tmp/faceproof-cpu.lock python " + " ".join(["bench/batch.py", *sys.argv[1:]]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg_start": os.getloadavg()},
        "rows": {"verify": args.rows, "check-profile": args.profile_rows or args.rows},
        "workers": args.workers,
        "results": {},
    }
    report["ray_init_s"] = []
    for op in args.operations.split(","):
        res: dict[str, Any] = {}
        for name in configs:
            if name == "loop":
                res[name] = loop_in_subprocess(op, manifests[op], 1)
            elif name == "loop-2-threads":
                res[name] = loop_in_subprocess(op, manifests[op], 2)
            elif name == "pool":
                res[name] = batch(op, manifests[op], "local", args.workers)
            elif name == "ray":
                import ray

                # started for this configuration only: idle Ray processes stay out of the others
                t0 = time.perf_counter()
                ray.init(num_cpus=args.workers, include_dashboard=False, logging_level="WARNING")
                report["ray_init_s"].append(round(time.perf_counter() - t0, 1))
                try:
                    res[name] = batch(op, manifests[op], "ray", args.workers)
                finally:
                    ray.shutdown()
            print(f"{op:13s} {name:15s} {res[name]['rows_per_s']:7.2f} rows/s  {json.dumps(res[name])}", flush=True)
        loops = [res[k]["rows_per_s"] for k in ("loop", "loop-2-threads") if k in res]
        if loops:
            best = max(loops)
            for name in ("pool", "ray"):
                if name in res:
                    res[name]["vs_best_loop"] = round(res[name]["rows_per_s"] / best, 3)
        report["results"][op] = res
    report["driver_writes"] = driver_writes(20480, 2000)
    print("driver writes:", json.dumps(report["driver_writes"]), flush=True)
    report["index_writes"] = index_writes(args.index_members)
    print("index writes:", json.dumps(report["index_writes"]), flush=True)
    if not args.no_kill:
        report["kill_and_resume"] = kill_and_resume(manifests["verify"], args.workers, 0.4)
        print("kill and resume:", json.dumps(report["kill_and_resume"]), flush=True)
    report["machine"]["load_avg_end"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
