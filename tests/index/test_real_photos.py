"""The real model on real photos: enrol one photo per person, find them with another."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceproof.index import MemberIndex, ModelId


def _embedding(fp, path: Path) -> np.ndarray:  # type: ignore[no-untyped-def]
    faces = fp.represent(str(path))
    assert len(faces) == 1, path
    return np.asarray(faces[0].embedding, dtype=np.float32)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_another_photo_finds_the_enrolled_person(fp, photos: Path, tmp_path: Path, backend: str, request) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'm.db'}" if backend == "sqlite" else request.getfixturevalue("pg_server").fresh_url()
    model = ModelId.from_client(fp)
    gallery = {
        "obama": "pytopenface/obama1.jpg",
        "chirac": "pytopenface/chirac1.jpg",
        "clinton": "us_presidents/President_42.png",
        "biden": "us_presidents/President_46.png",
        "paul-rudd": "max_facial_recognizer/Paul.jpeg",
    }
    with MemberIndex(url, model=model, actor="test") as ix:
        for member, rel in gallery.items():
            ix.enroll(member, _embedding(fp, photos / rel)[None], [Path(rel).name])
        ix.set_status("chirac", "banned")
        for probe, member in (
            ("pytopenface/obama2.jpg", "obama"),
            ("kerns_dummy/obama_nasa_hq_photo.jpg", "obama"),
            ("pytopenface/chirac2.jpg", "chirac"),
            ("max_facial_recognizer/Paul2_repaired.jpg", "paul-rudd"),
        ):
            r = ix.search(_embedding(fp, photos / probe), k=3)
            assert r.candidates, probe
            top = r.candidates[0]
            assert top.member_id == member, (probe, r.candidates)
            assert top.band in ("review", "strong") and top.expected_fpir is not None and top.expected_fpir < 0.01
            assert r.threshold.target_fpir == 0.01 and r.gallery_size == 5
        assert r.candidates[0].status == "active"
        assert ix.search(_embedding(fp, photos / "pytopenface/chirac2.jpg"), k=1).candidates[0].status == "banned"
        # a photo of Biden and Obama together: each face finds its own account
        faces = fp.represent(str(photos / "kerns_dummy/obama_fatherhood_townhall.jpg"))
        assert len(faces) == 2
        tops = {ix.search(np.asarray(f.embedding, np.float32), k=1).candidates[0].member_id for f in faces}
        assert tops == {"obama", "biden"}
        # someone not enrolled: no candidate above the open-set threshold
        assert ix.search(_embedding(fp, photos / "bsplus/ringo.jpg"), k=3).candidates == ()
