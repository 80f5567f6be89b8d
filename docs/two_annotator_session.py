"""The two-annotator session behind docs/annotator_status.{svg,png} and
docs/rating_page.png: `python -m rbrl_ray.rate` on 16 scripted cartpole
segments with --overlap 0.5, two headless Chromium pages on ada's and bob's own
links. The annotators are scripted, not people: ada answers with the noise-free
synthetic class of each segment (its true return is known), bob with that class
moved one up or down 40 % of the time, and skips 10 %; each watches 0.5-2 s.

    python docs/two_annotator_session.py
    python -m rbrl_ray.rate --status /tmp/two/rated --svg docs/annotator_status.svg
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from selenium.webdriver.common.by import By  # noqa: E402

from rbrl_ray.feedback.rater import RaterConfig, SyntheticRater  # noqa: E402
from rbrl_ray.feedback.scripted import collect_segments  # noqa: E402
from rbrl_ray.feedback.segments import segment_ids  # noqa: E402
from rbrl_ray.human.offline import rating_range_of  # noqa: E402
from tests.rating_page_helpers import start_session  # noqa: E402
from tests.test_rating_browser import new_browser, shown_segment, wait_for  # noqa: E402

OUT = Path("/tmp/two/rated")
SCREENSHOT = Path(__file__).resolve().parent / "rating_page.png"


def true_classes(count: int) -> dict[str, int]:
    """The noise-free synthetic class of each segment of the page's pool (seed 0)."""
    pool = collect_segments("cartpole-balance", count, 0, physics_states=True)
    low, high = rating_range_of("cartpole-balance")
    rater = SyntheticRater(RaterConfig(n_classes=3, low=low, high=high))
    exact = rater.exact_classes(pool.true_rewards.sum(axis=1))
    return dict(zip(segment_ids(pool), exact.tolist(), strict=True))


def next_shown(driver, seen: set[str]) -> str | None:
    """The segment the page shows next, or None once it says nothing is waiting."""

    def shown() -> str | None:
        segment = shown_segment(driver)
        if segment and segment not in seen:
            return segment
        if "Nothing waiting" in driver.find_element(By.ID, "status").text:
            return "none"
        return None

    found = wait_for(shown, 300)
    return None if found == "none" else found


def answer(driver, name: str, segment: str, truth: dict[str, int], rng, seen: set[str]) -> None:
    label = truth[segment]
    if name == "bob":
        label = int(np.clip(label + rng.choice([-1, 0, 0, 0, 1]), 0, 2))
    time.sleep(rng.uniform(0.5, 2.0))  # watching
    before = driver.find_element(By.ID, "progress").text
    if name == "bob" and len(seen) == 2:  # a clip playing, before the answer
        driver.save_screenshot(str(SCREENSHOT))
    key = "s" if name == "bob" and rng.random() < 0.1 else str(label)
    driver.find_element(By.TAG_NAME, "body").send_keys(key)
    seen.add(segment)
    wait_for(lambda: driver.find_element(By.ID, "progress").text != before, 60)


def main() -> None:
    truth, rng, started = true_classes(16), np.random.default_rng(1), time.time()
    session = start_session(OUT, "--overlap", "0.5", count=16, annotators=("ada", "bob"))
    print("page up after", round(time.time() - started, 1), "s")
    pages = {"ada": new_browser(), "bob": new_browser()}
    seen: dict[str, set[str]] = {name: set() for name in pages}
    try:
        for name, driver in pages.items():
            driver.get(f"{session.url}/?token={session.links[name]}")
        active = dict(pages)
        while active:
            for name, driver in list(active.items()):
                segment = next_shown(driver, seen[name])
                if segment is None:
                    del active[name]
                else:
                    answer(driver, name, segment, truth, rng, seen[name])
    finally:
        session.stop()
        for driver in pages.values():
            driver.quit()
    counts = {name: len(s) for name, s in seen.items()}
    print("answers", counts, "in", round(time.time() - started, 1), "s")


if __name__ == "__main__":
    main()
