"""Speed and memory of faceproof on this machine, and the face_recognition package on the
same images in the same run.

Measures: model load time (fresh process); per-stage latency p50/p95 (decode, detect at
640 and 2,000 px, align, embed with and without flip TTA, gender+age, dlib embed);
end-to-end ``verify`` of two 640-px single-face photos p50/p95; throughput in images/s
(``represent``: decode + detect + align + embed) with 1 and 2 threads, 2 processes, and
SFace batching; peak RSS with the gender model loaded; and face_recognition (dlib HOG +
ResNet) on the same 640-px images, run from its own virtualenv.

Run by hand, alone on the machine as far as possible (under the shared CPU lock):

    flock /tmp/faceproof-cpu.lock python bench/speed.py --fr-python /path/to/fr-venv/bin/python \
        --json docs/performance.json

It prints the tables of docs/performance.md.

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


def timed(fn: Callable[[], Any], repeat: int, warmup: int = 2) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1000.0)
    ts.sort()
    return {
        "p50_ms": statistics.median(ts),
        "p95_ms": ts[min(len(ts) - 1, round(0.95 * (len(ts) - 1)))],
        "n": len(ts),
    }


def run_python(code: str, python: str = sys.executable) -> dict[str, Any]:
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=900, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


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

FR_CODE = textwrap.dedent(
    """
    import io, json, statistics, sys, time
    import numpy as np
    import face_recognition
    from PIL import Image
    paths = json.loads(sys.argv[1])
    datas = [open(p, "rb").read() for p in paths]
    def represent(data):
        img = face_recognition.load_image_file(io.BytesIO(data))
        boxes = face_recognition.face_locations(img)  # HOG, 1 upsample (the package default)
        return face_recognition.face_encodings(img, boxes)
    for d in datas[:2]:
        represent(d)
    ts = []
    found = 0
    t0 = time.perf_counter()
    for _ in range({rounds}):
        for d in datas:
            t = time.perf_counter(); found += len(represent(d)) > 0; ts.append((time.perf_counter() - t) * 1000)
    total = time.perf_counter() - t0
    vts = []
    for i in range(len(datas) - 1):
        t = time.perf_counter()
        e1, e2 = represent(datas[i]), represent(datas[i + 1])
        if e1 and e2:
            face_recognition.face_distance(e1, e2[0])
        vts.append((time.perf_counter() - t) * 1000)
    import multiprocessing
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pool.map(represent, datas[:4])
        t0 = time.perf_counter()
        pool.map(represent, datas * {rounds})
        total2 = time.perf_counter() - t0
    ts.sort()
    print(json.dumps({{"images_per_s_2proc": len(datas) * {rounds} / total2,
                      "images_per_s": len(ts) / total, "p50_ms": statistics.median(ts),
                      "p95_ms": ts[int(round(0.95 * (len(ts) - 1)))], "found": found, "n": len(ts),
                      "verify_p50_ms": statistics.median(vts)}}))
    """
)


def throughput(fn: Callable[[bytes], Any], datas: list[bytes], rounds: int, threads: int = 1) -> float:
    work = datas * rounds
    t = time.perf_counter()
    if threads == 1:
        for d in work:
            fn(d)
    else:
        with ThreadPoolExecutor(threads) as ex:
            list(ex.map(fn, work))
    return len(work) / (time.perf_counter() - t)


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


def process_throughput(datas: list[bytes], rounds: int) -> float:
    """Images/s of two worker processes (spawned, models loaded and warmed up before timing)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=ctx, initializer=_proc_init) as ex:
        list(ex.map(_proc_represent, datas[:4]))
        work = datas * rounds
        t = time.perf_counter()
        list(ex.map(_proc_represent, work))
        return len(work) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=Path, default=Path(__file__).resolve().parents[2] / "shared/testdata/photos")
    ap.add_argument("--repeat", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3, help="passes over the 10 images for throughput")
    ap.add_argument("--fr-python", default=None, help="python of a virtualenv with face_recognition installed")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    import cv2

    from faceproof import FaceProof
    from faceproof.runtime.align import norm_crop
    from faceproof.runtime.embed import SFaceRecognizer

    res: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "cpu": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "opencv": cv2.__version__,
            "opencv_threads_default": cv2.getNumThreads(),
            "load_avg_at_start": os.getloadavg(),
        },
    }
    datas = [jpeg_at(args.photos / p, 640) for p in SINGLE_FACE_640]
    big = jpeg_at(args.photos / GROUP_2000, 2000)

    res["load"] = run_python(LOAD_CODE)

    fp = FaceProof(attributes=("gender", "age"), flip=False)
    fp_flip = FaceProof(detector=fp.detector, flip=True, attributes=())
    fp.warmup()
    fp_flip.warmup()
    img = fp.load_image(datas[0])
    img_big = fp.load_image(big)
    faces = fp.detect(img)
    face = faces[0]
    chip = norm_crop(img, face.landmarks, 112)
    sface = SFaceRecognizer()
    sface_flip = SFaceRecognizer(flip=True)
    st: dict[str, dict[str, float]] = {}
    r = args.repeat
    st["decode 640 px JPEG"] = timed(lambda: fp.load_image(datas[0]), r)
    st["decode 2,000 px JPEG"] = timed(lambda: fp.load_image(big), r // 2)
    st["detect 640 px (YuNet pyramid)"] = timed(lambda: fp.detector.detect(img), r)
    st["detect 2,000 px (YuNet pyramid)"] = timed(lambda: fp.detector.detect(img_big), r // 2)
    st["align (5-point similarity + warp to 112x112)"] = timed(lambda: norm_crop(img, face.landmarks, 112), r)
    st["embed SFace, 1 face"] = timed(lambda: sface.embed_chips([chip]), r)
    st["embed SFace + flip TTA, 1 face"] = timed(lambda: sface_flip.embed_chips([chip]), r)
    assert fp.attribute_model is not None
    attr = fp.attribute_model
    st["gender + age, 1 face"] = timed(lambda: attr.predict(img, [face]), r)
    fp_dlib = FaceProof(model="dlib", detector=fp.detector, attributes=())
    fp_dlib.warmup()
    st["embed dlib ResNet, 1 face"] = timed(lambda: fp_dlib.recognizer.embed(img, [face]), r // 2)
    res["stages"] = st

    e2e: dict[str, dict[str, float]] = {}
    pairs = [(datas[i], datas[(i + 1) % len(datas)]) for i in range(len(datas))]
    it = iter(range(10**9))

    def verify_with(client: FaceProof) -> Callable[[], Any]:
        def run() -> Any:
            a, b = pairs[next(it) % len(pairs)]
            return client.verify(a, b)

        return run

    e2e["verify two 640-px photos, flip off"] = timed(verify_with(fp), r)
    e2e["verify two 640-px photos, flip on (default)"] = timed(verify_with(fp_flip), r)
    res["verify"] = e2e

    tp: dict[str, float] = {}
    cv2.setNumThreads(1)
    tp["1 thread (OpenCV 1 thread), flip on"] = throughput(fp_flip.represent, datas, args.rounds)
    cv2.setNumThreads(os.cpu_count() or 2)
    tp["1 thread (OpenCV 2 threads), flip on"] = throughput(fp_flip.represent, datas, args.rounds)
    tp["1 thread (OpenCV 2 threads), flip off"] = throughput(fp.represent, datas, args.rounds)
    tp["2 threads sharing one FaceProof, flip on"] = throughput(fp_flip.represent, datas, args.rounds, threads=2)
    tp["2 processes, one FaceProof each (after start-up), flip on"] = process_throughput(datas, args.rounds)
    blob1 = cv2.dnn.blobFromImage(chip)
    blob8 = cv2.dnn.blobFromImages([chip] * 8)
    sface.load()
    net = sface._net

    def fwd(blob: np.ndarray) -> Any:
        net.setInput(blob, "data")
        return net.forward()

    one = timed(lambda: fwd(blob1), r)["p50_ms"]
    eight = timed(lambda: fwd(blob8), r // 2)["p50_ms"]
    tp["SFace alone, batch 1 (faces/s)"] = 1000.0 / one
    tp["SFace alone, batch 8 (faces/s)"] = 8000.0 / eight
    res["throughput_images_per_s"] = tp

    a_tmp = tempfile.NamedTemporaryFile(suffix=".jpg", delete=False)
    a_tmp.write(datas[0])
    a_tmp.close()
    b_tmp = tempfile.NamedTemporaryFile(suffix=".jpg", delete=False)
    b_tmp.write(datas[1])
    b_tmp.close()
    res["memory"] = {
        "flip on, gender + age loaded": run_python(RSS_CODE.format(flip="flip=True", images=(a_tmp.name, b_tmp.name))),
    }

    if args.fr_python:
        paths = []
        for i, d in enumerate(datas):
            f = tempfile.NamedTemporaryFile(suffix=f"_{i}.jpg", delete=False)
            f.write(d)
            f.close()
            paths.append(f.name)
        proc = subprocess.run(
            [args.fr_python, "-c", FR_CODE.format(rounds=args.rounds), json.dumps(paths)],
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-2000:])
        fr = json.loads(proc.stdout.strip().splitlines()[-1])
        ours1 = tp["1 thread (OpenCV 2 threads), flip on"]
        ours2 = max(
            tp["2 threads sharing one FaceProof, flip on"],
            tp["2 processes, one FaceProof each (after start-up), flip on"],
        )
        res["face_recognition"] = {
            **fr,
            "faceproof_images_per_s_1": ours1,
            "faceproof_images_per_s_2": ours2,
            "ratio_1": ours1 / fr["images_per_s"],
            "ratio_2": ours2 / fr["images_per_s_2proc"],
        }
        for p in paths:
            os.unlink(p)
    os.unlink(a_tmp.name)
    os.unlink(b_tmp.name)
    res["machine"]["load_avg_at_end"] = os.getloadavg()

    print(f"Date {res['date']}; machine {res['machine']}\n")
    print("| model load (fresh process, files in page cache) | s |\n|---|---|")
    for k, v in res["load"].items():
        print(f"| {k} | {v:.2f} |")
    print("\n| stage | p50 ms | p95 ms | n |\n|---|---|---|---|")
    for k, v in {**st, **e2e}.items():
        print(f"| {k} | {v['p50_ms']:.1f} | {v['p95_ms']:.1f} | {v['n']} |")
    print("\n| throughput | images/s |\n|---|---|")
    for k, v in tp.items():
        print(f"| {k} | {v:.1f} |")
    for k, v in res["memory"].items():
        print(f"\nPeak RSS, {k}: {v['peak_rss_mb']:.0f} MB")
    if "face_recognition" in res:
        fr = res["face_recognition"]
        print(
            f"\nface_recognition 1.3.0 (HOG, 1 upsample + ResNet): {fr['images_per_s']:.2f} images/s in one process "
            f"({fr['images_per_s_2proc']:.2f} in two), p50 {fr['p50_ms']:.0f} ms, p95 {fr['p95_ms']:.0f} ms per image, "
            f"faces found in {fr['found']}/{fr['n']}; verify-equivalent p50 {fr['verify_p50_ms']:.0f} ms.\n"
            f"faceproof (flip on) {fr['faceproof_images_per_s_1']:.1f} images/s in one thread: ratio "
            f"{fr['ratio_1']:.1f}x; {fr['faceproof_images_per_s_2']:.1f} images/s on both cores vs face_recognition "
            f"in two processes: ratio {fr['ratio_2']:.1f}x"
        )
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
