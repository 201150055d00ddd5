"""Exit code 3: an unexpected internal error is reported in one line on stderr, without a
traceback (README, "Exit codes"). A real ``faceproof`` process is run with a fault injected
into the library (a bug stands in as a RuntimeError), so the exit code and the stderr are
what a user's shell sees."""

from __future__ import annotations

import subprocess
import sys

import pytest

OBAMA_1 = "pytopenface/obama1.jpg"
OBAMA_2 = "pytopenface/obama2.jpg"

# Replace one FaceProof method by one that fails like a bug would, then run the CLI.
_INJECT = """
import sys
import faceproof

def broken(self, *args, **kwargs):
    raise RuntimeError("injected fault 7d1f")

setattr(faceproof.FaceProof, sys.argv[1], broken)
sys.argv = ["faceproof", *sys.argv[2:]]
from faceproof.cli import main
main()
"""


def _run_broken(method: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _INJECT, method, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("method", "command"),
    [("verify", ["verify", OBAMA_1, OBAMA_2]), ("check_profile", ["check-profile", OBAMA_1, OBAMA_2])],
)
def test_an_internal_error_exits_3_with_one_line_and_no_traceback(photos, method, command):
    args = [str(photos / a) if a.endswith(".jpg") else a for a in command]
    proc = _run_broken(method, *args)
    assert proc.returncode == 3, (proc.returncode, proc.stderr[-2000:])
    assert proc.stderr.splitlines() == ["faceproof: error: internal error: RuntimeError: injected fault 7d1f"]
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert proc.stdout == ""
