"""The two-annotator session behind docs/annotator_status.{svg,png} and
docs/rating_page_annotator.png: `python -m rbrl_ray.rate` on 16 scripted cartpole
segments with --overlap 0.5, two headless Chromium pages on ada's and bob's own
links. The annotators are scripted, not people: ada answers with the noise-free
synthetic class of each segment (its true return is known), bob with that class
moved by one up or down 40 % of the time, and skips 10 %; each watches 0.5-2 s.

    python docs/two_annotator_session.py   # then: python -m rbrl_ray.rate --status /tmp/two/rated
"""

import sys
import time
from pathlib import Path
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.rating_page_helpers import start_session
from tests.test_rating_browser import new_browser, shown_segment, wait_for
from selenium.webdriver.common.by import By
from rbrl_ray.reward_bench.scripted import collect_segments
from rbrl_ray.feedback.segments import segment_ids
from rbrl_ray.feedback.rater import RaterConfig, SyntheticRater
from rbrl_ray.human.offline import rating_range_of

out = Path("/tmp/two/rated")
pool = collect_segments("cartpole-balance", 16, 0, physics_states=True)
low, high = rating_range_of("cartpole-balance")
exact = SyntheticRater(RaterConfig(n_classes=3, low=low, high=high)).exact_classes(
    pool.true_rewards.sum(1)
)
truth = dict(zip(segment_ids(pool), exact.tolist()))
rng = np.random.default_rng(1)
t0 = time.time()
session = start_session(out, "--overlap", "0.5", count=16, annotators=("ada", "bob"))
print("page up after", round(time.time() - t0, 1), "s")
pages = {"ada": new_browser(), "bob": new_browser()}
given = {"ada": set(), "bob": set()}
try:
    for name, d in pages.items():
        d.get(f"{session.url}/?token={session.links[name]}")
    active = dict(pages)
    while active:
        for name, d in list(active.items()):

            def shown():
                s = shown_segment(d)
                if s and s not in given[name]:
                    return s
                if "Nothing waiting" in d.find_element(By.ID, "status").text:
                    return "none"

            s = wait_for(shown, 300)
            if s == "none":
                del active[name]
                continue
            label = (
                truth[s]
                if name == "ada"
                else int(np.clip(truth[s] + rng.choice([-1, 0, 0, 0, 1]), 0, 2))
            )
            time.sleep(rng.uniform(0.5, 2.0))  # watching
            before = d.find_element(By.ID, "progress").text
            if name == "bob" and len(given[name]) == 2:  # a clip playing, before the answer
                d.save_screenshot("docs/rating_page_annotator.png")
            key = "s" if (name == "bob" and rng.random() < 0.1) else str(label)
            d.find_element(By.TAG_NAME, "body").send_keys(key)
            given[name].add(s)
            wait_for(lambda: d.find_element(By.ID, "progress").text != before, 60)
finally:
    session.stop()
    for d in pages.values():
        d.quit()
print("answers", {k: len(v) for k, v in given.items()}, "in", round(time.time() - t0, 1), "s")
