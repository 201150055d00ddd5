"""The copy rule's face-crop condition and first look, on real photos.

Burst shots (two frames of one scene, seconds apart: same backdrop, same clothes) share
their surroundings as well as a copy does; the rule also asks the face-only crops to
agree. The pairs below are LFW View 1 *tune-split* people (docs/authenticity.md: the
rule was chosen on them) that the previous rule took for copies. Their copies, generated
here with every attack, must still be caught. Real detector throughout.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest

from faceproof.authenticity.attacks import ATTACKS, apply_attack
from faceproof.authenticity.copies import CopyThresholds, describe_face, find_copy, is_copy
from faceproof.errors import InvalidArgument
from faceproof.types import Face

#: (person, image a, image b): flagged by the previous rule (context correlation >= 0.80)
BURSTS = [("Tim_Conway", 1, 2), ("Alan_Ball", 1, 2), ("Paulo_Cesar_Pinheiro", 1, 2), ("Zhu_Rongji", 4, 5)]


def _main(faces: list[Face]) -> Face:
    assert faces, "no face found"
    return max(faces, key=lambda f: f.bbox.area)


def _lfw(fp, lfw: Path, person: str, n: int) -> tuple[np.ndarray, list[Face]]:
    image = fp.load_image(lfw / "images" / person / f"{person}_{n:04d}.jpg")
    return image, fp.detect(image)


@pytest.mark.parametrize(("person", "a", "b"), BURSTS)
def test_burst_shot_is_not_a_copy(fp, lfw: Path, person: str, a: int, b: int) -> None:
    ia, fa = _lfw(fp, lfw, person, a)
    ib, fb = _lfw(fp, lfw, person, b)
    before = find_copy(ia, [_main(fa)], [(ib, fb)], thresholds=CopyThresholds.previous())
    assert before.copied and before.best is not None  # the surroundings agree like a copy's
    after = find_copy(ia, [_main(fa)], [(ib, fb)])
    assert not after.copied, after.best
    best = after.best
    assert best is not None and best.correlation >= CopyThresholds().min_correlation
    assert best.face_correlation < CopyThresholds().min_face_correlation  # the face moved


@pytest.mark.parametrize(("person", "a", "b"), BURSTS[:2])
def test_copies_of_burst_photos_are_still_caught(fp, lfw: Path, person: str, a: int, b: int) -> None:
    image, faces = _lfw(fp, lfw, person, a)
    missed = []
    for attack in ATTACKS:
        seed = hashlib.sha1(f"{person}|{attack}".encode()).digest()[0]
        copy = apply_attack(attack, image, seed=seed, face=_main(faces).bbox)
        result = find_copy(copy, [_main(fp.detect(copy))], [(image, faces)])
        if not result.copied:
            missed.append((attack, result.best))
    assert missed == []


def test_copy_with_spoilt_surroundings_is_caught_by_the_face_crop(fp, lfw: Path) -> None:
    """Three edits in a row on a 150x150 LFW photo (tune source): the surroundings no
    longer line up (context correlation 0.57), the face does (0.97). The previous rule
    missed it."""
    rel = "lfw_view1/images/Ray_Allen/Ray_Allen_0003.jpg"
    image, faces = _lfw(fp, lfw, "Ray_Allen", 3)
    seed = int.from_bytes(hashlib.sha1(f"{rel}|combo|0".encode()).digest()[:4], "big")  # bench/copy_attacks.py's
    copy = apply_attack("combo", image, seed, _main(faces).bbox)
    selfie = [_main(fp.detect(copy))]
    assert not find_copy(copy, selfie, [(image, faces)], thresholds=CopyThresholds.previous()).copied
    result = find_copy(copy, selfie, [(image, faces)])
    assert result.copied and result.best is not None
    thr = CopyThresholds()
    assert thr.face_only_from <= result.best.correlation < thr.min_correlation
    assert result.best.face_correlation >= thr.min_face_only_correlation


def test_first_look_skips_registration_for_different_photos(fp, photos: Path) -> None:
    """An honest selfie against a different photo of the same person: no registration
    in an orientation whose first look is low; a copy is always registered."""
    selfie = fp.load_image(photos / "pytopenface/obama1.jpg")
    sface = _main(fp.detect(selfie))
    other = fp.load_image(photos / "pytopenface/obama4.jpg")
    honest = find_copy(selfie, [sface], [(other, fp.detect(other))])
    assert honest.best is not None and not honest.copied
    assert honest.best.registrations < 2
    every = find_copy(selfie, [sface], [(other, fp.detect(other))], thresholds=CopyThresholds.previous())
    assert every.best is not None and every.best.registrations >= 2
    copy = apply_attack("jpeg", selfie, seed=1, face=sface.bbox)
    caught = find_copy(copy, [_main(fp.detect(copy))], [(selfie, [sface])])
    assert caught.copied and caught.best is not None and caught.best.registrations >= 1


def test_unsure_first_look_needs_the_unregistered_correlation_too(fp, photos: Path) -> None:
    """obama1 against obama3 (licensed, one man, frontal, well lit): the first look
    (0.41) is above min_prefilter but below sure_prefilter and the unregistered
    correlation (0.23) below min_unsure_raw: not registered, no face-crop path (the
    first-look-only rule registered it, reached a context correlation of 0.57 and cut
    and registered the face crops too). Not a copy either way."""
    thr = CopyThresholds()
    selfie = fp.load_image(photos / "pytopenface/obama1.jpg")
    sface = _main(fp.detect(selfie))
    other = fp.load_image(photos / "pytopenface/obama3.jpg")
    ofaces = [_main(fp.detect(other))]
    now = find_copy(selfie, [sface], [(other, ofaces)])
    assert now.best is not None and not now.copied
    assert now.best.registrations == 0
    assert now.best.raw_correlation < thr.min_unsure_raw
    assert math.isnan(now.best.face_correlation)  # the face crops were never cut
    before = find_copy(selfie, [sface], [(other, ofaces)], thresholds=CopyThresholds(sure_prefilter=-1.0))
    assert before.best is not None and not before.copied
    assert before.best.registrations >= 1
    # the copy of that photo is still registered and caught (its first look is high)
    copy = apply_attack("mirror_half_q60", other, seed=3, face=ofaces[0].bbox)
    caught = find_copy(copy, [_main(fp.detect(copy))], [(other, ofaces)])
    assert caught.copied and caught.best is not None and caught.best.registrations >= 1


def test_registration_gate_table() -> None:
    """Which comparisons are registered (logic only: the first look's value is given;
    ``gated``: the straight orientation of the context crop)."""
    from faceproof.authenticity.copies import _worth_registering

    thr = CopyThresholds()
    gate = _worth_registering
    assert not gate(thr, 0.90, lambda: 0.29, gated=True)  # first look below min_prefilter
    assert not gate(thr, 0.90, lambda: 0.29, gated=False)
    assert gate(thr, 0.00, lambda: 0.45, gated=True)  # a sure first look
    assert not gate(thr, 0.24, lambda: 0.41, gated=True)  # unsure, and the raw correlation low
    assert gate(thr, 0.24, lambda: 0.41, gated=False)  # mirrored or face-only: the first look alone
    assert gate(thr, 0.25, lambda: 0.31, gated=True)  # unsure, the raw correlation agrees
    assert gate(CopyThresholds(sure_prefilter=-1.0), 0.0, lambda: 0.31, gated=True)  # the first look alone
    assert gate(CopyThresholds.previous(), -0.5, lambda: -0.5, gated=True)  # no first look: every one


def test_face_crop_is_cut_on_demand(fp, photos: Path) -> None:
    image = fp.load_image(photos / "pytopenface/obama1.jpg")
    face = _main(fp.detect(image))
    lazy = describe_face(image, face)
    assert lazy._face is None  # not cut until asked for
    crop = lazy.face
    assert lazy._image is None  # the pixels are dropped once cut
    again = describe_face(image, face).face
    assert np.array_equal(crop.crop, again.crop) and np.array_equal(crop.mask, again.mask)


def test_rule_table() -> None:
    thr = CopyThresholds()
    nan = math.nan
    assert is_copy(0.95, 0.95, "context", thr)
    assert not is_copy(0.95, 0.60, "context", thr)  # a burst shot
    assert is_copy(0.95, nan, "context", thr)  # face crop not measurable: no veto
    assert is_copy(0.60, 0.95, "context", thr)  # surroundings spoilt, face a copy
    assert not is_copy(0.45, 0.95, "context", thr)
    assert not is_copy(0.70, 0.85, "context", thr)
    assert is_copy(0.85, nan, "face", thr) and not is_copy(0.75, nan, "face", thr)
    assert not is_copy(nan, 0.99, "context", thr)
    prev = CopyThresholds.previous()
    assert is_copy(0.85, 0.30, "context", prev) and not is_copy(0.70, 0.99, "context", prev)
    assert CopyThresholds(**thr.to_dict()) == thr
    with pytest.raises(InvalidArgument):
        CopyThresholds(min_prefilter=1.5)
