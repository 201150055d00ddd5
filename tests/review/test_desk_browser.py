"""The review desk in a real browser: headless Chromium (Selenium, the system's
chromedriver) against ``faceproof serve``'s app on a loopback port, with the real models
and a SQLite case store. Cases are opened through ``POST /v1/check-profile?review=true``
with the licensed test photos.

Covers sign-in (wrong password, cookie flags), that no case or image is reachable
without a session, the queue (newest first, reason filter), the case view, each decision
and its audit row, a case decided by someone else meanwhile, a missing CSRF token, an
oversized note, an unknown case id, expiry through ``faceproof review purge``, an XSS
attempt through the member id and the note, the summary, and a database that is down.

``FACEPROOF_SCREENSHOTS=docs/review`` also writes the screenshots of docs/review.md."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .browser import BROWSER_SKIP, REVIEWERS, chrome, live_server

pytestmark = [pytest.mark.testdata, pytest.mark.skipif(bool(BROWSER_SKIP), reason=BROWSER_SKIP)]

SELFIE = "pytopenface/obama1.jpg"
OTHER_PERSON = ["pytopenface/obama2.jpg", "pytopenface/chirac1.jpg", "pytopenface/chirac2.jpg"]
TURNED = ["kerns_dummy/obama_fatherhood_townhall.jpg"]
XSS_MEMBER = '<img src=x onerror="window.__xss=1">m-666'
XSS_NOTE = "</textarea><script>window.__xss=2</script><b>bold</b>"
SHOTS = os.environ.get("FACEPROOF_SCREENSHOTS")


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from faceproof.server.review.auth import hash_password

    users = tuple(f"{name}:{hash_password(pw)}" for name, pw in REVIEWERS.items())
    url = f"sqlite:///{tmp_path_factory.mktemp('desk') / 'faceproof.db'}"
    with live_server(review_users=users, store_url=url, review_export=True, attributes=(), lang="en") as base:
        yield {"base": base, "store_url": url}


@pytest.fixture(scope="module")
def cases(desk: dict[str, Any]) -> Iterator[Any]:
    from faceproof.review import ReviewStore

    store = ReviewStore.open(desk["store_url"])  # a second connection, as a second replica would have
    yield store
    store.close()


def _check(base: str, photos_dir: Path, photos: list[str], member: str) -> dict[str, Any]:
    files = [("selfie", (photos_dir / SELFIE).read_bytes())] + [
        ("photos", (photos_dir / p).read_bytes()) for p in photos
    ]
    r = httpx.post(f"{base}/v1/check-profile", params={"review": "true", "member_id": member}, files=files, timeout=120)
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    assert body["verdict"] == "needs_review" and body["review_case"]["id"], body.get("reasons")
    return body


@pytest.fixture(scope="module")
def opened(desk: dict[str, Any], photos: Path) -> dict[str, Any]:
    """Two cases opened through the API: a consistent other person, and a turned face
    (under a member id that tries to inject markup)."""
    other = _check(desk["base"], photos, OTHER_PERSON, "member-48213")
    time.sleep(0.01)
    turned = _check(desk["base"], photos, TURNED, XSS_MEMBER)
    return {"other": other, "turned": turned, "photos": photos}


def clone(cases: Any, opened: dict[str, Any], kind: str, member: str, **kw: Any) -> str:
    """Another case like one the API opened (its real result and images), straight into the store."""
    from faceproof.review import prepare_images

    body = {k: v for k, v in opened[kind].items() if k not in ("request_id", "review_case", "timings_ms")}
    names = OTHER_PERSON if kind == "other" else TURNED
    photos = opened["photos"]
    images = prepare_images((photos / SELFIE).read_bytes(), [(photos / p).read_bytes() for p in names])
    return str(cases.create(body, images, member_id=member, window_s=kw.pop("window_s", 3600.0), **kw).id)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    driver = chrome()
    yield driver
    driver.quit()


def submit(driver: Any, css: str) -> None:
    """Click a submit button (or a link) and wait until the next page replaced this one."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.wait import WebDriverWait

    page = driver.find_element("tag name", "html")
    driver.find_element("css selector", css).click()

    def replaced(_driver: Any) -> bool:
        try:
            page.is_enabled()
        except WebDriverException:  # stale, or Chromium's "node does not belong to the document"
            return True
        return False

    WebDriverWait(driver, 60).until(replaced)


