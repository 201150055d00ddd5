"""onnxruntime's Linux wheels leave an empty ``$TMPDIR/mat-debug-<pid>.log`` per process
(their telemetry SDK opens it when the library loads); faceproof's import removes it
(issue 15)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_loading_the_attribute_networks_leaves_no_trace_file(tmp_path):
    script = (
        "import os\n"
        "from faceproof.runtime.attributes import AgeGenderModel\n"
        "AgeGenderModel().load()\n"
        "print(os.getpid())\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    pid = int(done.stdout.split()[-1])
    assert not (tmp_path / f"mat-debug-{pid}.log").exists()
    assert not list(tmp_path.glob("mat-debug-*.log"))
