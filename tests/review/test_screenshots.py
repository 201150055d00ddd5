"""The screenshots of docs/review.md, made in headless Chromium from the live service and
the licensed test photos (skipped unless asked for):

    FACEPROOF_SCREENSHOTS=docs/review python -m pytest tests/review/test_screenshots.py

The queue and a case view, at a laptop width (1366 px) and a tablet width (820 px, an
iPad Air held upright), and the case view in Korean (a CJK font such as Debian's
``fonts-nanum`` must be installed for the Korean words to show). They are also checked:
every image on the page loaded and nothing overflows the page sideways at either width."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest

from .browser import BROWSER_SKIP, REVIEWERS, chrome, live_server
from .test_desk_browser import OTHER_PERSON, SELFIE, TURNED, _check, sign_in

OUT = os.environ.get("FACEPROOF_SCREENSHOTS")
pytestmark = [
    pytest.mark.testdata,
    pytest.mark.skipif(bool(BROWSER_SKIP), reason=BROWSER_SKIP),
    pytest.mark.skipif(not OUT, reason="set FACEPROOF_SCREENSHOTS=<folder> to write the review desk's screenshots"),
]
WIDTHS = {"laptop": (1366, 900), "tablet": (820, 1180)}


def _shot(driver: Any, path: Path, width: int, height: int) -> None:
    from PIL import Image

    driver.set_window_size(width, height)
    full = int(driver.execute_script("return document.documentElement.scrollHeight"))
    assert int(driver.execute_script("return document.documentElement.scrollWidth")) <= width, "sideways overflow"
    driver.set_window_size(width, max(height, min(full, 4000)))
    images = driver.find_elements("css selector", "main img")
    assert all(
        driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", i) for i in images
    )
    png = driver.get_screenshot_as_png()
    with Image.open(io.BytesIO(png)) as im:
        im.convert("RGB").save(path, "PNG", optimize=True)


def test_screenshots(tmp_path: Path, photos: Path) -> None:
    from faceproof.review import ReviewStore, prepare_images
    from faceproof.server.review.auth import hash_password

    out = Path(str(OUT))
    out.mkdir(parents=True, exist_ok=True)
    users = tuple(f"{n}:{hash_password(p)}" for n, p in REVIEWERS.items())
    url = f"sqlite:///{tmp_path / 'faceproof.db'}"
    with live_server(review_users=users, store_url=url, attributes=(), lang="en") as base:
        turned = _check(base, photos, TURNED, "member-10577")
        other = _check(base, photos, OTHER_PERSON, "member-48213")
        cases = ReviewStore.open(url)
        for member, body, names in (("member-30992", turned, TURNED), ("member-77105", other, OTHER_PERSON)):
            doc = {k: v for k, v in body.items() if k not in ("request_id", "review_case", "timings_ms")}
            images = prepare_images((photos / SELFIE).read_bytes(), [(photos / p).read_bytes() for p in names])
            cases.create(doc, images, member_id=member, window_s=72 * 3600.0, now=None)
        cases.close()
        driver = chrome()
        try:
            sign_in(driver, base)
            for name, (w, h) in WIDTHS.items():
                driver.get(f"{base}/review/")
                _shot(driver, out / f"queue-{name}.png", w, h)
                driver.get(f"{base}/review/cases/{other['review_case']['id']}")
                _shot(driver, out / f"case-{name}.png", w, h)
            driver.get(f"{base}/review/lang/ko?next=/review/cases/{other['review_case']['id']}")
            _shot(driver, out / "case-tablet-ko.png", *WIDTHS["tablet"])
        finally:
            driver.quit()
