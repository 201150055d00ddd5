"""A live review desk for browser tests: ``faceproof serve``'s app under uvicorn on a
loopback port (models, store and pages as in production), and headless Chromium driven
by Selenium through the system's chromedriver (Debian: ``apt-get install chromium
chromium-driver``; nothing is downloaded at run time)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
CHROMEDRIVER = shutil.which("chromedriver")
BROWSER_SKIP = (
    "headless Chromium is not installed: apt-get install -y chromium chromium-driver"
    if CHROMIUM is None or CHROMEDRIVER is None
    else ""
)

REVIEWERS = {"alice": "alice-correct-horse", "bob": "bob-battery-staple"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def live_server(**settings: Any) -> Iterator[str]:
    """The service on 127.0.0.1 (one inference worker), yielded once ready: its base URL."""
    import uvicorn

    from faceproof.server import ServiceSettings, create_app

    port = free_port()
    app = create_app(ServiceSettings(**{"threads": 1, "port": port, **settings}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("the service did not become ready")
        time.sleep(0.2)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def chrome(width: int = 1366, height: int = 900) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--disable-extensions",
        "--no-first-run",
        f"--window-size={width},{height}",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(60)
    return driver
