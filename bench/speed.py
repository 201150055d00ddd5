"""Speed and memory of faceproof on this machine, and the face_recognition package on the
same images in the same run, measured **side by side**.

The machine is shared and its load moves absolute times by far more than the differences
being measured, so every comparison here is interleaved: the configurations being compared
take turns call by call (latency) or pass by pass (throughput), each turn in a rotating
order, and a ratio is the median over turns of the per-turn ratio (with its interquartile
range). The ratios are what the documentation leads with; the absolute times are printed
too, with the date, the commit, the CPU and the load average before and after.

Measures:

* per-stage latency p50/p95 (decode, detect at 640 and 2,000 px, align, embed with and
  without flip TTA, gender+age, dlib embed), interleaved;
* ``verify`` of two 640-px single-face photos, flip on vs flip off (and face_recognition's
  verify-equivalent when ``--fr-python`` is given), interleaved, with the share of each
  verify spent in decode / detect / embed (from the result's own ``timings_ms``);
* throughput in images/s (``represent``: decode + detect + align + embed) with OpenCV on
  1 vs 2 threads, flip on vs off, 2 threads sharing one ``FaceProof``, 2 processes, and
  face_recognition in 1 and 2 processes: one pass each per round, rotating;
* SFace batch 1 vs batch 8 (interleaved); model load time and peak RSS (fresh processes).

Run by hand, under the shared CPU lock, from the repository root:

    flock /tmp/faceproof-cpu.lock python bench/speed.py --fr-python /path/to/fr-venv/bin/python \
        --json docs/performance.json

``--fr-python`` is the python of a virtualenv with face_recognition installed (see
docs/performance.md for how to build it from PyPI without compiling dlib); without it the
face_recognition rows are skipped. It prints the tables of docs/performance.md.

The images are the licensed test photos with one face each, resized to 640 px (long
side) and re-encoded as JPEG in memory, so decoding is part of the measurement.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]

SINGLE_FACE_640 = [
    "pytopenface/obama1.jpg",
    "pytopenface/obama2.jpg",
    "pytopenface/obama3.jpg",
    "pytopenface/obama4.jpg",
    "pytopenface/chirac1.jpg",
    "pytopenface/chirac2.jpg",
    "kerns_dummy/obama_nasa_hq_photo.jpg",
    "kerns_dummy/clinton_world_economic_forum.jpg",
    "kerns_dummy/rania_world_economic_forum.jpg",
    "kerns_dummy/google_moon_nasa_hq_photo.jpg",
]
GROUP_2000 = "kerns_dummy/obama_fatherhood_townhall.jpg"


def jpeg_at(path: Path, long_side: int) -> bytes:
    from PIL import Image

    im = Image.open(path).convert("RGB")
    scale = long_side / max(im.size)
    im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def summary(ts: list[float]) -> dict[str, float]:
    return {"p50_ms": statistics.median(ts), "p95_ms": pct(ts, 0.95), "n": len(ts)}


def interleaved(fns: dict[str, Callable[[], Any]], repeat: int, warmup: int = 2) -> dict[str, list[float]]:
    """Milliseconds per call of each function, the functions taking turns: turn i runs them
    all once, starting at a different one each turn, so slow and fast moments of the
    machine fall on every configuration alike."""
    names = list(fns)
    for _ in range(warmup):
        for n in names:
            fns[n]()
    out: dict[str, list[float]] = {n: [] for n in names}
    for i in range(repeat):
        k = i % len(names)
        for n in names[k:] + names[:k]:
            t = time.perf_counter()
            fns[n]()
            out[n].append((time.perf_counter() - t) * 1000.0)
    return out


def paired_ratio(a: list[float], b: list[float]) -> dict[str, float]:
    """a/b per turn: median and interquartile range (a and b measured in the same turns)."""
    r = [x / y for x, y in zip(a, b, strict=True)]
    return {"median": statistics.median(r), "q25": pct(r, 0.25), "q75": pct(r, 0.75), "n": len(r)}


def run_python(code: str, python: str = sys.executable) -> dict[str, Any]:
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=900, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine_facts() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = "unknown"
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "src", "bench"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if dirty:
            commit += "+uncommitted changes in src/ or bench/"
    except (OSError, subprocess.CalledProcessError):
        pass
    return {"commit": commit, "nproc": os.cpu_count(), "cpu_model": cpu}


LOAD_CODE = textwrap.dedent(
    """
    import json, time
    t0 = time.perf_counter()
    import cv2, numpy
    from faceproof import FaceProof
    t_import = time.perf_counter() - t0
    out = {"import_s": t_import}
    for name, kwargs in [("yunet+sface", dict(attributes=())), ("yunet+sface+gender+age", {}),
                         ("yunet+dlib-resnet", dict(model="dlib", attributes=()))]:
        t = time.perf_counter(); FaceProof(**kwargs).warmup(); out[name + "_s"] = time.perf_counter() - t
    print(json.dumps(out))
    """
)

RSS_CODE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from faceproof import FaceProof
    fp = FaceProof({flip})  # gender + age loaded: distinguish() is called
    a, b = {images!r}
    for _ in range(5):
        fp.verify(Path(a), Path(b)); fp.distinguish(Path(a))
    # VmHWM, not ru_maxrss: on Linux a child's ru_maxrss starts from its parent's peak
    hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
    print(json.dumps({{"peak_rss_mb": hwm / 1024}}))
    """
)

