"""Detection on real photos: manifest face counts, close-ups, tiny faces, backends."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import manifest_rows
from PIL import Image

from faceproof import FaceProof, errors
from faceproof.runtime.detect import CrossCheckDetector, PyramidPass, YuNetDetector, nms, sort_faces
from faceproof.runtime.io import load_image
from faceproof.types import BBox, Face

ROWS = manifest_rows()


@pytest.fixture(scope="module")
def yunet():
    return YuNetDetector()


@pytest.mark.parametrize("row", ROWS, ids=[r["path"] for r in ROWS])
def test_yunet_finds_the_manifest_face_count(yunet, photos, row):
    image = load_image(photos / row["path"])
    faces = yunet.detect(image)
    assert len(faces) == int(row["faces"]), [(f.bbox.as_list(0), round(f.score, 2)) for f in faces]
    h, w = image.shape[:2]
    for face in faces:
        assert 0 <= face.bbox.x1 < face.bbox.x2 <= w and 0 <= face.bbox.y1 < face.bbox.y2 <= h
        assert face.landmarks is not None and face.landmarks.shape == (5, 2)
        assert 0.6 <= face.score <= 1.0
        # eyes above the mouth, left eye left of the right eye
        assert face.landmarks[0, 0] < face.landmarks[1, 0]
        assert face.landmarks[:2, 1].mean() < face.landmarks[3:, 1].mean()
    xs = [f.bbox.center[0] for f in faces]
    assert xs == sorted(xs), "faces are ordered left to right"


@pytest.mark.parametrize("fill", [0.95, 0.8, 0.6])
def test_face_filling_a_close_up_selfie_is_found(yunet, photos, fill):
    image = load_image(photos / "pytopenface/obama1.jpg")
    (face,) = yunet.detect(image)
    cx, cy = face.bbox.center
    side = int(face.bbox.width / fill)
    crop = image[max(0, int(cy - side / 2)) : int(cy + side / 2), max(0, int(cx - side / 2)) : int(cx + side / 2)]
    close_up = np.asarray(Image.fromarray(crop).resize((1080, 1080)))
    faces = yunet.detect(close_up)
    assert len(faces) == 1
    assert faces[0].bbox.width > 0.5 * 1080


def _counting(detector: YuNetDetector) -> list[tuple[int, int]]:
    """Record the input size of every network run of ``detector``."""
    sizes: list[tuple[int, int]] = []
    run = detector._run

    def counted(bgr: np.ndarray) -> np.ndarray:
        sizes.append(bgr.shape[:2])
        return run(bgr)

    detector._run = counted  # type: ignore[method-assign]
    return sizes


@pytest.mark.parametrize("fill", [None, 0.95, 0.6])
def test_the_close_up_pass_runs_only_when_it_can_add_a_face(photos, fill):
    image = load_image(photos / "kerns_dummy/2008_olympics_familymwr.jpg")  # a group: every face small
    if fill is not None:  # a close-up selfie cut from a portrait, as in the test above
        (face,) = YuNetDetector().detect(load_image(photos / "pytopenface/obama1.jpg"))
        source = load_image(photos / "pytopenface/obama1.jpg")
        cx, cy = face.bbox.center
        side = int(face.bbox.width / fill)
        crop = source[max(0, int(cy - side / 2)) : int(cy + side / 2), max(0, int(cx - side / 2)) : int(cx + side / 2)]
        image = np.asarray(Image.fromarray(crop).resize((1080, 1080)))
    default = YuNetDetector()
    sizes = _counting(default)
    always = YuNetDetector(
        passes=tuple(PyramidPass(p.long_side, p.pad, p.min_rel, p.max_rel, p.extra_confidence) for p in default.passes)
    )
    found, reference = default.detect(image), always.detect(image)
    assert [f.bbox.as_list(2) for f in found] == [f.bbox.as_list(2) for f in reference]
    assert all(np.array_equal(a.landmarks, b.landmarks) for a, b in zip(found, reference, strict=True))
    close_up_runs = [s for s in sizes if max(s) == 480]  # 320 px plus 25 % padding on each side
    if fill is None:
        assert len(found) >= 3 and max(f.bbox.width for f in found) < 0.28 * max(image.shape[:2])
        assert close_up_runs == []
    else:
        assert len(found) == 1 and len(close_up_runs) == 1


@pytest.mark.parametrize("face_px", [32, 24])
def test_small_faces_in_a_large_group_photo_are_found(yunet, photos, face_px):
    group = Image.open(photos / "kerns_dummy/2008_olympics_familymwr.jpg").convert("RGB")
    natural = [f.bbox.width for f in yunet.detect(np.asarray(group))]
    scale = face_px / float(np.mean(natural))
    small = group.resize((round(group.width * scale), round(group.height * scale)), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (2400, 1600), (120, 120, 120))
    canvas.paste(small, (900, 700))
    faces = yunet.detect(np.asarray(canvas))
    assert len(faces) == 3
    for f in faces:
        assert 0.6 * face_px <= f.bbox.width <= 1.5 * face_px


def test_min_detection_confidence_is_a_parameter(photos):
    image = load_image(photos / "kerns_dummy/obama_backstage_the_white_house.jpg")
    assert len(YuNetDetector(0.6).detect(image)) == 2
    assert len(YuNetDetector(0.85).detect(image)) == 1  # Biden in profile scores about 0.8
    with pytest.raises(errors.InvalidArgument):
        YuNetDetector(1.5)


def test_blank_and_tiny_images_have_no_faces(yunet):
    assert yunet.detect(np.zeros((480, 640, 3), np.uint8)) == []
    assert yunet.detect(np.full((3, 3, 3), 128, np.uint8)) == []


def test_dlib_hog_detector_finds_portrait_faces(photos):
    fp = FaceProof(detector="dlib", attributes=())
    faces = fp.detect(photos / "pytopenface/obama2.jpg")
    assert len(faces) == 1 and faces[0].landmarks is not None
    assert fp.detect(photos / "skimage/brick.png") == []
    # its landmarks align as well as YuNet's: the two embeddings of the same face agree
    yunet_face = FaceProof(attributes=()).represent(photos / "pytopenface/obama2.jpg")[0]
    dlib_face = fp.represent(photos / "pytopenface/obama2.jpg")[0]
    assert float(yunet_face.embedding @ dlib_face.embedding) > 0.8


def test_cross_check_keeps_only_confirmed_faces(photos):
    fp = FaceProof(detector="yunet+dlib", attributes=())
    assert isinstance(fp.detector, CrossCheckDetector)
    faces = fp.detect(photos / "kerns_dummy/2008_olympics_familymwr.jpg")
    assert len(faces) == 3 and all(f.confirmed_by == ("dlib",) for f in faces)
    # Biden seen from behind is a YuNet face that dlib's frontal detector does not confirm
    assert len(fp.detect(photos / "kerns_dummy/obama_backstage_the_white_house.jpg")) == 1


def test_unknown_detector_names_the_available_ones():
    with pytest.raises(errors.UnknownBackend) as info:
        FaceProof(detector="mtcnn")
    assert "yunet" in str(info.value) and "dlib" in str(info.value)


def _face(x1, score):
    return Face(bbox=BBox(x1, 0, x1 + 10, 10), score=score)


def test_nms_keeps_the_best_of_overlapping_boxes_and_sort_is_left_to_right():
    faces = [_face(20, 0.7), _face(21, 0.9), _face(0, 0.8)]
    kept = sort_faces(nms(faces, 0.4))
    assert [(f.bbox.x1, f.score) for f in kept] == [(0, 0.8), (21, 0.9)]