def sign_in(driver: Any, base: str, name: str = "alice", password: str | None = None) -> None:
    driver.delete_all_cookies()
    driver.get(f"{base}/review/login")
    driver.find_element("name", "name").send_keys(name)
    driver.find_element("name", "password").send_keys(REVIEWERS.get(name, "") if password is None else password)
    submit(driver, "form.login button[type=submit]")


def text(driver: Any, css: str) -> str:
    return str(driver.find_element("css selector", css).text)


def status_of(base: str, path: str, **kw: Any) -> int:
    return httpx.get(f"{base}{path}", follow_redirects=False, **kw).status_code


# ---------------------------------------------------------------------------- sign-in


def test_wrong_password_is_refused_then_sign_in_sets_a_locked_down_cookie(browser: Any, desk: dict[str, Any]) -> None:
    base = desk["base"]
    browser.delete_all_cookies()
    browser.get(f"{base}/review/")
    assert "/review/login" in browser.current_url  # the queue needs a session
    sign_in(browser, base, "alice", "not-the-password")
    assert "/review/login" in browser.current_url
    assert "Wrong name or password" in text(browser, "[data-testid=error]")
    assert not [c for c in browser.get_cookies() if c["name"] == "faceproof_review"]
    sign_in(browser, base, "mallory", "whatever-it-is")  # an unknown name: the same answer
    assert "Wrong name or password" in text(browser, "[data-testid=error]")
    sign_in(browser, base)
    assert browser.current_url.endswith("/review/")
    assert text(browser, "[data-testid=reviewer]") == "alice"
    cookie = next(c for c in browser.get_cookies() if c["name"] == "faceproof_review")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/review"