# A face_recognition worker in its own virtualenv that waits for commands on stdin, so its
# passes can take turns with faceproof's in the same run:
#   "1"    one pass over the images in this process -> {"s": seconds, "found": faces found}
#   "2"    one pass over the images in a pool of 2 processes -> {"s": seconds}
#   "v I"  verify-equivalent of images I and I+1 (two represents, one distance) -> {"ms": ...}
#   "q"    quit
FR_WORKER = textwrap.dedent(
    """
    import io, json, sys, time, multiprocessing
    import face_recognition
    paths = json.loads(sys.argv[1])
    datas = [open(p, "rb").read() for p in paths]
    def represent(data):
        img = face_recognition.load_image_file(io.BytesIO(data))
        boxes = face_recognition.face_locations(img)  # HOG, 1 upsample (the package default)
        return face_recognition.face_encodings(img, boxes)
    def found(data):
        return len(represent(data)) > 0
    for d in datas[:2]:
        represent(d)
    pool = multiprocessing.get_context("fork").Pool(2)
    pool.map(found, datas[:4])
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "q":
            break
        t = time.perf_counter()
        if cmd[0] == "1":
            n = sum(found(d) for d in datas)
            out = {"s": time.perf_counter() - t, "found": n}
        elif cmd[0] == "2":
            n = sum(pool.map(found, datas))
            out = {"s": time.perf_counter() - t, "found": n}
        else:
            i = int(cmd[1]) % len(datas)
            e1, e2 = represent(datas[i]), represent(datas[(i + 1) % len(datas)])
            if e1 and e2:
                face_recognition.face_distance(e1, e2[0])
            out = {"ms": (time.perf_counter() - t) * 1000}
        print(json.dumps(out), flush=True)
    pool.close()
    """
)


