"""The verification cascade (PipelineConfig(cascade=True)): the same verdicts as always-
flip, pairs near the threshold decided with flip embeddings identical to always-flip's,
the others without the mirrored pass; configuration checks. Real model, real photos."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from faceproof import FaceProof, InvalidArgument, Pipeline, PipelineConfig
from faceproof.runtime.cascade import CascadeMargins

pytestmark = pytest.mark.testdata

PAIRS = [
    ("pytopenface/obama1.jpg", "pytopenface/obama2.jpg"),
    ("pytopenface/chirac1.jpg", "pytopenface/chirac2.jpg"),
    ("pytopenface/obama1.jpg", "pytopenface/chirac1.jpg"),
    ("kerns_dummy/obama_fatherhood_townhall.jpg", "pytopenface/obama2.jpg"),
]


@pytest.fixture(scope="module")
def both():
    flip = FaceProof(attributes=(), cascade=False)
    cascade = FaceProof(pipeline=Pipeline(PipelineConfig(attributes=(), cascade=True)), lang=flip.lang)
    return flip, cascade


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_cascade_verdicts_equal_always_flip(both, photos, a, b):
    flip, cascade = both
    r1, r2 = flip.verify(photos / a, photos / b), cascade.verify(photos / a, photos / b)
    assert r2.code is r1.code and r2.threshold == r1.threshold
    assert r2.matches.tolist() == r1.matches.tolist()
    assert r2.stages is not None and r2.stages.shape == r1.distances.shape
    stage2 = r2.stages == 2
    # pairs sent to stage 2 get exactly the always-flip distance
    assert np.allclose(r2.distances[stage2], r1.distances[stage2], atol=1e-6)
    # stage-1 pairs are farther than the margin from the no-flip threshold
    plan = cascade.pipeline.cascade_plan(cascade.metric, None)
    assert plan is not None
    t0, _, margin = plan
    assert np.all(np.abs(r2.distances[~stage2] - t0) > margin)
    assert "stages" in r2.to_report()
    assert ("cascade:" in " ".join(r2.notes)) == bool(stage2.any())  # a note only when the flip stage ran


def test_clear_pairs_skip_the_mirrored_pass(both, photos):
    _, cascade = both
    calls = []
    recognizer = cascade.recognizer
    original = recognizer.forward

    def counting(chips, *, mirrored=False):
        calls.append((len(chips), mirrored))
        return original(chips, mirrored=mirrored)

    recognizer.forward = counting  # type: ignore[method-assign]
    try:
        r = cascade.verify(photos / "pytopenface/obama1.jpg", photos / "pytopenface/chirac1.jpg")
    finally:
        del recognizer.forward
    assert r.code.value == 0 and (r.stages == 1).all()
    assert calls == [(1, False), (1, False)]  # one plain pass per face, no mirrored pass


def test_cascade_needs_flip_and_a_two_pass_recognizer():
    with pytest.raises(InvalidArgument, match="flip"):
        PipelineConfig(cascade=True, flip=False)


def test_a_callers_threshold_or_raw_euclidean_bypasses_the_cascade(both):
    _, cascade = both
    assert cascade.pipeline.cascade_plan(cascade.metric, 0.5) is None
    from faceproof.runtime.compare import Metric

    assert cascade.pipeline.cascade_plan(Metric.EUCLIDEAN, None) is None
    assert cascade.pipeline.cascade_plan(Metric.EUCLIDEAN_L2, None) is not None


def test_shipped_margins_cover_the_threshold_gap():
    margins = CascadeMargins.builtin()
    for metric in ("cosine", "euclidean_l2"):
        t0 = Pipeline(PipelineConfig(attributes=(), flip=False, metric=metric)).default_threshold.value
        t1 = Pipeline(PipelineConfig(attributes=(), metric=metric)).default_threshold.value
        assert margins.margins[metric] >= abs(t1 - t0)
    assert "calibrated on" in margins.source


def test_all_pairs_of_four_photos_agree(both, photos):
    flip, cascade = both
    names = ["pytopenface/obama1.jpg", "pytopenface/obama2.jpg", "pytopenface/chirac1.jpg", "pytopenface/chirac2.jpg"]
    for a, b in itertools.combinations(names, 2):
        assert cascade.verify(photos / a, photos / b).code is flip.verify(photos / a, photos / b).code


def test_stage_two_reproduces_always_flip_exactly(both, photos):
    """With a margin that sends every pair to stage 2, the cascade's distances are the
    always-flip ones; with a margin of |t1 - t0| no pair of these photos reaches it."""
    from faceproof.runtime.cascade import cascade_compare, embed_plain

    flip, cascade = both
    a, b = photos / "kerns_dummy/obama_fatherhood_townhall.jpg", photos / "pytopenface/obama2.jpg"
    pipe = cascade.pipeline
    sides = []
    for path in (a, b):
        image = pipe.load_image(path)
        sides.append(embed_plain(pipe.recognizer, image, pipe.detect(image)[0]))
    t0, t1, _ = pipe.cascade_plan(cascade.metric, None)
    everything = cascade_compare(pipe.recognizer, sides[0], sides[1], cascade.metric, t0, t1, 2.0)
    reference = flip.verify(a, b)
    assert (everything.stages == 2).all()
    assert np.array_equal(everything.distances, reference.distances)
    assert np.array_equal(everything.similarity, reference.similarity)
    assert everything.refined == (len(sides[0].faces), len(sides[1].faces))
    nothing = cascade_compare(pipe.recognizer, sides[0], sides[1], cascade.metric, t0, t1, abs(t1 - t0))
    assert nothing.refined[0] <= everything.refined[0] and (nothing.matches == reference.matches).all()


def test_the_cascade_is_the_default_where_it_can_run():
    assert PipelineConfig().cascade is None
    assert Pipeline(PipelineConfig(attributes=())).cascade_margins is not None  # SFace with flip
    assert Pipeline(PipelineConfig(attributes=(), flip=False)).cascade_margins is None  # no-flip: nothing to skip
    assert Pipeline(PipelineConfig(attributes=(), cascade=False)).cascade_margins is None  # always-flip on request
    assert FaceProof(attributes=(), flip=False).describe()["cascade"] is False
