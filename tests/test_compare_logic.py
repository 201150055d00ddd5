"""faceproof.runtime.compare on hand-made numbers (no model, no photo): written to kill the mutants
mutmut left alive in compare.py (docs/mutation-testing.md lists them and the ones that
are equivalent)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from faceproof import errors
from faceproof.runtime.compare import (
    Metric,
    Threshold,
    ThresholdTable,
    distance_matrix,
    embeddings_of,
    similarity_matrix,
)

# ------------------------------------------------------------------ embeddings_of


def _face(embedding, raw=None):
    return SimpleNamespace(embedding=embedding, raw_embedding=raw)


def test_embeddings_of_stacks_the_normalised_or_the_raw_embeddings_as_float32():
    faces = [_face(np.array([0.6, 0.8]), np.array([3.0, 4.0])), _face(np.array([1.0, 0.0]), np.array([2.0, 0.0]))]
    unit = embeddings_of(faces)
    assert unit.dtype == np.float32 and np.array_equal(unit, np.array([[0.6, 0.8], [1.0, 0.0]], np.float32))
    raw = embeddings_of(faces, raw=True)
    assert raw.dtype == np.float32 and np.array_equal(raw, [[3.0, 4.0], [2.0, 0.0]])


def test_embeddings_of_no_faces_is_an_empty_float32_matrix():
    empty = embeddings_of([])
    assert empty.shape == (0, 0) and empty.dtype == np.float32


def test_embeddings_of_a_face_without_an_embedding_is_an_invalid_argument():
    with pytest.raises(errors.InvalidArgument, match="must be embedded"):
        embeddings_of([_face(np.ones(2)), _face(None)])
    with pytest.raises(errors.InvalidArgument, match="must be embedded"):
        embeddings_of([_face(np.ones(2), None)], raw=True)


# ------------------------------------------------------------------ similarity_matrix


def test_similarity_is_float32_and_clipped_to_the_cosine_range():
    a = np.array([[2.0, 0.0], [0.5, 0.0]])  # not unit rows: the product leaves [-1, 1]
    b = np.array([[2.0, 0.0], [-2.0, 0.0]])
    sim = similarity_matrix(a, b)
    assert sim.dtype == np.float32
    assert np.array_equal(sim, np.array([[1.0, -1.0], [1.0, -1.0]], np.float32))


def test_similarity_of_one_dimensional_embeddings_is_not_mistaken_for_empty():
    assert np.array_equal(similarity_matrix(np.array([[0.5]]), np.array([[0.5]])), [[0.25]])
    assert similarity_matrix(np.array([[0.5]]), np.array([[0.5]])).dtype == np.float32


def test_similarity_with_no_faces_on_either_side_is_an_empty_float32_matrix():
    for a, b, shape in [(np.zeros((0, 0)), np.ones((3, 4)), (0, 3)), (np.ones((2, 4)), np.zeros((0, 0)), (2, 0))]:
        sim = similarity_matrix(a, b)
        assert sim.shape == shape and sim.dtype == np.float32


# ------------------------------------------------------------------ distance_matrix


@pytest.mark.parametrize("metric", list(Metric))
def test_distances_are_float32_for_every_metric(metric):
    d = distance_matrix(np.array([[1.0, 2.0, 2.0]]), np.array([[2.0, 1.0, 2.0], [0.0, 0.0, 3.0]]), metric)
    assert d.dtype == np.float32 and d.shape == (1, 2)


@pytest.mark.parametrize("metric", list(Metric))
def test_no_faces_on_one_side_gives_an_empty_float32_matrix_whatever_the_width(metric):
    # embeddings_of([]) is (0, 0): its width does not match the other side's, and must not matter
    for a, b, shape in [(np.zeros((0, 0)), np.ones((3, 128)), (0, 3)), (np.ones((2, 128)), np.zeros((0, 0)), (2, 0))]:
        d = distance_matrix(a, b, metric)
        assert d.shape == shape and d.dtype == np.float32


def test_euclidean_of_small_and_one_dimensional_embeddings():
    assert np.allclose(distance_matrix(np.array([[3.0]]), np.array([[0.0]]), "euclidean"), [[3.0]])
    assert np.allclose(distance_matrix(np.array([[0.0]]), np.array([[3.0]]), "euclidean"), [[3.0]])
    assert np.allclose(distance_matrix(np.array([[0.5, 0.0]]), np.array([[0.0, 0.0]]), "euclidean"), [[0.5]])


def test_euclidean_of_uint8_rows_does_not_overflow():
    a = np.array([[200, 0]], np.uint8)
    b = np.array([[0, 0]], np.uint8)
    assert np.allclose(distance_matrix(a, b, "euclidean"), [[200.0]])
    assert np.allclose(distance_matrix(b, a, "euclidean"), [[200.0]])


def test_cosine_normalises_each_row_by_its_own_norm():
    # 2 rows of width 3 (no accidental broadcasting), norms 0.5, 10 and 1, 3: all far from 1
    a = np.array([[0.3, 0.4, 0.0], [0.0, 0.0, 10.0]])
    b = np.array([[0.6, 0.8, 0.0], [0.0, 3.0, 0.0]])
    expected_cos = np.array([[1.0, 0.8], [0.0, 0.0]])
    assert np.allclose(distance_matrix(a, b, "cosine"), 1.0 - expected_cos, atol=1e-6)
    assert np.allclose(distance_matrix(b, a, "cosine"), (1.0 - expected_cos).T, atol=1e-6)
    assert np.allclose(distance_matrix(a, b, "euclidean_l2"), np.sqrt(2.0 - 2.0 * expected_cos), atol=1e-6)


def test_a_vector_is_at_distance_exactly_zero_from_itself():
    # [1, 1, 1] normalised has a float64 self-product of 1.0000000000000002; unclipped,
    # the cosine distance would come out as -2.2e-16
    x = np.array([[1.0, 1.0, 1.0]])
    assert distance_matrix(x, x, "cosine")[0, 0] == 0.0
    assert distance_matrix(x, x, "euclidean_l2")[0, 0] == 0.0


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (np.ones((2, 4)), np.ones(4)),  # b is one embedding, not a matrix of them
        (np.ones(4), np.ones((2, 4))),
        (np.ones((2, 4)), np.ones((2, 5))),
        (np.ones((1, 2, 4)), np.ones((2, 4))),
    ],
)
def test_mismatched_embedding_shapes_are_invalid_arguments(a, b):
    with pytest.raises(errors.InvalidArgument, match="embedding shapes do not match"):
        distance_matrix(a, b, "cosine")


# ------------------------------------------------------------------ metrics and thresholds


def test_an_unknown_metric_names_the_known_ones():
    with pytest.raises(errors.InvalidArgument, match=r"use one of: cosine, euclidean, euclidean_l2$"):
        Metric.parse("manhattan")


def test_a_bad_threshold_says_what_was_wrong():
    with pytest.raises(errors.InvalidArgument, match=r"finite number >= 0, got -1\.0"):
        Threshold(-1.0, "x")
    table = ThresholdTable.builtin()
    with pytest.raises(errors.InvalidArgument, match="not a boolean"):
        table.resolve("sface", "cosine", True)
    with pytest.raises(errors.InvalidArgument, match="must be a number, got 'abc'"):
        table.resolve("sface", "cosine", "abc")
    with pytest.raises(errors.InvalidArgument, match="no threshold known for model 'nope' with metric 'cosine'"):
        table.get("nope", "cosine")


def test_the_built_in_table_is_named_and_a_loaded_table_keeps_its_name():
    assert ThresholdTable.builtin().name == "built-in"
    assert ThresholdTable.from_json({"thresholds": {}}, name="calib.json").name == "calib.json"


def test_a_document_without_thresholds_is_an_empty_table():
    table = ThresholdTable.from_json({}, name="empty")
    assert table.entries == {} and table.name == "empty"


@pytest.mark.parametrize(
    ("filed", "flip", "said", "use"),
    [("sface", False, "flip off", "'sface/noflip'"), ("sface/noflip", True, "flip on", "'sface'")],
)
def test_a_misfiled_flip_variant_names_the_right_key(filed, flip, said, use):
    doc = {"thresholds": {filed: {"cosine": {"value": 0.6, "source": "x", "flip": flip}}}}
    with pytest.raises(errors.InvalidArgument) as info:
        ThresholdTable.from_json(doc, name="t")
    message = str(info.value)
    assert f"calibrated with {said} but is filed under {filed!r}; use {use}" in message


def test_merged_tables_take_the_other_tables_entries_and_say_so():
    base = ThresholdTable.from_json(
        {"thresholds": {"sface": {"cosine": {"value": 0.5, "source": "a"}, "euclidean": {"value": 9, "source": "a"}}}},
        name="base",
    )
    over = ThresholdTable.from_json({"thresholds": {"sface": {"cosine": {"value": 0.7, "source": "b"}}}}, name="calib")
    merged = base.merged(over)
    assert merged.name == "calib over base"
    assert merged.get("sface", "cosine") == Threshold(0.7, "b")
    assert merged.get("sface", "euclidean") == Threshold(9.0, "a")


def test_to_dict_round_trips_sorted_by_model_then_metric():
    doc = {
        "thresholds": {
            "sface": {"euclidean_l2": {"value": 1.0, "source": "s"}, "cosine": {"value": 0.5, "source": "s"}},
            "dlib": {"cosine": {"value": 0.07, "source": "d"}},
        }
    }
    out = ThresholdTable.from_json(doc, name="t").to_dict()
    assert out == {
        "dlib": {"cosine": {"value": 0.07, "source": "d"}},
        "sface": {"cosine": {"value": 0.5, "source": "s"}, "euclidean_l2": {"value": 1.0, "source": "s"}},
    }
    assert list(out) == ["dlib", "sface"] and list(out["sface"]) == ["cosine", "euclidean_l2"]
    assert ThresholdTable.from_json({"thresholds": out}, name="again").to_dict() == out
