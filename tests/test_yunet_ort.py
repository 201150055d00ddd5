"""YuNet on ONNX Runtime (the default engine) against OpenCV's FaceDetectorYN: the same
faces on real photos, the decoding rules on a hand-made output, the session settings."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import manifest_rows
from PIL import Image

from faceproof import errors
from faceproof.runtime.detect import YuNetDetector
from faceproof.runtime.io import load_image
from faceproof.runtime.models import model_path
from faceproof.runtime.yunet_ort import STRIDES, YuNetOrt, decode_yunet

ROWS = manifest_rows()


@pytest.fixture(scope="module")
def ort_yunet() -> YuNetOrt:
    return YuNetOrt(model_path("yunet").read_bytes())


def _opencv_rows(bgr: np.ndarray) -> np.ndarray:
    h, w = bgr.shape[:2]
    net = cv2.FaceDetectorYN.create(str(model_path("yunet")), "", (w, h), 0.3, 0.3, 5000)
    _, found = net.detect(bgr)
    return np.zeros((0, 15), np.float32) if found is None else found


@pytest.mark.parametrize("long_side", [250, 320, 640, 1000])
@pytest.mark.parametrize(
    "path", ["pytopenface/obama1.jpg", "pytopenface/chirac1.jpg", "kerns_dummy/obama_fatherhood_townhall.jpg"]
)
def test_same_faces_as_opencv_face_detector_yn(ort_yunet, photos, path, long_side):
    im = Image.open(photos / path).convert("RGB")
    scale = long_side / max(im.size)
    im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
    bgr = cv2.cvtColor(np.asarray(im), cv2.COLOR_RGB2BGR)  # sizes that are not multiples of 32 too
    ours, theirs = ort_yunet.detect(bgr), _opencv_rows(bgr)
    assert len(theirs) >= 1
    assert ours.shape == theirs.shape
    # the network's float outputs differ in the last bits: boxes, landmarks, scores nearly equal
    assert np.abs(ours[:, :14] - theirs[:, :14]).max() < 1e-2
    assert np.abs(ours[:, 14] - theirs[:, 14]).max() < 1e-4


@pytest.mark.parametrize("row", ROWS, ids=[r["path"] for r in ROWS])
def test_both_engines_give_the_manifest_face_count_with_the_same_boxes(photos, row):
    image = load_image(photos / row["path"])
    by_engine = {engine: YuNetDetector(engine=engine).detect(image) for engine in ("onnxruntime", "opencv")}
    ours, theirs = by_engine["onnxruntime"], by_engine["opencv"]
    assert len(ours) == len(theirs) == int(row["faces"])
    for a, b in zip(ours, theirs, strict=True):
        assert np.allclose(a.bbox.as_list(6), b.bbox.as_list(6), atol=1e-2)
        assert a.landmarks is not None and b.landmarks is not None
        assert np.abs(a.landmarks - b.landmarks).max() < 1e-2
        assert abs(a.score - b.score) < 1e-4


def test_decoding_follows_face_detector_yn_rules():
    """One anchor of the stride-16 level above the threshold: its box and landmarks come
    from its grid cell; every other anchor scores sqrt(cls * obj) below it."""
    pad_w, pad_h = 64, 32
    outputs: dict[str, np.ndarray] = {}
    for s in STRIDES:
        n = (pad_w // s) * (pad_h // s)
        outputs[f"cls_{s}"] = np.full((1, n, 1), 0.5, np.float32)
        outputs[f"obj_{s}"] = np.full((1, n, 1), 0.1, np.float32)  # sqrt(0.05) < 0.3
        outputs[f"bbox_{s}"] = np.zeros((1, n, 4), np.float32)
        outputs[f"kps_{s}"] = np.zeros((1, n, 10), np.float32)
    cols = pad_w // 16
    idx = 1 * cols + 2  # row 1, column 2
    outputs["cls_16"][0, idx, 0] = 1.5  # clipped to 1
    outputs["obj_16"][0, idx, 0] = 0.81
    outputs["bbox_16"][0, idx] = [0.5, 0.25, np.log(2.0), 0.0]
    outputs["kps_16"][0, idx] = [0.0, 0.0, 1.0, 0.0, 0.5, 0.5, 0.0, 1.0, 1.0, 1.0]
    (row,) = decode_yunet(outputs, pad_w, pad_h, 0.3, 0.3, 5000)
    cx, cy, w, h = (2 + 0.5) * 16, (1 + 0.25) * 16, 2.0 * 16, 16.0
    assert row[:4] == pytest.approx([cx - w / 2, cy - h / 2, w, h])
    assert row[4:14] == pytest.approx([32, 16, 48, 16, 40, 24, 32, 32, 48, 32])
    assert row[14] == pytest.approx(0.9)
    assert decode_yunet(outputs, pad_w, pad_h, 0.95, 0.3, 5000).shape == (0, 15)


def test_overlapping_anchors_are_merged_by_nms():
    pad_w = pad_h = 32
    outputs: dict[str, np.ndarray] = {}
    for s in STRIDES:
        n = (pad_w // s) * (pad_h // s)
        outputs[f"cls_{s}"] = np.zeros((1, n, 1), np.float32)
        outputs[f"obj_{s}"] = np.zeros((1, n, 1), np.float32)
        outputs[f"bbox_{s}"] = np.zeros((1, n, 4), np.float32)
        outputs[f"kps_{s}"] = np.zeros((1, n, 10), np.float32)
    outputs["bbox_8"][0, :, 2:] = np.log(3.0)  # 24-px boxes on an 8-px grid: neighbours overlap
    outputs["cls_8"][0, :2, 0] = [0.9, 0.8]
    outputs["obj_8"][0, :2, 0] = 1.0
    rows = decode_yunet(outputs, pad_w, pad_h, 0.3, 0.3, 5000)
    assert len(rows) == 1 and rows[0, 14] == pytest.approx(np.sqrt(0.9))


def test_session_uses_one_thread_without_spinning(ort_yunet):
    opts = ort_yunet.session.get_session_options()
    assert opts.intra_op_num_threads == 1 and opts.inter_op_num_threads == 1
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert not opts.enable_cpu_mem_arena


def test_unknown_engine_is_refused():
    with pytest.raises(errors.InvalidArgument):
        YuNetDetector(engine="tensorflow")