class FRWorker:
    def __init__(self, python: str, paths: list[str]) -> None:
        self.proc = subprocess.Popen(
            [python, "-c", FR_WORKER, json.dumps(paths)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.ask("")  # wait for "ready"

    def ask(self, cmd: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if cmd:
            self.proc.stdin.write(cmd + "\n")
            self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the face_recognition worker stopped (see its stderr above)")
        return json.loads(line)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("q\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


_proc_fp: Any = None


def _proc_init() -> None:
    global _proc_fp
    import cv2

    from faceproof import FaceProof

    cv2.setNumThreads(1)
    _proc_fp = FaceProof(attributes=(), flip=True)
    _proc_fp.warmup()


def _proc_represent(data: bytes) -> int:
    return len(_proc_fp.represent(data))


def fmt_ratio(r: dict[str, float]) -> str:
    return f"{r['median']:.2f} (IQR {r['q25']:.2f}–{r['q75']:.2f}, {r['n']} turns)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=Path, default=REPO.parent / "shared/testdata/photos")
    ap.add_argument("--repeat", type=int, default=40, help="turns for the latency comparisons")
    ap.add_argument("--rounds", type=int, default=6, help="turns (passes over the 10 images) for throughput")
    ap.add_argument("--fr-python", default=None, help="python of a virtualenv with face_recognition installed")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--verify-only", action="store_true", help="only the verify comparison (cascade / always-flip / no flip)"
    )
    ap.add_argument(
        "--rss-only",
        type=int,
        default=0,
        metavar="N",
        help="only the peak RSS, in N fresh processes (PYTHONPATH=<tree>/src measures another tree)",
    )
    args = ap.parse_args()

    import cv2

    from faceproof import FaceProof
    from faceproof.runtime.align import norm_crop
    from faceproof.runtime.embed import SFaceRecognizer

    res: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": " ".join(["python", *sys.argv]),
        "machine": {
            **machine_facts(),
            "python": platform.python_version(),
            "opencv": cv2.__version__,
            "opencv_threads_default": cv2.getNumThreads(),
            "load_avg_at_start": os.getloadavg(),
        },
    }
    datas = [jpeg_at(args.photos / p, 640) for p in SINGLE_FACE_640]
    big = jpeg_at(args.photos / GROUP_2000, 2000)
    r = args.repeat
    if args.rss_only:
        with tempfile.TemporaryDirectory() as tmp:
            paths = [Path(tmp) / "a.jpg", Path(tmp) / "b.jpg"]
            for path, data in zip(paths, datas[:2], strict=True):
                path.write_bytes(data)
            code = RSS_CODE.format(flip="flip=True", images=tuple(str(p) for p in paths))
            peaks = [run_python(code)["peak_rss_mb"] for _ in range(args.rss_only)]
        print(f"peak RSS (verify + distinguish, fresh processes): {', '.join(f'{v:.0f}' for v in peaks)} MB")
        return

    if not args.verify_only:
        res["load"] = run_python(LOAD_CODE)

    fp = FaceProof(attributes=("gender", "age"), flip=False)
    fp_flip = FaceProof(detector=fp.detector, flip=True, cascade=False, attributes=())
    fp_cascade = FaceProof(detector=fp.detector, flip=True, cascade=True, attributes=())
    fp_dlib = FaceProof(model="dlib", detector=fp.detector, attributes=())
    # the same two configurations with YuNet on OpenCV's FaceDetectorYN (the engine before 2026-11-29)
    from faceproof.runtime.detect import YuNetDetector

    cv_detector = YuNetDetector(engine="opencv")
    fp_flip_cv = FaceProof(detector=cv_detector, flip=True, cascade=False, attributes=())
    fp_cascade_cv = FaceProof(detector=cv_detector, flip=True, cascade=True, attributes=())
    for c in (fp, fp_flip, fp_cascade, fp_dlib, fp_flip_cv, fp_cascade_cv):
        c.warmup()
    img = fp.load_image(datas[0])
    img_big = fp.load_image(big)
    face = fp.detect(img)[0]
    chip = norm_crop(img, face.landmarks, 112)
    assert fp.attribute_model is not None
    attr = fp.attribute_model

    # ---------------------------------------------------------------- latency, interleaved
    stages = {
        "decode 640 px JPEG": lambda: fp.load_image(datas[0]),
        "detect 640 px (YuNet pyramid)": lambda: fp.detector.detect(img),
        "align (5-point similarity + warp to 112x112)": lambda: norm_crop(img, face.landmarks, 112),
        "embed SFace, 1 face (align + 1 forward)": lambda: fp.pipeline.embed(img, [face]),
        "embed SFace + flip TTA, 1 face (align + 2 forwards, default)": lambda: fp_flip.pipeline.embed(img, [face]),
        "gender + age, 1 face (6 chips x 2 networks)": lambda: attr.predict(img, [face]),
        "embed dlib ResNet, 1 face": lambda: fp_dlib.pipeline.embed(img, [face]),
    }
    st: dict[str, list[float]] = {}
    if not args.verify_only:
        st = interleaved(stages, r)
        big_stages = {
            "decode 2,000 px JPEG": lambda: fp.load_image(big),
            "detect 2,000 px (YuNet pyramid)": lambda: fp.detector.detect(img_big),
        }
        st.update(interleaved(big_stages, r // 2))

    pairs = [(datas[i], datas[(i + 1) % len(datas)]) for i in range(len(datas))]
    turn = {"i": 0}
    shares: dict[str, list[dict[str, float]]] = {
        "flip on": [],
        "flip off": [],
        "cascade": [],
        "flip on, YuNet on OpenCV": [],
        "cascade, YuNet on OpenCV": [],
    }

    def verify_with(client: FaceProof, key: str) -> Callable[[], Any]:
        def run() -> Any:
            a, b = pairs[turn["i"] % len(pairs)]
            res_ = client.verify(a, b)
            shares[key].append(dict(res_.timings_ms))
            return res_

        return run

    verify_fns: dict[str, Callable[[], Any]] = {
        "verify two 640-px photos, always-flip": verify_with(fp_flip, "flip on"),
        "verify two 640-px photos, flip off": verify_with(fp, "flip off"),
        "verify two 640-px photos, cascade (no flip, then flip near the threshold)": verify_with(fp_cascade, "cascade"),
        "verify two 640-px photos, always-flip, YuNet on OpenCV": verify_with(fp_flip_cv, "flip on, YuNet on OpenCV"),
        "verify two 640-px photos, cascade, YuNet on OpenCV": verify_with(fp_cascade_cv, "cascade, YuNet on OpenCV"),
    }
    fr: FRWorker | None = None
    paths: list[str] = []
    if args.fr_python:
        for i, d in enumerate(datas):
            f = tempfile.NamedTemporaryFile(suffix=f"_{i}.jpg", delete=False)
            f.write(d)
            f.close()
            paths.append(f.name)
        fr = FRWorker(args.fr_python, paths)
        worker = fr
        verify_fns["face_recognition verify-equivalent (2 represents + 1 distance)"] = lambda: worker.ask(
            f"v {turn['i']}"
        )

    # every configuration verifies the same pair in a turn; the pair changes each turn
    names = list(verify_fns)
    vt: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(2):
        for n in names:
            verify_fns[n]()
    for key in shares:
        shares[key].clear()
    for i in range(r):
        turn["i"] = i
        k = i % len(names)
        for n in names[k:] + names[:k]:
            t = time.perf_counter()
            verify_fns[n]()
            vt[n].append((time.perf_counter() - t) * 1000.0)

    def share_of(key: str) -> dict[str, float]:
        rows = shares[key]
        tot = sum(t["total"] for t in rows)
        part = {
            "decode": sum(t["origin_decode"] + t["target_decode"] for t in rows),
            "detect": sum(t["origin_detect"] + t["target_detect"] for t in rows),
            "embed (align + SFace)": sum(t["origin_embed"] + t["target_embed"] for t in rows),
        }
        part["other (compare, glue)"] = tot - sum(part.values())
        return {k: 100.0 * v / tot for k, v in part.items()}

    res["stages"] = {k: summary(v) for k, v in st.items()}
    res["verify"] = {k: summary(v) for k, v in vt.items()}
    res["verify_share_pct"] = {k: share_of(k) for k in shares}

    ratios: dict[str, dict[str, float]] = {}
    on, off = "verify two 640-px photos, always-flip", "verify two 640-px photos, flip off"
    casc = "verify two 640-px photos, cascade (no flip, then flip near the threshold)"
    ratios["verify: cascade / always-flip"] = paired_ratio(vt[casc], vt[on])
    ratios["verify: flip on / flip off"] = paired_ratio(vt[on], vt[off])
    on_cv = "verify two 640-px photos, always-flip, YuNet on OpenCV"
    casc_cv = "verify two 640-px photos, cascade, YuNet on OpenCV"
    ratios["verify, YuNet on OpenCV: cascade / always-flip"] = paired_ratio(vt[casc_cv], vt[on_cv])
    ratios["verify cascade: YuNet on ONNX Runtime / on OpenCV"] = paired_ratio(vt[casc], vt[casc_cv])
    ratios["verify always-flip: YuNet on ONNX Runtime / on OpenCV"] = paired_ratio(vt[on], vt[on_cv])
    if args.verify_only:
        res["verify"] = {k: summary(v) for k, v in vt.items()}
        res["verify_share_pct"] = {k: share_of(k) for k in shares}
        res["ratios"] = ratios
        res["machine"]["load_avg_at_end"] = os.getloadavg()
        print(json.dumps(res, indent=1))
        if args.json is not None:
            args.json.write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
        return
    e1 = "embed SFace, 1 face (align + 1 forward)"
    e2 = "embed SFace + flip TTA, 1 face (align + 2 forwards, default)"
    ga = "gender + age, 1 face (6 chips x 2 networks)"
    ratios["verify: flip on / flip off"] = paired_ratio(vt[on], vt[off])
    ratios["embed per face: flip on / flip off"] = paired_ratio(st[e2], st[e1])
    ratios["gender + age per face / SFace embed per face (flip on)"] = paired_ratio(st[ga], st[e2])
    ratios["gender + age per face / SFace embed per face (flip off)"] = paired_ratio(st[ga], st[e1])
    ratios["dlib ResNet embed / SFace embed per face (flip off)"] = paired_ratio(
        st["embed dlib ResNet, 1 face"], st[e1]
    )
    ratios["detect 640 px / SFace embed per face (flip on)"] = paired_ratio(st["detect 640 px (YuNet pyramid)"], st[e2])
    if fr is not None:
        ratios["face_recognition verify-equivalent / faceproof verify (flip on)"] = paired_ratio(
            vt["face_recognition verify-equivalent (2 represents + 1 distance)"], vt[on]
        )

    # ---------------------------------------------------------------- throughput, interleaved passes
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ncpu = os.cpu_count() or 2
    threads2 = ThreadPoolExecutor(2)
    procs2 = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"), initializer=_proc_init)
    list(procs2.map(_proc_represent, datas[:4]))  # start-up and warm-up, not timed
    list(threads2.map(fp_flip.represent, datas[:2]))

    def single(client: FaceProof, cv_threads: int) -> Callable[[], float]:
        def run() -> float:
            cv2.setNumThreads(cv_threads)
            t = time.perf_counter()
            for d in datas:
                client.represent(d)
            s = time.perf_counter() - t
            cv2.setNumThreads(ncpu)
            return s

        return run

    def two_threads() -> float:
        cv2.setNumThreads(ncpu)
        t = time.perf_counter()
        list(threads2.map(fp_flip.represent, datas))
        return time.perf_counter() - t

    def two_procs() -> float:
        t = time.perf_counter()
        list(procs2.map(_proc_represent, datas))
        return time.perf_counter() - t

    tp_fns: dict[str, Callable[[], float]] = {
        "1 thread, OpenCV 1 thread, flip on": single(fp_flip, 1),
        "1 thread, OpenCV 2 threads (default), flip on": single(fp_flip, ncpu),
        "1 thread, OpenCV 2 threads, flip off": single(fp, ncpu),
        "2 threads sharing one FaceProof, flip on": two_threads,
        "2 processes, one FaceProof each (OpenCV 1 thread each), flip on": two_procs,
    }
    fr_found = 0
    fr_n = 0
    if fr is not None:
        worker = fr

        def fr_pass(cmd: str) -> Callable[[], float]:
            def run() -> float:
                nonlocal fr_found, fr_n
                out = worker.ask(cmd)
                if cmd == "1":
                    fr_found += out["found"]
                    fr_n += len(datas)
                return float(out["s"])

            return run

        tp_fns["face_recognition, 1 process"] = fr_pass("1")
        tp_fns["face_recognition, 2 processes"] = fr_pass("2")
    tnames = list(tp_fns)
    secs: dict[str, list[float]] = {n: [] for n in tnames}
    for i in range(args.rounds):
        k = i % len(tnames)
        for n in tnames[k:] + tnames[:k]:
            secs[n].append(tp_fns[n]())
    threads2.shutdown()
    procs2.shutdown()
    if fr is not None:
        fr.close()
        for p in paths:
            os.unlink(p)
    cv2.setNumThreads(ncpu)
    tp = {n: statistics.median(len(datas) / s for s in v) for n, v in secs.items()}

    def tp_ratio(a: str, b: str) -> dict[str, float]:
        return paired_ratio([1 / s for s in secs[a]], [1 / s for s in secs[b]])

    best = "1 thread, OpenCV 2 threads (default), flip on"
    ratios["throughput: OpenCV 2 threads / 1 thread (1 caller, flip on)"] = tp_ratio(
        best, "1 thread, OpenCV 1 thread, flip on"
    )
    ratios["throughput: 2 threads sharing one FaceProof / 1 thread"] = tp_ratio(
        "2 threads sharing one FaceProof, flip on", best
    )
    ratios["throughput: 2 processes / 1 thread"] = tp_ratio(
        "2 processes, one FaceProof each (OpenCV 1 thread each), flip on", best
    )
    ratios["throughput: flip off / flip on"] = tp_ratio("1 thread, OpenCV 2 threads, flip off", best)
    if fr is not None:
        ratios["throughput: face_recognition 2 processes / 1 process"] = tp_ratio(
            "face_recognition, 2 processes", "face_recognition, 1 process"
        )
        ratios["throughput: faceproof 1 process (flip on) / face_recognition 1 process"] = tp_ratio(
            best, "face_recognition, 1 process"
        )
        ratios["throughput: faceproof 2 processes (flip on) / face_recognition 2 processes"] = tp_ratio(
            "2 processes, one FaceProof each (OpenCV 1 thread each), flip on", "face_recognition, 2 processes"
        )

    # SFace batching, interleaved
    blob1 = cv2.dnn.blobFromImage(chip)
    blob8 = cv2.dnn.blobFromImages([chip] * 8)
    sface = SFaceRecognizer()
    sface.load()
    net = sface._net

    def fwd(blob: np.ndarray) -> Any:
        net.setInput(blob, "data")
        return net.forward()

    bt = interleaved({"batch 1": lambda: fwd(blob1), "batch 8": lambda: fwd(blob8)}, r // 2)
    tp["SFace alone, batch 1 (faces/s)"] = 1000.0 / statistics.median(bt["batch 1"])
    tp["SFace alone, batch 8 (faces/s)"] = 8000.0 / statistics.median(bt["batch 8"])
    ratios["SFace faces/s: batch 8 / batch 1"] = paired_ratio([8 * x for x in bt["batch 1"]], bt["batch 8"])
    res["throughput_images_per_s"] = tp
    res["ratios"] = ratios
    if fr is not None:
        res["face_recognition"] = {"found": fr_found, "n": fr_n}

    a_tmp = tempfile.NamedTemporaryFile(suffix=".jpg", delete=False)
    a_tmp.write(datas[0])
    a_tmp.close()
    b_tmp = tempfile.NamedTemporaryFile(suffix=".jpg", delete=False)
    b_tmp.write(datas[1])
    b_tmp.close()
    res["memory"] = {
        "flip on, gender + age loaded": run_python(RSS_CODE.format(flip="flip=True", images=(a_tmp.name, b_tmp.name))),
    }
    os.unlink(a_tmp.name)
    os.unlink(b_tmp.name)
    res["machine"]["load_avg_at_end"] = os.getloadavg()

    m = res["machine"]
    print(
        f"Date {res['date']}; commit {m['commit']}; {m['nproc']} x {m['cpu_model']}; Python {m['python']}, "
        f"OpenCV {m['opencv']}; load average (1/5/15 min) at start "
        f"{'/'.join(f'{x:.1f}' for x in m['load_avg_at_start'])}, at end "
        f"{'/'.join(f'{x:.1f}' for x in m['load_avg_at_end'])}\nCommand: {res['command']}\n"
    )
    print("| ratio, measured side by side (median of per-turn ratios) | value |\n|---|---|")
    for k, v in ratios.items():
        print(f"| {k} | {fmt_ratio(v)} |")
    print("\n| share of a verify's wall time (its timings_ms, same calls) | decode % | detect % | embed % | other % |")
    print("|---|---|---|---|---|")
    for k, v in res["verify_share_pct"].items():
        vals = list(v.values())
        print(f"| {k} | {vals[0]:.0f} | {vals[1]:.0f} | {vals[2]:.0f} | {vals[3]:.0f} |")
    print("\n| stage (interleaved) | p50 ms | p95 ms | n |\n|---|---|---|---|")
    for k, v in {**res["stages"], **res["verify"]}.items():
        print(f"| {k} | {v['p50_ms']:.1f} | {v['p95_ms']:.1f} | {v['n']} |")
    print("\n| throughput (median of the passes) | images/s |\n|---|---|")
    for k, v in tp.items():
        print(f"| {k} | {v:.1f} |")
    print("\n| model load (fresh process, files in page cache) | s |\n|---|---|")
    for k, v in res["load"].items():
        print(f"| {k} | {v:.2f} |")
    for k, v in res["memory"].items():
        print(f"\nPeak RSS, {k}: {v['peak_rss_mb']:.0f} MB")
    if fr is not None:
        print(f"face_recognition found a face in {fr_found} of {fr_n} images (one-process passes)")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