def test_no_case_page_or_image_without_a_session(desk: dict[str, Any], opened: dict[str, Any]) -> None:
    base, case_id = desk["base"], opened["other"]["review_case"]["id"]
    r = httpx.get(f"{base}/review/cases/{case_id}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/review/login")
    for path in (f"/review/cases/{case_id}/images/0", f"/review/cases/{case_id}/crops/0/0", "/review/summary"):
        assert status_of(base, path) in (303, 401)
    assert status_of(base, f"/review/cases/{case_id}/images/0", cookies={"faceproof_review": "forged"}) == 401
    r = httpx.post(f"{base}/review/cases/{case_id}/decision", data={"decision": "approved"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/review/login")


def test_only_needs_review_answers_open_a_case(desk: dict[str, Any], photos: Path, cases: Any) -> None:
    before = cases.summary()["cases"]
    files = [("selfie", (photos / SELFIE).read_bytes()), ("photos", (photos / OTHER_PERSON[0]).read_bytes())]
    r = httpx.post(
        f"{desk['base']}/v1/check-profile", params={"review": "true", "member_id": "m-ok"}, files=files, timeout=120
    )
    assert r.status_code == 200 and r.json()["verdict"] == "verified" and r.json()["review_case"] is None
    assert cases.summary()["cases"] == before
    r = httpx.post(f"{desk['base']}/v1/check-profile", params={"review": "true"}, files=files, timeout=120)
    assert r.status_code == 400 and "member_id" in r.json()["error"]["message"]


def test_sign_in_form_without_its_csrf_token_is_refused(desk: dict[str, Any]) -> None:
    r = httpx.post(f"{desk['base']}/review/login", data={"name": "alice", "password": REVIEWERS["alice"]})
    assert (
        r.status_code == 403 and "review_csrf" in r.text and "faceproof_review=" not in r.headers.get("set-cookie", "")
    )


# ---------------------------------------------------------------------------- queue and case view


def test_queue_lists_open_cases_newest_first_and_filters_by_reason(
    browser: Any, desk: dict[str, Any], opened: dict[str, Any]
) -> None:
    sign_in(browser, desk["base"])
    rows = browser.find_elements("css selector", "table.queue a.member")
    ids = [r.get_attribute("data-case") for r in rows]
    ids_all = list(ids)
    turned, other = opened["turned"]["review_case"]["id"], opened["other"]["review_case"]["id"]
    assert ids.index(turned) < ids.index(other)  # newest first
    assert XSS_MEMBER in [r.text for r in rows]  # shown as text
    submit(browser, "a.chip[data-reason=low_quality_match]")
    ids = [r.get_attribute("data-case") for r in browser.find_elements("css selector", "table.queue a.member")]
    assert turned in ids and other not in ids
    assert "reason=low_quality_match" in browser.current_url
    assert browser.execute_script("return window.__xss") is None
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    browser.get(f"{desk['base']}/review/")
    ActionChains(browser).send_keys("j").perform()  # the first row is selected
    assert browser.find_element("css selector", "tr.row.sel a.member").get_attribute("data-case") == ids_all[0]
    ActionChains(browser).send_keys("j").send_keys("k").perform()
    page = browser.find_element("tag name", "html")
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.wait import WebDriverWait

    WebDriverWait(browser, 60).until(expected_conditions.staleness_of(page))
    assert browser.current_url.endswith(f"/review/cases/{ids_all[0]}")


def test_case_view_shows_photos_boxes_crops_scores_and_reasons(
    browser: Any, desk: dict[str, Any], opened: dict[str, Any]
) -> None:
    base, case_id = desk["base"], opened["other"]["review_case"]["id"]
    sign_in(browser, base)
    browser.get(f"{base}/review/cases/{case_id}")
    assert text(browser, "[data-testid=member]") == "member-48213"
    reasons = text(browser, "[data-testid=reasons]")
    assert "Several profile photos show one other person" in reasons
    cards = browser.find_elements("css selector", "[data-testid=photo]")
    assert len(cards) == 3
    # every image loaded (the selfie, 3 photos, and a selfie + photo crop per compared photo)
    images = browser.find_elements("css selector", "main img")
    assert len(images) == 4 + 2 * 3
    assert all(
        browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", im) for im in images
    )
    # one box per detected face, the compared one marked, placed in the photo's pixels
    compared = browser.find_elements("css selector", "svg.boxes rect.compared")
    assert len(compared) == 4  # the selfie's face and each photo's compared face
    bbox = opened["other"]["photos"][0]["bbox"]
    rect = cards[0].find_element("css selector", "svg.boxes rect.compared")
    assert abs(float(rect.get_attribute("x")) - bbox[0]) < 0.5 and abs(float(rect.get_attribute("y")) - bbox[1]) < 0.5
    scores = [s.text for s in browser.find_elements("css selector", "[data-testid=score]")]
    assert scores[0] == f"{opened['other']['photos'][0]['similarity']:.3f}"
    assert "Member present" in cards[0].text and "Member absent" in cards[1].text
    assert "Quality" not in reasons and "sharpness" in cards[0].text
    # the same page in Korean
    submit(browser, "a[lang=ko]")
    assert "여러 프로필 사진에 같은 다른 사람이 보입니다" in text(browser, "[data-testid=reasons]")
    submit(browser, "a[lang=en]")


def test_unknown_case_id_is_a_404_page(browser: Any, desk: dict[str, Any]) -> None:
    sign_in(browser, desk["base"])
    for case_id in ("0" * 32, "not-a-case-id"):
        browser.get(f"{desk['base']}/review/cases/{case_id}")
        assert text(browser, "[data-testid=error-code]") == "review_case_not_found"
        assert "No such case" in text(browser, "[data-testid=error]")


# ---------------------------------------------------------------------------- decisions


@pytest.mark.parametrize(
    ("how", "decision", "note"),
    [
        ("button", "approved", "same man, older photo"),
        ("key", "rejected", "profile photos are of someone else"),
        ("key", "new_selfie", ""),
    ],
)
def test_each_decision_is_recorded_with_its_audit_row(
    browser: Any, desk: dict[str, Any], opened: dict[str, Any], cases: Any, how: str, decision: str, note: str
) -> None:
    case_id = clone(cases, opened, "other", f"member-{decision}")
    sign_in(browser, desk["base"], "bob")
    browser.get(f"{desk['base']}/review/cases/{case_id}")
    assert browser.find_elements("id", "note"), browser.find_element("css selector", "main").text[:500]
    if note:
        browser.find_element("id", "note").send_keys(note)
    browser.find_element("css selector", "input[name=label_0][value=same]").click()
    browser.find_element("css selector", "input[name=label_1][value=different]").click()
    if how == "button":
        submit(browser, f"button[value={decision}]")
    else:
        from selenium.webdriver.common.action_chains import ActionChains

        browser.execute_script("document.activeElement.blur()")  # leave the note field
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.wait import WebDriverWait

        page = browser.find_element("tag name", "html")
        ActionChains(browser).send_keys({"rejected": "r", "new_selfie": "s"}[decision]).perform()
        WebDriverWait(browser, 60).until(expected_conditions.staleness_of(page))
    assert "Decision recorded" in text(browser, "[data-testid=done]")
    assert case_id not in [r.get_attribute("data-case") for r in browser.find_elements("css selector", "a.member")]
    case = cases.get(case_id)
    assert (case.status, case.decided_by, case.note) == (decision, "bob", note or None)
    assert case.image_sizes == {} and case.result is None  # the images left with the decision
    row = cases.audit(case_id)[0]
    assert (row["actor"], row["action"], row["note"]) == ("bob", decision, note or None)
    assert time.time() - row["at"] < 120
    labels = cases.store.run(
        lambda tx: tx.query("SELECT photo_index, same FROM fp_review_labels WHERE case_id = ? ORDER BY 1", (case_id,))
    )
    assert [(int(i), int(s)) for i, s in labels] == [(0, 1), (1, 0)]
    browser.get(f"{desk['base']}/review/cases/{case_id}")  # the closed case: who, what, the audit trail
    assert text(browser, "[data-testid=decided-by]").startswith("bob")
    assert status_of(desk["base"], f"/review/cases/{case_id}/images/0", cookies=_session(browser)) == 404


def _session(browser: Any) -> dict[str, str]:
    return {c["name"]: c["value"] for c in browser.get_cookies() if c["name"] == "faceproof_review"}


def test_a_case_decided_by_someone_else_meanwhile_is_not_decided_twice(
    browser: Any, desk: dict[str, Any], opened: dict[str, Any], cases: Any
) -> None:
    case_id = clone(cases, opened, "other", "member-race")
    sign_in(browser, desk["base"], "alice")
    browser.get(f"{desk['base']}/review/cases/{case_id}")
    cases.decide(case_id, reviewer="bob", decision="rejected", note="bob was first")  # another replica
    submit(browser, "button[value=approved]")
    message = text(browser, "[data-testid=error]")
    assert "Already decided by bob: Rejected" in message and "not recorded" in message
    case = cases.get(case_id)
    assert (case.status, case.decided_by) == ("rejected", "bob")
    assert [a["actor"] for a in cases.audit(case_id)] == ["bob", "system"]


def test_a_form_without_its_csrf_token_is_refused(
    browser: Any, desk: dict[str, Any], opened: dict[str, Any], cases: Any
) -> None:
    case_id = clone(cases, opened, "other", "member-csrf")
    sign_in(browser, desk["base"])
    browser.get(f"{desk['base']}/review/cases/{case_id}")
    browser.execute_script("document.querySelector('#decide input[name=csrf]').remove()")
    submit(browser, "button[value=approved]")
    assert text(browser, "[data-testid=error-code]") == "review_csrf"
    browser.get(f"{desk['base']}/review/cases/{case_id}")
    browser.execute_script("document.querySelector('#decide input[name=csrf]').value = 'forged'")
    submit(browser, "button[value=rejected]")
    assert text(browser, "[data-testid=error-code]") == "review_csrf"
    assert cases.get(case_id).open and len(cases.audit(case_id)) == 1


def test_an_oversized_note_is_refused_and_kept_in_the_form(
    browser: Any, desk: dict[str, Any], opened: dict[str, Any], cases: Any
) -> None:
    from faceproof.review import MAX_NOTE_CHARS

    case_id = clone(cases, opened, "other", "member-long-note")
    sign_in(browser, desk["base"])
    browser.get(f"{desk['base']}/review/cases/{case_id}")
    browser.execute_script(f"document.getElementById('note').value = 'n'.repeat({MAX_NOTE_CHARS + 1})")
    submit(browser, "button[value=approved]")
    assert f"at most {MAX_NOTE_CHARS} characters" in text(browser, "[data-testid=error]")
    assert len(browser.find_element("id", "note").get_attribute("value")) == MAX_NOTE_CHARS + 1
    assert cases.get(case_id).open


def test_markup_in_a_member_id_and_a_note_is_inert(
    browser: Any, desk: dict[str, Any], opened: dict[str, Any], cases: Any, caplog: pytest.LogCaptureFixture
) -> None:
    case_id = opened["turned"]["review_case"]["id"]  # opened through the API with XSS_MEMBER
    caplog.set_level(logging.DEBUG)
    sign_in(browser, desk["base"])
    browser.get(f"{desk['base']}/review/cases/{case_id}")
    assert text(browser, "[data-testid=member]") == XSS_MEMBER
    browser.execute_script("arguments[0].value = arguments[1]", browser.find_element("id", "note"), XSS_NOTE)
    submit(browser, "button[value=new_selfie]")
    assert "Decision recorded" in text(browser, "[data-testid=done]")
    browser.get(f"{desk['base']}/review/cases/{case_id}")
    assert text(browser, "[data-testid=note]") == XSS_NOTE  # the note, as text
    assert text(browser, "[data-testid=member]") == XSS_MEMBER
    browser.get(f"{desk['base']}/review/summary")  # the audit log repeats both
    assert XSS_NOTE in text(browser, "[data-testid=audit]")
    assert browser.execute_script("return window.__xss") is None
    assert not browser.find_elements("css selector", "main img[src=x], main script, main b")
    # the service logged the requests (access lines) but neither the member id nor the note
    service = ("faceproof", "uvicorn", "fastapi", "starlette")  # not the test's own selenium/urllib3 debug lines
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(service))
    assert "/review/cases/" in logged
    assert "m-666" not in logged and "window.__xss" not in logged and REVIEWERS["alice"] not in logged


# ---------------------------------------------------------------------------- expiry, summary


def test_an_expired_case_is_purged_by_the_job_and_leaves_the_queue(
    browser: Any, desk: dict[str, Any], opened: dict[str, Any], cases: Any
) -> None:
    case_id = clone(cases, opened, "other", "member-expired", window_s=5.0, now=time.time() - 10)
    assert cases.get(case_id).image_sizes  # past its window, not yet purged
    sign_in(browser, desk["base"])
    browser.get(f"{desk['base']}/review/cases/{case_id}")  # already closed to reviewers
    assert text(browser, "[data-testid=status]") == "Expired" and not browser.find_elements("id", "decide")
    assert status_of(desk["base"], f"/review/cases/{case_id}/images/0", cookies=_session(browser)) == 404
    done = subprocess.run(
        [sys.executable, "-m", "faceproof.cli", "review", "purge", "--store", desk["store_url"]],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == 0, done.stderr
    assert '"expired": 1' in done.stdout or '"expired": ' in done.stdout
    case = cases.get(case_id)
    assert case.status == "expired" and case.image_sizes == {} and case.result is None
    assert cases.audit(case_id)[0]["action"] == "expired"
    sign_in(browser, desk["base"])
    assert case_id not in [r.get_attribute("data-case") for r in browser.find_elements("css selector", "a.member")]
    browser.get(f"{desk['base']}/review/cases/{case_id}")
    assert text(browser, "[data-testid=status]") == "Expired"
    assert status_of(desk["base"], f"/review/cases/{case_id}/images/1", cookies=_session(browser)) == 404


def test_summary_page_shows_volume_decisions_and_overrules(browser: Any, desk: dict[str, Any], cases: Any) -> None:
    sign_in(browser, desk["base"])
    browser.get(f"{desk['base']}/review/summary")
    stats = cases.summary()
    assert text(browser, "[data-testid=cases]") == str(stats["cases"])
    assert text(browser, "[data-testid=open]") == str(stats["open"])
    for d in ("approved", "rejected", "new_selfie"):
        assert text(browser, f"[data-testid=decision-{d}]") == str(stats["decisions"][d])
    assert text(browser, "[data-testid=overruled]").startswith(str(stats["score_overruled"]))


def test_a_database_that_is_down_is_an_error_page(tmp_path: Path, photos: Path) -> None:
    from faceproof.server.review.auth import hash_password

    missing = f"sqlite:///{tmp_path}/no/such/folder/faceproof.db"
    users = (f"alice:{hash_password(REVIEWERS['alice'])}",)
    with live_server(review_users=users, store_url=missing, attributes=(), lang="en") as base:
        driver = chrome()
        try:
            sign_in(driver, base)
            assert text(driver, "[data-testid=error-code]") == "storage_unavailable"
            assert "unavailable" in text(driver, "[data-testid=error]")
        finally:
            driver.quit()
        # a check that needs review is not answered without its case
        files = [("selfie", (photos / SELFIE).read_bytes())]
        files += [("photos", (photos / p).read_bytes()) for p in OTHER_PERSON]
        r = httpx.post(
            f"{base}/v1/check-profile", params={"review": "true", "member_id": "m-1"}, files=files, timeout=120
        )
        assert r.status_code == 503 and r.json()["error"]["code"] == "storage_unavailable"
