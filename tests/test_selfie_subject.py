"""The selfie's subject is its dominant face; when that face cannot be used the check is
impossible, never made on a bystander (issue 14). Selfies composited from real photos:
a side view (CFP) in front with a frontal face behind, a small background face, and two
faces of equal size."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceproof import FaceProof, SelfieStatus, Verdict
from faceproof.decision.subject import selfie_subject

pytestmark = pytest.mark.testdata

TURNED = "cfp_dev/images/006/profile/01.jpg"  # yaw about -67 degrees: pose_too_extreme
OBAMA = "photos/pytopenface/obama1.jpg"
OBAMA_2 = "photos/pytopenface/obama2.jpg"
CHIRAC = "photos/pytopenface/chirac1.jpg"


@pytest.fixture(scope="module")
def client() -> FaceProof:
    return FaceProof(attributes=())


def _head(fp: FaceProof, path, margin: float = 0.6) -> np.ndarray:
    """The region around the one face of a photo (margin: share of the box added on each side)."""
    image = fp.load_image(path)
    (face,) = fp.detect(image)
    b = face.bbox
    w, h = b.x2 - b.x1, b.y2 - b.y1
    x1, y1 = max(0, int(b.x1 - margin * w)), max(0, int(b.y1 - margin * h))
    x2, y2 = min(image.shape[1], int(b.x2 + margin * w)), min(image.shape[0], int(b.y2 + margin * h))
    return np.ascontiguousarray(image[y1:y2, x1:x2])


def _compose(front: np.ndarray, front_h: int, back: np.ndarray, back_h: int) -> np.ndarray:
    """A 640 x 480 'selfie': ``front`` on the left at height ``front_h``, ``back`` at the
    top right at height ``back_h``, on a grey background."""
    canvas = np.full((480, 640, 3), 110, np.uint8)

    def put(img: np.ndarray, height: int, x: int, y: int) -> None:
        width = round(img.shape[1] * height / img.shape[0])
        small = cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)
        h, w = min(height, 480 - y), min(width, 640 - x)
        canvas[y : y + h, x : x + w] = small[:h, :w]

    put(back, back_h, 640 - round(back.shape[1] * back_h / back.shape[0]) - 10, 10)
    put(front, front_h, 10, 480 - front_h - 10)
    return canvas


def test_a_turned_subject_is_not_replaced_by_the_frontal_face_behind(client, photos):
    turned = client.load_image(photos.parent / TURNED)
    selfie = _compose(turned, 440, _head(client, photos.parent / OBAMA), 230)
    faces = client.assess(selfie)
    assert len(faces) == 2, "the composite shows the subject and the bystander"
    subject, _ = selfie_subject(faces, 0.5)
    assert subject.quality is not None and not subject.quality.usable  # the side view, in front
    r = client.check_profile(selfie, [photos.parent / OBAMA_2])
    # the old rule checked the bystander (a usable face) and verified Obama's profile
    assert r.selfie.status is SelfieStatus.POSE_TOO_EXTREME and r.selfie.face is None
    assert r.verdict is Verdict.NOT_VERIFIED and [x.value for x in r.reasons] == ["selfie_pose_too_extreme"]


def test_a_small_background_face_is_a_bystander(client, photos):
    selfie = _compose(_head(client, photos.parent / OBAMA), 420, _head(client, photos.parent / CHIRAC), 120)
    r = client.check_profile(selfie, [photos.parent / OBAMA_2])
    assert r.selfie.status is SelfieStatus.OK and len(r.selfie.faces) == 2
    assert r.selfie.face is max(r.selfie.faces, key=lambda f: f.bbox.y2 - f.bbox.y1)
    assert r.verdict is Verdict.VERIFIED


def test_two_faces_of_equal_size_are_several_faces(client, photos):
    selfie = _compose(_head(client, photos.parent / OBAMA), 300, _head(client, photos.parent / CHIRAC), 300)
    r = client.check_profile(selfie, [photos.parent / OBAMA_2])
    assert r.selfie.status is SelfieStatus.SEVERAL_FACES
    assert r.verdict is Verdict.NOT_VERIFIED and [x.value for x in r.reasons] == ["selfie_several_faces"]


def test_verify_is_decided_by_the_selfies_subject_not_a_bystander(client, photos):
    """verify's selfie side: a small background face that matches the target does not make
    the selfie's person present; the pair stays visible in the matrix and the report."""
    from faceproof import VerifyCode

    selfie = _compose(_head(client, photos.parent / CHIRAC), 420, _head(client, photos.parent / OBAMA), 160)
    r = client.verify(selfie, photos.parent / OBAMA_2)
    assert len(r.origin_faces) == 2 and r.subject_rows is not None
    bystander = int(np.flatnonzero(~r.subject_rows)[0])
    assert r.matches[bystander].any(), "the bystander (Obama) does match the target"
    assert r.code is VerifyCode.NOT_SAME_PERSON  # the subject (Chirac) does not
    assert r.best_pair is not None and r.best_pair[0] != bystander
    assert r.to_report()["origin_bystanders"] == [bystander]
    assert any("background face" in n for n in r.notes)
    # the same faces the other way round: the subject is Obama, and he is present
    selfie = _compose(_head(client, photos.parent / OBAMA), 420, _head(client, photos.parent / CHIRAC), 160)
    r = client.verify(selfie, photos.parent / OBAMA_2)
    assert r.code is VerifyCode.SAME_PERSON and r.subject_rows is not None
    assert r.best_pair is not None and r.subject_rows[r.best_pair[0]]
    # two faces of equal size: no bystander, either may be the person looked for (the seed's rule)
    selfie = _compose(_head(client, photos.parent / CHIRAC), 300, _head(client, photos.parent / OBAMA), 300)
    r = client.verify(selfie, photos.parent / OBAMA_2)
    assert r.subject_rows is None and r.code is VerifyCode.SAME_PERSON
