"""SFace on OpenVINO (the default engine) against ``cv2.dnn`` (the engine the thresholds
were first calibrated with): real model, real photos."""

from __future__ import annotations

import numpy as np
import pytest

from faceproof import FaceProof, PipelineConfig, errors
from faceproof.runtime.embed import SFaceRecognizer
from faceproof.runtime.io import load_image

PHOTOS = ("pytopenface/obama1.jpg", "pytopenface/obama3.jpg", "pytopenface/chirac2.jpg")


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def chips(photos):
    fp = FaceProof(attributes=(), flip=False)
    out = []
    for name in PHOTOS:
        image = load_image(photos / name)
        out.extend(fp.pipeline.recognizer.chips(image, fp.detect(image)))
    assert len(out) == len(PHOTOS)
    return out


@pytest.mark.parametrize("mirrored", [False, True])
def test_openvino_float32_gives_opencvs_embeddings(chips, mirrored):
    ov = SFaceRecognizer().forward(chips, mirrored=mirrored)
    cv = SFaceRecognizer(engine="opencv").forward(chips, mirrored=mirrored)
    assert ov.shape == cv.shape == (len(chips), 128) and ov.dtype == np.float32
    assert np.abs(ov - cv).max() < 1e-3 * np.abs(cv).max()
    assert (_unit(ov) * _unit(cv)).sum(axis=1).min() > 1 - 1e-5


def test_bfloat16_stays_close_to_float32_and_keeps_people_apart(chips):
    f32 = _unit(SFaceRecognizer().forward(chips))
    bf16 = _unit(SFaceRecognizer(precision="bf16").forward(chips))
    assert (f32 * bf16).sum(axis=1).min() > 0.995
    same, other = float(bf16[0] @ bf16[1]), float(bf16[0] @ bf16[2])
    assert abs(same - float(f32[0] @ f32[1])) < 0.03 and same > other + 0.05


def test_the_default_pipeline_runs_openvino_in_float32():
    recognizer = FaceProof(attributes=()).recognizer
    assert (recognizer.engine, recognizer.precision) == ("openvino", "f32")
    assert FaceProof(attributes=(), precision="bf16").recognizer.precision == "bf16"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"engine": "tensorrt"}, "engine must be one of"),
        ({"precision": "f16"}, "precision must be one of"),
        ({"engine": "opencv", "precision": "bf16"}, "needs engine='openvino'"),
    ],
)
def test_engine_and_precision_are_checked(kwargs, message):
    with pytest.raises(errors.InvalidArgument, match=message):
        SFaceRecognizer(**kwargs)


def test_pipeline_config_checks_precision():
    with pytest.raises(errors.InvalidArgument, match="precision must be one of"):
        PipelineConfig(precision="int8")
    with pytest.raises(errors.InvalidArgument, match="sface model only"):
        PipelineConfig(model="dlib", precision="bf16")


def test_openvino_is_loaded_without_its_usage_telemetry(tmp_path):
    """``import openvino`` alone writes ~/intel/openvino_ga_cid and counters and queues a
    Google Analytics event; through faceproof it does neither (fresh process, own HOME)."""
    import os
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from faceproof.runtime.embed import SFaceRecognizer\n"
        "out = SFaceRecognizer().forward([np.zeros((112, 112, 3), np.uint8)])\n"
        "assert out.shape == (1, 128)\n"
        "import openvino.tools.ovc.telemetry_utils as tu\n"
        "print(tu.tm.__name__, 'openvino_telemetry' in sys.modules)\n"
    )
    env = {**os.environ, "HOME": str(tmp_path), "CI": ""}  # CI=true would switch it off by itself
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["openvino.tools.ovc.telemetry_stub", "False"]
    assert list(tmp_path.iterdir()) == []
