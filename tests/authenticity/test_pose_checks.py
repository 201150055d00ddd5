"""Pose checks of the challenge on real photos: tilts made exactly by rotating the photo,
turns from a turned portrait and its mirror image; the real detector."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceproof.authenticity.attacks import rotate_full
from faceproof.authenticity.challenge import Instruction, check_pose, upright_landmarks
from faceproof.errors import InvalidArgument
from faceproof.types import BBox, Face

PORTRAITS = ["pytopenface/obama1.jpg", "pytopenface/chirac1.jpg", "bsplus/paul.jpg"]


def _main(faces: list[Face]) -> Face:
    assert faces
    return max(faces, key=lambda f: f.bbox.area)


@pytest.mark.parametrize("rel", PORTRAITS)
def test_tilts_by_rotating_real_photos(fp, photos: Path, rel: str) -> None:
    image = fp.load_image(photos / rel)
    # + counter-clockwise in the image = the head tilted to the member's right shoulder
    for degrees, passes in (
        (25, {Instruction.TILT_RIGHT}),
        (-25, {Instruction.TILT_LEFT}),
        (0, set()),
    ):
        rotated = rotate_full(image, degrees)
        face = _main(fp.detect(rotated))
        landmarks = upright_landmarks(rotated, face, fp.detector)
        for ins in (Instruction.TILT_LEFT, Instruction.TILT_RIGHT):
            result = check_pose(ins, landmarks)
            assert result.passed == (ins in passes), (rel, degrees, result)
        if degrees:
            assert not check_pose(Instruction.LOOK_STRAIGHT, landmarks).passed, (rel, degrees)


def test_turns_on_a_turned_portrait_and_its_mirror(fp, photos: Path) -> None:
    """chirac4: the nose points to the image's right, i.e. he turned to his own left."""
    image = fp.load_image(photos / "pytopenface/chirac4.jpg")
    face = _main(fp.detect(image))
    assert check_pose(Instruction.TURN_LEFT, face).passed
    assert not check_pose(Instruction.TURN_RIGHT, face).passed
    assert not check_pose(Instruction.LOOK_STRAIGHT, face).passed
    mirror = np.ascontiguousarray(image[:, ::-1])
    mface = _main(fp.detect(mirror))
    assert check_pose(Instruction.TURN_RIGHT, mface).passed
    assert not check_pose(Instruction.TURN_LEFT, mface).passed
    # a client that sends the mirrored preview says so
    assert check_pose(Instruction.TURN_LEFT, mface, mirrored=True).passed
    assert check_pose("turn_left", face).to_dict()["passed"] is True


def test_a_frontal_portrait_passes_only_look_straight(fp, photos: Path) -> None:
    image = fp.load_image(photos / "pytopenface/obama1.jpg")
    face = _main(fp.detect(image))
    passed = {ins for ins in Instruction if check_pose(ins, face).passed}
    assert passed == {Instruction.LOOK_STRAIGHT}


def test_bad_arguments() -> None:
    with pytest.raises(InvalidArgument):
        check_pose("smile", np.zeros((5, 2)))
    with pytest.raises(InvalidArgument):
        check_pose(Instruction.TURN_LEFT, Face(bbox=BBox(0, 0, 1, 1), score=1.0))
