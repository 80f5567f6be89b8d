"""A person's session in a real browser: headless Chromium (Debian's `chromium` and
`chromium-driver`, never a downloaded one) opens the rating page, sees a video
play, rates 10 segments with the keyboard and the mouse, and the store then holds
exactly those 10 ratings with their labels and the annotator's name."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from rbrl_ray.feedback.segments import segment_ids
from rbrl_ray.feedback.store import RatedStore
from tests.rating_page_helpers import TOKEN, start_session

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def _browser_missing() -> str | None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if not missing:
        return None
    reason = (
        f"no {' or '.join(missing)}: install Debian's chromium and chromium-driver "
        "(apt-get install chromium chromium-driver; .ci/run does)"
    )
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the browser test, but {reason}")
    return reason


def new_browser():
    """Headless Debian Chromium through its chromedriver."""
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never download anything
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",  # CI containers run as root
        "--disable-dev-shm-usage",
        "--autoplay-policy=no-user-gesture-required",
        "--window-size=900,1000",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.fixture
def browser():
    reason = _browser_missing()
    if reason:
        pytest.skip(reason)
    driver = new_browser()
    yield driver
    driver.quit()


@pytest.fixture
def second_browser(browser):
    driver = new_browser()
    yield driver
    driver.quit()


def wait_for(condition, timeout_s=120.0, what="the page"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def shown_segment(driver) -> str | None:
    src = driver.execute_script("return document.getElementById('clip').getAttribute('src')")
    return src.rsplit("/", 1)[-1].removesuffix(".webm") if src else None


def test_a_person_rates_ten_segments_with_keyboard_and_mouse(browser, tmp_path):
    from selenium.webdriver.common.by import By

    session = start_session(tmp_path / "rated", count=12)
    try:
        browser.get(f"{session.url}/?token={TOKEN}")
        wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#scale button"), what="scale")
        assert "pole" in browser.find_element(By.ID, "instructions").text
        buttons = browser.find_elements(By.CSS_SELECTOR, "#scale button")
        assert [b.text for b in buttons] == ["0: very bad", "1", "2: very good"]
        assert browser.find_element(By.ID, "annotator").text == "Rating as ada"  # the token's

        # the video plays: its clock advances
        def clock() -> float:
            return browser.execute_script("return document.getElementById('clip').currentTime")

        wait_for(lambda: clock() > 0.2, what="playback")
        t0 = clock()
        time.sleep(0.5)
        assert clock() != t0
        browser.save_screenshot(str(tmp_path / "rating_page.png"))

        given: dict[str, int] = {}
        body = browser.find_element(By.TAG_NAME, "body")

        def progress() -> str:
            return browser.find_element(By.ID, "progress").text

        for i in range(10):
            segment = wait_for(
                lambda: (s := shown_segment(browser)) not in given and s, what=f"segment {i + 1}"
            )
            label = i % 3
            if i % 2 == 0:
                body.send_keys(str(label))  # keyboard
            else:  # mouse
                browser.find_element(By.CSS_SELECTOR, f'button[data-rating="{label}"]').click()
            given[segment] = label
            done = f"{i + 1} rated"
            wait_for(lambda done=done: done in progress(), what=f"rating {i + 1} acknowledged")
        assert browser.find_element(By.ID, "status").get_attribute("class") != "error"
    finally:
        session.stop()

    segments, labels = RatedStore(tmp_path / "rated").load()
    stored = dict(zip(segment_ids(segments), labels.tolist(), strict=True))
    assert stored == given
    notes = RatedStore(tmp_path / "rated").annotations()
    assert set(notes["annotator"]) == {"ada"} and (notes["response_s"] > 0).all()


def rate_shown(driver, label: int, given: dict[str, int]) -> str:
    """Press `label` on the segment the page shows (one not rated yet); returns its id."""
    from selenium.webdriver.common.by import By

    segment = wait_for(lambda: (s := shown_segment(driver)) not in given and s, what="a segment")
    done = f"{len(given) + 1} rated"
    driver.find_element(By.TAG_NAME, "body").send_keys(str(label))
    given[segment] = label
    wait_for(lambda: done in driver.find_element(By.ID, "progress").text, what="acknowledged")
    return segment


def test_two_annotators_with_their_own_links_rate_an_overlapping_pool(
    browser, second_browser, tmp_path
):
    """ada and bob open their own links and take turns; every segment overlaps, so
    each sees all four. bob disagrees by one class on one segment."""
    from selenium.webdriver.common.by import By

    from rbrl_ray.human.labels import LabelLog
    from rbrl_ray.human.status import status_of

    out = tmp_path / "rated"
    session = start_session(out, "--overlap", "1", count=4, annotators=("ada", "bob"))
    pages = {"ada": browser, "bob": second_browser}
    given: dict[str, dict[str, int]] = {"ada": {}, "bob": {}}
    try:
        for name, driver in pages.items():
            driver.get(f"{session.url}/?token={session.links[name]}")
            wait_for(lambda d=driver: d.find_elements(By.CSS_SELECTOR, "#scale button"))
            assert driver.find_element(By.ID, "annotator").text == f"Rating as {name}"
        first = None
        for turn in range(4):
            for name, driver in pages.items():
                label = 1 if name == "bob" and turn == 0 else 2
                segment = rate_shown(driver, label, given[name])
                first = first or segment
        assert set(given["ada"]) == set(given["bob"])  # the whole pool, to each of them
        second_browser.save_screenshot(str(tmp_path / "bob.png"))
    finally:
        session.stop()

    log = LabelLog(out).read()  # every answer, attributed by the token it came with
    assert {(a.annotator, a.segment_id, a.rating) for a in log} == {
        (name, segment, label) for name in given for segment, label in given[name].items()
    }
    segments, labels = RatedStore(out).load()
    stored = dict(zip(segment_ids(segments), labels.tolist(), strict=True))
    assert stored == {s: (1 if s == first else 2) for s in given["ada"]}  # lower median
    status = status_of(out)
    assert [(a.name, a.rated, a.skipped, a.waiting) for a in status.annotators] == [
        ("ada", 4, 0, 0), ("bob", 4, 0, 0)
    ]  # fmt: skip
    assert status.overlapping == 4 and status.alpha_all < 1.0
