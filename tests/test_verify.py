"""verify() end to end with the real default models on the licensed photos."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
from conftest import manifest_rows
from PIL import Image

from faceproof import FaceProof, VerifyCode, errors
from faceproof.runtime.verify import compare_faces

OBAMA = "pytopenface/obama1.jpg"
CHIRAC = "pytopenface/chirac1.jpg"
CAT = "skimage/chelsea.png"
TOWNHALL = "kerns_dummy/obama_fatherhood_townhall.jpg"  # Biden, Obama

SAME = [
    (OBAMA, "pytopenface/obama2.jpg"),
    (OBAMA, "pytopenface/obama3.jpg"),
    (OBAMA, "pytopenface/obama4.jpg"),
    (OBAMA, "kerns_dummy/obama_nasa_hq_photo.jpg"),
    (OBAMA, TOWNHALL),
    ("pytopenface/obama2.jpg", "kerns_dummy/obama_backstage_the_white_house.jpg"),
    (CHIRAC, "pytopenface/chirac2.jpg"),
    (CHIRAC, "pytopenface/chirac4.jpg"),
    ("us_presidents/President_42.png", "kerns_dummy/clinton_world_economic_forum.jpg"),
    ("max_facial_recognizer/Paul.jpeg", "max_facial_recognizer/Paul2_repaired.jpg"),
]
DIFFERENT = [
    (OBAMA, CHIRAC),
    ("us_presidents/President_42.png", "us_presidents/President_43.png"),
    ("us_presidents/President_46.png", OBAMA),
    ("max_facial_recognizer/Paul.jpeg", "max_facial_recognizer/Chris.jpeg"),
    ("kerns_dummy/rania_world_economic_forum.jpg", "skimage/astronaut.png"),
    ("bsplus/paul.jpg", "bsplus/george.jpg"),
    ("pytopenface/chirac2.jpg", "kerns_dummy/lee_rasmussen_korea.net.jpg"),
]

# Measured with the default configuration (yunet + sface with flip TTA + cosine, table
# threshold 0.641, i.e. similarity >= 0.359): the only pairs of the manifest that the default
# gets wrong. Keep this list exact: an improvement or a regression must show up here.
# (Without flip TTA and at 0.637 the same three pairs were wrong; the closest correct
# different-person pair is Bush vs Biden, similarity 0.34.)
KNOWN_MISSES = {
    # Biden laughing, turned 3/4, 2009 vs the 2021 portrait: cosine similarity 0.35
    frozenset({TOWNHALL, "us_presidents/President_46.png"}),
    # Biden seen from behind (backstage) cannot be recognised: similarity 0.20
    frozenset({"kerns_dummy/obama_backstage_the_white_house.jpg", "us_presidents/President_46.png"}),
    # McCartney vs Starr, 1964 grayscale crops with the same haircut: similarity 0.385 (false accept)
    frozenset({"bsplus/paul.jpg", "bsplus/ringo.jpg"}),
}


@pytest.mark.parametrize(("a", "b"), SAME)
def test_same_person_pairs_verify_as_2(fp, photos, a, b):
    r = fp.verify(photos / a, photos / b)
    assert r.code == VerifyCode.SAME_PERSON and r.verdict is True, r.to_report()["distances"]
    assert r.to_dict()["result_code"] == 2


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_different_people_verify_as_0(fp, photos, a, b):
    r = fp.verify(photos / a, photos / b)
    assert r.code == VerifyCode.NOT_SAME_PERSON and r.verdict is False, r.to_report()["distances"]


def test_all_manifest_pairs_are_right_except_the_known_misses(fp, photos):
    rows = [r for r in manifest_rows() if int(r["faces"]) > 0]
    faces = {r["path"]: fp.represent(photos / r["path"]) for r in rows}
    ids = {r["path"]: {x for x in r["identity"].split(";") if x} for r in rows}
    misses = set()
    n_same = n_diff = 0
    for a, b in itertools.combinations(faces, 2):
        same = bool(ids[a] & ids[b])
        if not same and not (ids[a] and ids[b]):
            continue  # an unnamed person: cannot say they differ
        n_same += same
        n_diff += not same
        _, _, matches = compare_faces(faces[a], faces[b], fp.metric, fp.default_threshold)
        if bool(matches.any()) != same:
            misses.add(frozenset({a, b}))
    assert (n_same, n_diff) == (28, 272)
    assert misses == KNOWN_MISSES


def test_group_photo_gives_an_n_by_m_matrix(fp, photos):
    r = fp.verify(photos / OBAMA, photos / TOWNHALL)
    d = r.to_dict()
    assert list(d) == ["result_message", "result_code", "result_list"]
    assert d["result_message"] == "동일인이 존재합니다."
    assert np.array(d["result_list"]).shape == (1, 2)
    assert r.similarity.shape == r.distances.shape == r.matches.shape == (1, 2)
    assert r.best_pair == (0, 1)  # Obama stands on the right
    assert np.allclose(r.similarity, 1 - r.distances, atol=1e-5)  # cosine metric
    assert len(r.origin_faces) == 1 and len(r.target_faces) == 2


@pytest.mark.parametrize(
    ("origin", "target", "code", "role", "error"),
    [
        (OBAMA, CAT, VerifyCode.TARGET_NO_FACE, "target", errors.NoFaceError),
        (CAT, OBAMA, VerifyCode.ORIGIN_NO_FACE, "origin", errors.NoFaceError),
        (CAT, CAT, VerifyCode.ORIGIN_NO_FACE, "origin", errors.NoFaceError),
        ("TRUNC", OBAMA, VerifyCode.ORIGIN_UNREADABLE, "origin", errors.ImageDecodeError),
        (OBAMA, "TRUNC", VerifyCode.TARGET_UNREADABLE, "target", errors.ImageDecodeError),
        ("TRUNC", CAT, VerifyCode.ORIGIN_UNREADABLE, "origin", errors.ImageDecodeError),
        ("missing.jpg", OBAMA, VerifyCode.ORIGIN_UNREADABLE, "origin", errors.ImageNotFound),
    ],
)
def test_unreadable_and_faceless_images_give_seed_codes(fp, photos, origin, target, code, role, error):
    truncated = (photos / OBAMA).read_bytes()[:30000]

    def src(name):
        if name == "TRUNC":
            return truncated
        if name == "missing.jpg":
            return photos / "no_such_file.jpg"
        return photos / name

    r = fp.verify(src(origin), src(target))
    assert r.code == code and r.verdict is None and not r.ok
    assert isinstance(r.error, error) and r.error.role == role
    assert r.to_dict() == {"result_message": r.message, "result_code": int(code)}
    with pytest.raises(error):
        r.raise_for_status()


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_rotated_copy_gives_the_same_verdict(fp, photos, orientation):
    original = Image.open(photos / "pytopenface/obama2.jpg").convert("RGB")
    # store the pixels rotated and let EXIF undo it, as phones do
    undo = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}[orientation]
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    original.transpose(undo).save(buf, "JPEG", quality=95, exif=exif.tobytes())
    plain = fp.verify(photos / OBAMA, photos / "pytopenface/obama2.jpg")
    rotated = fp.verify(photos / OBAMA, buf.getvalue())
    assert rotated.code == plain.code == VerifyCode.SAME_PERSON
    assert abs(float(rotated.similarity[0, 0]) - float(plain.similarity[0, 0])) < 0.05


def test_threshold_zero_is_real_and_threshold_none_uses_the_table(fp, photos):
    assert (
        fp.verify(photos / OBAMA, photos / "pytopenface/obama2.jpg", threshold=0.0).code == VerifyCode.NOT_SAME_PERSON
    )
    assert fp.verify(photos / OBAMA, photos / CHIRAC, threshold=2.0).code == VerifyCode.SAME_PERSON
    r = fp.verify(photos / OBAMA, photos / CHIRAC, threshold=None)
    assert r.threshold == fp.thresholds.get("sface", "cosine")
    assert fp.verify(photos / OBAMA, photos / CHIRAC, threshold=0.5).threshold.source == "caller"


def test_invalid_threshold_raises(fp, photos):
    with pytest.raises(errors.InvalidArgument):
        fp.verify(photos / OBAMA, photos / CHIRAC, threshold=-1)


def test_english_messages_and_full_report(photos):
    fp = FaceProof(lang="en", attributes=())
    r = fp.verify(photos / OBAMA, photos / CHIRAC)
    rep = r.to_report()
    assert rep["result_message"] == "The same person is not present in both images."
    assert rep["threshold"] == fp.default_threshold.value and rep["threshold_source"]
    assert rep["model"] == "sface" and rep["detector"] == "yunet" and rep["metric"] == "cosine"
    assert rep["timings_ms"]["total"] > 0 and rep["error"] is None
    assert len(rep["origin_faces"][0]["bbox"]) == 4 and len(rep["origin_faces"][0]["landmarks"]) == 5
    assert fp.verify(photos / OBAMA, photos / CAT, lang="ko").message == "비교할 이미지에서 얼굴이 검출되지 않았습니다."


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "euclidean_l2"])
def test_every_metric_verifies_a_same_and_a_different_pair(photos, metric):
    fp = FaceProof(metric=metric, attributes=())
    assert fp.verify(photos / OBAMA, photos / "pytopenface/obama3.jpg").verdict is True
    assert fp.verify(photos / OBAMA, photos / CHIRAC).verdict is False


def test_dlib_model_verifies(photos):
    fp = FaceProof(model="dlib", metric="euclidean", attributes=())
    assert fp.verify(photos / OBAMA, photos / "pytopenface/obama3.jpg").verdict is True
    assert fp.verify(photos / OBAMA, photos / CHIRAC).verdict is False


def test_numpy_and_bytes_inputs_verify_like_paths(fp, photos):
    from faceproof.runtime.io import load_image

    arr = load_image(photos / OBAMA)
    data = (photos / "pytopenface/obama3.jpg").read_bytes()
    r = fp.verify(arr, data)
    assert r.verdict is True
    ref = fp.verify(photos / OBAMA, photos / "pytopenface/obama3.jpg")
    assert np.allclose(r.similarity, ref.similarity, atol=1e-6)


def test_metric_can_be_chosen_per_call(fp, photos):
    r = fp.verify(photos / OBAMA, photos / "pytopenface/obama3.jpg", metric="euclidean_l2")
    assert r.metric.value == "euclidean_l2" and r.threshold == fp.thresholds.get("sface", "euclidean_l2")
    assert np.allclose(r.distances, np.sqrt(2 - 2 * r.similarity), atol=1e-4)
    assert r.verdict is True
    with pytest.raises(errors.InvalidArgument):
        fp.verify(photos / OBAMA, photos / CHIRAC, metric="hamming")


def test_backends_can_be_shared_between_clients(fp, photos):
    dlib_client = FaceProof(model="dlib", detector=fp.detector, attributes=())
    assert dlib_client.detector is fp.detector
    assert dlib_client.verify(photos / OBAMA, photos / "pytopenface/obama3.jpg").verdict is True
