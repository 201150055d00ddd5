"""Open-set thresholds: the shipped impostor distribution and the FPIR arithmetic."""

from __future__ import annotations

import math

import numpy as np
import pytest

from faceproof.index import ModelId, fit_impostor_distribution, impostor_distribution
from faceproof.index.calibration import ImpostorDistribution

FAKE = ModelId("fake", "ef" * 32)


@pytest.fixture(scope="module")
def gaussian() -> ImpostorDistribution:
    scores = np.random.default_rng(0).normal(0.0, 0.1, 400_000)
    return fit_impostor_distribution(scores, FAKE, tail_fraction=1e-3, provenance={"summary": "N(0, 0.1)"})


def test_fpir_and_threshold_are_inverse(gaussian: ImpostorDistribution) -> None:
    for n in (1, 100, 10_000, 1_000_000):
        for f in (0.05, 0.01, 0.001):
            t = gaussian.threshold(f, n)
            assert gaussian.fpir(t, n) == pytest.approx(f, rel=1e-3)


def test_thresholds_rise_with_the_gallery(gaussian: ImpostorDistribution) -> None:
    ts = [gaussian.threshold(0.01, n) for n in (100, 10_000, 1_000_000, 100_000_000)]
    assert ts == sorted(ts) and len(set(ts)) == 4
    assert gaussian.threshold(0.001, 10_000) > gaussian.threshold(0.01, 10_000)
    # one gallery of N is about N comparisons: FPIR ~ N * FAR while small
    t = gaussian.threshold(0.01, 10_000)
    assert gaussian.far(t) == pytest.approx(0.01 / 10_000, rel=0.01)


def test_empirical_part_matches_the_scores(gaussian: ImpostorDistribution) -> None:
    # FAR(0.2) of N(0, 0.1) is 2.28 %
    assert gaussian.far(0.2) == pytest.approx(0.02275, rel=0.03)
    assert gaussian.far(-1.0) >= gaussian.far(0.0) == pytest.approx(0.5, abs=0.01)
    assert gaussian.fpir(0.5, 0) == 0.0


def test_json_round_trip(gaussian: ImpostorDistribution) -> None:
    again = ImpostorDistribution.from_json(gaussian.to_json())
    assert again == gaussian
    assert again.threshold(0.01, 12345) == gaussian.threshold(0.01, 12345)


def test_too_few_scores_refused() -> None:
    with pytest.raises(ValueError):
        fit_impostor_distribution(np.zeros(100), FAKE)


def test_shipped_sface_distribution_is_found_and_sane() -> None:
    from faceproof import FaceProof

    model = ModelId.from_client(FaceProof())
    dist = impostor_distribution(model)
    assert dist is not None and dist.model == model
    assert dist.n_pairs > 500_000 and "command" in dist.provenance
    # at any gallery size the 1:N threshold is above the 1:1 one (similarity 1 - 0.641)
    assert dist.threshold(0.01, 1_000) > 1 - 0.641
    assert 0.4 < dist.threshold(0.01, 10_000) < dist.threshold(0.01, 1_000_000) < 0.9
    assert impostor_distribution(ModelId(model.name, "00" * 32)) is None  # other weights: none
    assert math.isfinite(dist.fpir(0.5, 1_000_000))
