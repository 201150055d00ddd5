"""The structure holds: the layering contract (import-linter, pyproject.toml), no module
importing another's private names, no module above 500 lines without a written reason,
and the deprecated module paths answering with the moved modules."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "faceproof"
MAX_LINES = 500


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append((".".join(parts), path))
    return out


def test_layering_contract_is_kept():
    """``lint-imports`` checks the contracts of pyproject.toml: wings import only
    downward, no import circles between the modules of a package."""
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert exe is not None, "import-linter is part of the test extra"
    run = subprocess.run([exe, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "BROKEN" not in run.stdout and run.stdout.count("KEPT") >= 2


def _private_imports(name: str, path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package.split(".")
            base = base[: len(base) - node.level + 1]
            target = ".".join([*base, node.module] if node.module else base)
        else:
            target = node.module or ""
        if not target.startswith("faceproof"):
            continue
        for alias in node.names:
            private = alias.name.startswith("_") and not alias.name.startswith("__")
            if private and f"{target}.{alias.name}" not in dict(_modules()):  # a private *module* is fine
                found.append(f"{name}:{node.lineno} imports {alias.name} from {target}")
    return found


def test_no_module_imports_another_modules_private_names():
    found = [f for name, path in _modules() for f in _private_imports(name, path)]
    assert found == []


def test_the_private_name_check_can_fail(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from faceproof.server.routes import _ERRORS\nfrom .errors import _hidden\n")
    assert len(_private_imports("faceproof.server.bad", bad)) == 2


def test_long_modules_say_why_at_their_top():
    long = []
    for name, path in _modules():
        lines = path.read_text(encoding="utf-8").splitlines()
        if len(lines) > MAX_LINES and not any("Why this module is long" in line for line in lines[:40]):
            long.append(f"{name} ({len(lines)} lines)")
    assert long == []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("faceproof.io", "faceproof.runtime.io"),
        ("faceproof.profile", "faceproof.decision.profile"),
        ("faceproof.evaluate", "faceproof.evaluation"),
        ("faceproof.calibrate", "faceproof.evaluation.calibrate"),
        ("faceproof.server.cli", "faceproof.cli.serve"),
    ],
)
def test_moved_modules_answer_at_their_old_path_with_a_warning(old, new):
    import importlib

    sys.modules.pop(old, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    assert any(issubclass(w.category, DeprecationWarning) and new in str(w.message) for w in caught)


def test_every_moved_name_still_imports_from_its_old_module():
    from faceproof._moved import MOVED

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from faceproof.calibrate import load_calibration
        from faceproof.evaluate import ClientConfig, evaluate, load_pairs
        from faceproof.policy import Policy
        from faceproof.profile import ProfileCheck, check_profile
        from faceproof.quality import FaceQuality, assess_faces

    assert all(callable(x) for x in (load_calibration, evaluate, load_pairs, check_profile, assess_faces))
    assert {ClientConfig, Policy, ProfileCheck, FaceQuality} and len(MOVED) >= 19
