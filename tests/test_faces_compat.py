"""get_faces() crops and the seed's FaceDSProject facade."""

from __future__ import annotations

import numpy as np
import pytest

import faceproof
from faceproof import errors
from faceproof.compat import FaceDSProject


def test_get_faces_returns_aligned_padded_224_crops_left_to_right(fp, photos):
    crops = fp.get_faces(photos / "kerns_dummy/2008_olympics_familymwr.jpg")
    assert len(crops) == 3
    xs = [c.face.bbox.center[0] for c in crops]
    assert xs == sorted(xs)
    for crop in crops:
        assert crop.image.shape == (224, 224, 3) and crop.image.dtype == np.uint8
        # the crop is a face: detecting in it finds one face near the centre
        (again,) = fp.detect(crop.image)
        cx, cy = again.bbox.center
        assert abs(cx - 112) < 25 and abs(cy - 112) < 35


def test_get_faces_size_and_padding(fp, photos):
    (crop,) = fp.get_faces(photos / "pytopenface/obama2.jpg", size=160, padding=0.0)
    assert crop.image.shape == (160, 160, 3)
    assert fp.get_faces(photos / "skimage/coffee.png") == []
    with pytest.raises(errors.InvalidArgument):
        fp.get_faces(photos / "pytopenface/obama2.jpg", size=4)


def test_crop_at_the_image_edge_is_padded_black(fp, photos):
    from faceproof.runtime.io import load_image

    image = load_image(photos / "pytopenface/obama2.jpg")
    (face,) = fp.detect(image)
    x1 = int(face.bbox.x1 + face.bbox.width * 0.3)
    cut = np.ascontiguousarray(image[:, x1:])  # the face's left part is outside the photo
    (crop,) = fp.get_faces(cut)
    assert (crop.image[:, :20] == 0).all()


def test_seed_readme_example_runs_unchanged(photos):
    project = FaceDSProject()
    image_path1 = str(photos / "pytopenface/obama1.jpg")
    image_path3 = np.asarray(faceproof.load_image(photos / "kerns_dummy/obama_fatherhood_townhall.jpg"))
    face_list = project.get_faces(image_path1)
    assert len(face_list) == 1 and face_list[0].shape == (224, 224, 3)
    verification_results = project.verify(image_path1, image_path3, threshold=0.664)
    assert verification_results["result_code"] == 2
    assert verification_results["result_message"] == "동일인이 존재합니다."
    assert np.array(verification_results["result_list"]).shape == (1, 2)
    distinction_results = project.distinguish(image_path1)
    assert distinction_results["result_code"] == 0
    assert distinction_results["result_list"][0]["dominant_gender"] == "Man"
    assert project.verify(image_path1, str(photos / "no_such.jpg")) == {
        "result_message": "대상 이미지를 읽어올 수 없습니다.",
        "result_code": -21,
    }
    assert project.distinguish(str(photos / "no_such.jpg"))["result_code"] == -11


@pytest.mark.parametrize("name", ["vggface", "VGG-Face", "Facenet512", "ArcFace", "OpenFace"])
def test_seed_models_we_cannot_serve_offline_raise_naming_the_available_ones(name):
    with pytest.raises(errors.UnknownBackend) as info:
        FaceDSProject(min_detection_confidence=0.2, model_name=name, distance_metric="cosine")
    assert "sface" in str(info.value) and "dlib" in str(info.value)


@pytest.mark.parametrize("name", ["SFace", "sface", "Dlib"])
def test_served_model_names(name):
    assert FaceDSProject(model_name=name).model_name in {"sface", "dlib"}


def test_module_level_functions(photos):
    r = faceproof.verify(photos / "pytopenface/obama1.jpg", photos / "pytopenface/obama2.jpg", attributes=())
    assert r.verdict is True
    assert faceproof.distinguish(photos / "pytopenface/obama1.jpg").ok
    assert len(faceproof.get_faces(photos / "pytopenface/obama1.jpg", attributes=())) == 1
