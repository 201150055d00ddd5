"""``faceproof serve`` for real: a uvicorn process on 127.0.0.1, answered over TCP, stopped
with SIGTERM. Also the multi-process mode (``--workers 2``), whose processes rebuild
their settings from the environment."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from .server_helpers import NO_FACE, OBAMA_1, OBAMA_2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = _free_port()
    log = tmp_path / f"serve-{port}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "faceproof.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port), *args],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return proc, base, log
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"serve did not become ready: {log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM; uvicorn shuts down gracefully, then exits 0 or re-raises the signal (-15)."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def _past_loading(send: Callable[[], httpx.Response], timeout: float = 90.0) -> httpx.Response:
    """``send()``'s answer once it is not ``503 not_ready``. With several processes the
    ``/readyz`` that ``_start`` waited for may have come from a process that is ready while
    the next connection lands on one still loading its models, which rightly answers 503."""
    deadline = time.monotonic() + timeout
    while True:
        r = send()
        loading = r.status_code == 503 and r.json().get("error", {}).get("code") == "not_ready"
        if not loading or time.monotonic() > deadline:
            return r
        time.sleep(0.2)


def test_serve_answers_over_tcp_and_stops_cleanly(tmp_path, photos):
    proc, base, log = _start(
        tmp_path,
        "--threads",
        "1",
        "--max-queue",
        "2",
        "--lang",
        "en",
        "--request-timeout",
        "3",
        "--allow-request-threshold",  # per-request thresholds are refused by default (issue 15)
    )
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            r = client.post(
                "/v1/verify?threshold=0.5",
                files={
                    "origin": ("o.jpg", (photos / OBAMA_1).read_bytes()),
                    "target": ("t.jpg", (photos / OBAMA_2).read_bytes()),
                },
            )
            assert r.status_code == 200 and r.json()["result_code"] == 2 and r.json()["threshold"] == 0.5
            assert r.json()["result_message"].startswith("The same person")
            cat = client.post("/v1/distinguish", files={"image": ("c.png", (photos / NO_FACE).read_bytes())})
            assert cat.status_code == 422 and cat.json()["result_code"] == -1
            assert client.get("/v1/models").json()["limits"]["max_queue"] == 2
            assert "server" not in r.headers  # no server banner
        # a client that stops sending its body is cut at the request timeout with a 408
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
            sock.sendall(
                b"POST /v1/verify HTTP/1.1\r\nHost: test\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                b'Content-Length: 100000\r\n\r\n--b\r\nContent-Disposition: form-data; name="origin"\r\n\r\n'
            )
            start = time.monotonic()
            answer = sock.recv(65536).decode("latin-1")
            waited = time.monotonic() - start
            while '"request_timeout"' not in answer and len(answer) < 4096:
                more = sock.recv(65536).decode("latin-1")
                if not more:
                    break
                answer += more
        assert answer.startswith("HTTP/1.1 408") and '"request_timeout"' in answer, answer[:300]
        assert 2.0 < waited < 10.0
        assert httpx.get(f"{base}/healthz").status_code == 200
    finally:
        assert _stop(proc) in (0, -signal.SIGTERM)
    text = log.read_text()
    assert "Application shutdown complete" in text
    assert r.headers["x-request-id"] in text and "POST /v1/verify 200" in text
    assert "threshold=0.5" not in text and "Traceback" not in text


@pytest.mark.slow
def test_serve_with_two_processes(tmp_path, photos):
    proc, base, _ = _start(tmp_path, "--workers", "2", env={"FACEPROOF_ATTRIBUTES": "", "FACEPROOF_MAX_FACES": "5"})
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            models = _past_loading(lambda: client.get("/v1/models")).json()
            assert models["attributes"] == [] and models["limits"]["max_faces"] == 5
            # the documented rule (docs/service.md, FACEPROOF_THREADS): cores / processes, at
            # least one; the server inherits this process's CPU affinity, so its cores are ours
            cores = len(os.sched_getaffinity(0))
            assert models["limits"]["inference_workers"] == max(1, cores // 2)
            pair = {
                "origin": ("o.jpg", (photos / OBAMA_1).read_bytes()),
                "target": ("t.jpg", (photos / OBAMA_2).read_bytes()),
            }
            codes = {
                _past_loading(lambda: client.post("/v1/verify", files=pair)).json()["result_code"] for _ in range(4)
            }
            assert codes == {2}
            assert (
                _past_loading(lambda: client.post("/v1/distinguish", files={"image": pair["origin"]})).status_code
                == 403
            )
    finally:
        assert _stop(proc) in (0, -signal.SIGTERM)


def test_serve_refuses_a_bad_configuration_with_exit_code_2(tmp_path):
    bad = subprocess.run(
        [sys.executable, "-m", "faceproof.cli.main", "serve", "--models", "vggface"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "vggface" in bad.stderr and "Traceback" not in bad.stderr
    env_bad = subprocess.run(
        [sys.executable, "-m", "faceproof.cli.main", "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "FACEPROOF_URL_FETCH": "yes"},
    )
    assert env_bad.returncode == 2 and "FACEPROOF_URL_FETCH" in env_bad.stderr
