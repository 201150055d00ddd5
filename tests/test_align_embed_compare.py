"""Alignment math, embeddings from the real models, distances and thresholds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from faceproof import FaceProof, errors
from faceproof.runtime.align import ARCFACE_TEMPLATE_112, estimate_similarity, norm_crop, padded_crop, template_for
from faceproof.runtime.compare import Metric, Threshold, ThresholdTable, distance_matrix, similarity_matrix
from faceproof.runtime.embed import l2_normalize
from faceproof.runtime.io import load_image

# ------------------------------------------------------------------ alignment


@pytest.mark.parametrize(("angle", "scale", "tx", "ty"), [(0, 1, 0, 0), (30, 2.5, 10, -4), (-75, 0.4, -100, 55)])
def test_similarity_estimate_recovers_a_known_transform(angle, scale, tx, ty):
    a = math.radians(angle)
    m = np.array([[scale * math.cos(a), -scale * math.sin(a), tx], [scale * math.sin(a), scale * math.cos(a), ty]])
    src = ARCFACE_TEMPLATE_112.astype(np.float64)
    dst = src @ m[:, :2].T + m[:, 2]
    assert np.allclose(estimate_similarity(src, dst), m, atol=1e-4)


def test_similarity_estimate_rejects_degenerate_points():
    with pytest.raises(errors.InvalidArgument):
        estimate_similarity(np.ones((5, 2)), ARCFACE_TEMPLATE_112)


def test_template_scales_with_size_and_padding():
    assert np.allclose(template_for(112), ARCFACE_TEMPLATE_112)
    t = template_for(224, 0.25)
    assert np.allclose(t, ARCFACE_TEMPLATE_112 / 112 * 112 + 56)
    with pytest.raises(errors.InvalidArgument):
        template_for(224, 0.6)


def test_aligned_chip_puts_the_eyes_on_the_template(fp, photos):
    image = load_image(photos / "pytopenface/chirac2.jpg")
    (face,) = fp.detect(image)
    chip = norm_crop(image, face.landmarks)
    assert chip.shape == (112, 112, 3) and chip.dtype == np.uint8
    # detecting again on the 4x upscaled chip finds the eyes where the template puts them
    from PIL import Image

    big = np.asarray(Image.fromarray(chip).resize((448, 448), Image.Resampling.BICUBIC))
    (again,) = fp.detect(big)
    assert np.abs(again.landmarks[:2] / 4 - ARCFACE_TEMPLATE_112[:2]).max() < 4.0
    crop = padded_crop(image, face.landmarks, 224, 0.2)
    assert crop.shape == (224, 224, 3)


# ------------------------------------------------------------------ embeddings (real models)


@pytest.mark.parametrize("model", ["sface", "dlib"])
def test_embeddings_are_unit_128d_and_separate_people(model, photos):
    fp = FaceProof(model=model, attributes=())
    obama_a = fp.represent(photos / "pytopenface/obama1.jpg")[0]
    obama_b = fp.represent(photos / "pytopenface/obama3.jpg")[0]
    chirac = fp.represent(photos / "pytopenface/chirac2.jpg")[0]
    for f in (obama_a, obama_b, chirac):
        assert f.embedding.dtype == np.float32 and f.embedding.shape == (128,)
        assert abs(float(np.linalg.norm(f.embedding)) - 1) < 1e-4
        assert f.model == model and f.embedding_norm and f.embedding_norm > 0
    same = float(obama_a.embedding @ obama_b.embedding)
    diff = float(obama_a.embedding @ chirac.embedding)
    assert same > diff + 0.05


@pytest.mark.parametrize("model", ["sface", "dlib"])
def test_flip_augmentation_keeps_the_raw_scale(photos, model):
    plain = FaceProof(model=model, attributes=(), flip=False).represent(photos / "pytopenface/obama1.jpg")[0]
    flipped = FaceProof(model=model, attributes=(), flip=True).represent(photos / "pytopenface/obama1.jpg")[0]
    assert 0.7 < flipped.embedding_norm / plain.embedding_norm < 1.05
    assert 0.9 < float(plain.embedding @ flipped.embedding) < 0.99999  # close, but really averaged


def test_flip_is_the_default():
    assert FaceProof(attributes=()).recognizer.flip is True
    assert FaceProof(model="dlib", attributes=()).recognizer.flip is True
    assert FaceProof(attributes=(), flip=False).recognizer.flip is False


def test_l2_normalize_handles_zero_rows():
    unit, norms = l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert np.allclose(unit[0], [0.6, 0.8]) and np.allclose(unit[1], 0) and np.allclose(norms, [5, 0])


# ------------------------------------------------------------------ distances


def test_distances_against_hand_computed_values():
    a = np.array([[1.0, 0.0], [0.0, 2.0]])
    b = np.array([[3.0, 4.0]])
    # cos(a0,b)=0.6, cos(a1,b)=0.8
    assert np.allclose(distance_matrix(a, b, "cosine"), [[0.4], [0.2]], atol=1e-6)
    assert np.allclose(distance_matrix(a, b, "euclidean_l2"), [[math.sqrt(0.8)], [math.sqrt(0.4)]], atol=1e-6)
    assert np.allclose(distance_matrix(a, b, "euclidean"), [[math.sqrt(20)], [math.sqrt(13)]], atol=1e-5)
    unit_a = a / np.linalg.norm(a, axis=1, keepdims=True)
    unit_b = b / np.linalg.norm(b, axis=1, keepdims=True)
    assert np.allclose(similarity_matrix(unit_a, unit_b), [[0.6], [0.8]], atol=1e-6)


def test_empty_inputs_give_well_shaped_empty_matrices():
    assert distance_matrix(np.zeros((0, 4)), np.ones((3, 4)), "cosine").shape == (0, 3)
    assert similarity_matrix(np.ones((2, 4)), np.zeros((0, 4))).shape == (2, 0)


@pytest.mark.parametrize("name", ["cosine", "COSINE", "euclidean", "euclidean_l2", "euclidean-l2"])
def test_metric_names_parse(name):
    assert Metric.parse(name) in set(Metric)


def test_unknown_metric_is_an_invalid_argument():
    with pytest.raises(errors.InvalidArgument):
        Metric.parse("manhattan")


def test_threshold_table_has_every_model_and_metric_with_a_source():
    table = ThresholdTable.builtin()
    for model in ("sface", "dlib"):
        for metric in Metric:
            thr = table.get(model, metric)
            assert thr.value > 0 and thr.source


@pytest.mark.parametrize(
    ("given", "expected_value", "expected_source"),
    [(None, "table", "table"), (0.0, 0.0, "caller"), (0.5, 0.5, "caller"), (1, 1.0, "caller")],
)
def test_threshold_none_uses_the_table_and_zero_is_a_real_threshold(given, expected_value, expected_source):
    table = ThresholdTable.builtin()
    thr = table.resolve("sface", "cosine", given)
    if expected_value == "table":
        assert thr == table.get("sface", "cosine")
    else:
        assert thr.value == expected_value and thr.source == expected_source


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "abc", True])
def test_bad_thresholds_are_invalid_arguments(bad):
    with pytest.raises(errors.InvalidArgument):
        ThresholdTable.builtin().resolve("sface", "cosine", bad)


def test_threshold_object_validates():
    with pytest.raises(errors.InvalidArgument):
        Threshold(-1.0, "x")


@pytest.mark.parametrize(
    ("model", "flip", "key"), [("sface", True, "sface"), ("sface", False, "sface/noflip"), ("dlib", None, "dlib")]
)
def test_threshold_key_separates_the_flip_variants(model, flip, key):
    from faceproof.runtime.compare import threshold_key

    assert threshold_key(model, flip) == key


@pytest.mark.parametrize("flip", [True, False])
def test_each_flip_variant_uses_its_own_calibrated_thresholds(flip):
    fp = FaceProof(attributes=(), flip=flip)
    table = ThresholdTable.builtin()
    for metric in Metric:
        assert fp.threshold_for(metric) == table.get("sface" if flip else "sface/noflip", metric)
        assert ("flip on" if flip else "flip off") in fp.threshold_for(metric).source
    # raw euclidean distances change scale with flip, so the two thresholds differ
    assert FaceProof(attributes=()).threshold_for("euclidean") != FaceProof(attributes=(), flip=False).threshold_for(
        "euclidean"
    )


def test_an_entry_filed_under_the_wrong_flip_variant_is_refused():
    doc = {"thresholds": {"sface": {"cosine": {"value": 0.6, "source": "x", "flip": False}}}}
    with pytest.raises(errors.InvalidArgument) as info:
        ThresholdTable.from_json(doc, name="test")
    assert "sface/noflip" in str(info.value)
    ok = {"thresholds": {"sface/noflip": {"cosine": {"value": 0.6, "source": "x", "flip": False}}}}
    assert ThresholdTable.from_json(ok, name="test").get("sface/noflip", "cosine").value == 0.6
