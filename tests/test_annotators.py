"""A team of annotators: their tokens, overlapping segments and one label per segment,
agreement figures, the organiser's status view, and a store as one table."""

from __future__ import annotations

import json
import math
import stat
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from rbrl_ray.feedback.segments import Segments, segment_ids
from rbrl_ray.feedback.store import RatedStore
from rbrl_ray.human.agreement import alpha
from rbrl_ray.human.annotators import Roster
from rbrl_ray.human.desk import AlreadyRated
from rbrl_ray.human.labels import LabelLog, Overlap, consensus
from rbrl_ray.human.offline import check_session, offline_desk
from rbrl_ray.human.status import status_of
from rbrl_ray.human.table import export_store, import_store
from rbrl_ray.validation import ConfigError


def pool(n: int, seed: int = 0) -> Segments:
    """n cartpole-shaped segments with physics states; true returns 0..50 spread out."""
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(n, 50, 5)).astype(np.float32)
    rewards = np.repeat(np.linspace(0.05, 0.95, n)[:, None], 50, axis=1).astype(np.float32)
    states = rng.normal(size=(n, 50, 4))
    return Segments(obs, rng.normal(size=(n, 50, 1)).astype(np.float32), rewards, states)


def test_ordinal_alpha_matches_a_hand_computed_case():
    """Two raters, four units: A = 0 1 2 2, B = 0 1 1 2. Pairable values n = 8 with
    frequencies n0 = 2, n1 = 3, n2 = 3; coincidences o01 = 0, o12 = o21 = 1. Ordinal
    distances d(c, k) = (sum_{g=c..k} n_g - (n_c + n_k) / 2)^2: d01 = 2.5^2 = 6.25,
    d12 = 3^2 = 9, d02 = 5.5^2 = 30.25. D_o = (1/8)(1*9 + 1*9) = 2.25;
    D_e = 2 (2*3*6.25 + 3*3*9 + 2*3*30.25) / (8*7) = 600/56. alpha = 1 - 2.25*56/600 = 0.79."""
    assert alpha(np.array([[0, 1, 2, 2], [0, 1, 1, 2]]), classes=3) == pytest.approx(0.79)
    assert alpha(np.array([[0, 1, 2], [0, 1, 2]]), classes=3) == pytest.approx(1.0)
    # a missing rating leaves that unit out; one value everywhere gives no alpha
    assert alpha(np.array([[0, 1, 2, 2, 1], [0, 1, 1, 2, np.nan]]), 3) == pytest.approx(0.79)
    assert math.isnan(alpha(np.array([[1, 1], [1, 1]]), 3))


def test_the_lower_median_is_one_of_the_ratings_given():
    assert consensus([2]) == 2 and consensus([0, 2]) == 0 and consensus([2, 0, 1]) == 1
    assert consensus([3, 1, 1, 3]) == 1


def test_tokens_are_per_annotator_private_and_revocable(tmp_path):
    roster = Roster(tmp_path)
    ada, bob = roster.add("ada"), roster.add("bob")
    assert ada.token != bob.token and len(ada.token) >= 16
    assert stat.S_IMODE((tmp_path / "annotators.json").stat().st_mode) == 0o600
    assert roster.add("ada") == ada  # adding again keeps the token
    reader = Roster(tmp_path)  # a page serving the store reads the same file
    assert reader.who(ada.token) == "ada" and reader.who(bob.token) == "bob"
    assert reader.who("x" * 22) is None and reader.who(None) is None
    roster.revoke("bob")
    assert reader.who(bob.token) is None and reader.active() == ["ada"]
    with pytest.raises(ConfigError, match="no annotator 'eve'"):
        roster.revoke("eve")
    with pytest.raises(ConfigError, match="letters, digits"):
        roster.add("ada bob")


def two_annotator_session(out, n=8, fraction=0.5):
    """A desk over n segments, ada and bob, `fraction` of the segments overlapping."""
    roster = Roster(out)
    roster.add("ada"), roster.add("bob")
    check_session(out, "cartpole-balance", 3)
    segments = pool(n)
    desk, store = offline_desk(out, "cartpole-balance", 3, segments, roster,
                               Overlap(fraction=fraction))  # fmt: skip
    return desk, store, segments


def answer_everything(desk, plan):
    """Each annotator answers whatever the desk shows them; plan(name, id) -> label or
    None (a skip). Returns the answers given."""
    given = []
    for name in ("ada", "bob"):
        while (waiting := desk.next(name)) is not None:
            label = plan(name, waiting.segment_id)
            if label is None:
                desk.skip(waiting.segment_id, name)
            else:
                desk.rate(waiting.segment_id, label, name, 1.5)
            given.append((name, waiting.segment_id, label))
    return given


def test_overlapping_segments_wait_for_two_annotators_and_store_one_label(tmp_path):
    desk, store, segments = two_annotator_session(tmp_path, n=12, fraction=0.5)
    ids = segment_ids(segments)
    overlapping = [i for i in ids if Overlap(fraction=0.5).chosen(i)]
    assert 0 < len(overlapping) < len(ids)
    # ada answers first: she sees every segment, bob only what still waits (the overlap)
    given = answer_everything(desk, lambda name, sid: 2 if name == "ada" else 0)
    seen_by_bob = {sid for name, sid, _ in given if name == "bob"}
    assert seen_by_bob == set(overlapping)
    with pytest.raises(AlreadyRated):
        desk.rate(ids[0], 1, "ada", 1.0)

    stored_segments, labels = store.load()
    stored = dict(zip(segment_ids(stored_segments), labels.tolist(), strict=True))
    assert sorted(stored) == sorted(ids)  # one label per segment
    assert all(stored[i] == (0 if i in overlapping else 2) for i in ids)  # lower median
    annotators = dict(zip(segment_ids(stored_segments), store.annotations()["annotator"],
                          strict=True))  # fmt: skip
    assert all(annotators[i] == ("ada+bob" if i in overlapping else "ada") for i in ids)
    log = LabelLog(tmp_path).read()  # every answer kept, attributed
    assert len(log) == len(ids) + len(overlapping)
    assert {(a.annotator, a.segment_id) for a in log} == {(n, s) for n, s, _ in given}


def test_answers_before_a_restart_count_and_a_segment_everyone_skipped_stays_unrated(tmp_path):
    desk, store, segments = two_annotator_session(tmp_path, n=6, fraction=1.0)
    ids = segment_ids(segments)
    desk.rate(ids[0], 1, "ada", 1.0)  # half of segment 0's answers, then the page stops
    desk.skip(ids[1], "ada")
    assert len(store) == 0

    again, store, _ = two_annotator_session(tmp_path, n=6, fraction=1.0)
    assert again.next("ada").segment_id == ids[2]  # ada's answers were kept
    assert again.next("bob").segment_id == ids[0]
    again.rate(ids[0], 2, "bob", 1.0)
    again.skip(ids[1], "bob")
    stored_segments, labels = store.load()
    assert segment_ids(stored_segments) == [ids[0]] and labels.tolist() == [1]
    assert ids[1] not in {w for w in again.waiting(10)}  # skipped by both: done, unrated


def test_status_shows_progress_skips_waiting_and_agreement(tmp_path):
    desk, _, segments = two_annotator_session(tmp_path, n=10, fraction=1.0)
    ids = segment_ids(segments)
    # ada rates as a noise-free synthetic rater would (returns 2.5, 7.5 .. 47.5 over
    # cartpole's range [5.987, 47.137]: bins of 13.7) and leaves the last one for
    # later; bob agrees with her but on segment 8, and skips segment 4
    truth = dict(zip(ids, [0, 0, 0, 0, 1, 1, 1, 2, 2, 2], strict=True))
    for sid in ids[:9]:
        desk.rate(sid, truth[sid], "ada", 2.0)
    for sid in ids:
        if sid == ids[4]:
            desk.skip(sid, "bob")
        else:
            desk.rate(sid, 0 if sid == ids[8] else truth[sid], "bob", 4.0)
    status = status_of(tmp_path)
    ada, bob = status.annotators
    assert (ada.name, ada.rated, ada.skipped, ada.waiting) == ("ada", 9, 0, 1)
    assert (bob.name, bob.rated, bob.skipped, bob.waiting) == ("bob", 9, 1, 0)
    assert bob.skip_rate == pytest.approx(0.1) and bob.median_response_s == 4.0
    # finished: the 9 ada answered (segment 4 with her rating alone); 9 waits for ada
    assert status.overlapping == 8 and status.rated_segments == 9
    assert status.rating_range == (5.987, 47.137)
    assert ada.alpha_vs_synthetic == pytest.approx(1.0)
    shared = [i for i in ids[:9] if i != ids[4]]
    bobs = [0 if i == ids[8] else truth[i] for i in shared]
    disagreement = alpha(np.array([[truth[i] for i in shared], bobs]), 3)
    assert 0 < disagreement < 1
    assert ada.alpha_vs_others == bob.alpha_vs_others == pytest.approx(disagreement)
    assert bob.alpha_vs_synthetic == pytest.approx(disagreement)  # the same pairs
    assert status.alpha_all == pytest.approx(disagreement)


def test_export_then_import_round_trips_a_store(tmp_path):
    out = tmp_path / "rated"
    desk, store, _ = two_annotator_session(out, n=8, fraction=0.5)
    answer_everything(desk, lambda name, sid: None if sid.startswith(("0", "1", "2")) and
                      name == "bob" else int(sid, 16) % 3)  # fmt: skip
    table = tmp_path / "ratings.parquet"
    rows = export_store(out, table)
    copy = tmp_path / "copy"
    assert import_store(table, copy) == rows

    a, b = RatedStore(out), RatedStore(copy)
    assert len(a.files()) == len(b.files())
    for fa, fb in zip(a.files(), b.files(), strict=True):
        for name in ("obs", "act", "true_rewards", "states"):
            got, want = getattr(fb.segments, name), getattr(fa.segments, name)
            assert got.dtype == want.dtype and np.array_equal(got, want)
        assert np.array_equal(fa.labels, fb.labels) and np.array_equal(fa.queries, fb.queries)
        assert fa.annotations.keys() == fb.annotations.keys()
        for name in fa.annotations:
            assert np.array_equal(fa.annotations[name], fb.annotations[name])
    assert LabelLog(out).read() == LabelLog(copy).read()
    assert json.loads((copy / "session.json").read_text()) == json.loads(
        (out / "session.json").read_text()
    )
    assert not (copy / "annotators.json").exists()  # tokens stay with the organiser

    csv = tmp_path / "ratings.csv"
    export_store(out, csv)
    tidy = pd.read_csv(csv)
    assert list(tidy.columns[:6]) == ["segment_id", "env", "classes", "annotator", "answer",
                                      "rating"]  # fmt: skip
    assert {"response_s", "answered_at", "query", "label"} <= set(tidy.columns)
    assert len(tidy) == rows and set(tidy["annotator"]) == {"ada", "bob"}
    with pytest.raises(ConfigError, match="only a .parquet export"):
        import_store(csv, tmp_path / "from_csv")
    with pytest.raises(ConfigError, match="not empty"):
        import_store(table, copy)


def test_the_organisers_commands(tmp_path):
    out = tmp_path / "rated"
    desk, _, _ = two_annotator_session(out, n=4, fraction=1.0)
    answer_everything(desk, lambda name, sid: 1)

    def rate(*args):
        return subprocess.run([sys.executable, "-m", "rbrl_ray.rate", *args],
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    shown = rate("--status", str(out))
    assert shown.returncode == 0, shown.stderr
    assert "ada" in shown.stdout and "bob" in shown.stdout and "Krippendorff" in shown.stdout
    assert rate("--revoke", "bob", "--out", str(out)).returncode == 0
    assert Roster(out).active() == ["ada"]
    added = rate("--annotators", "carol", "--out", str(out))
    assert added.returncode == 0 and Roster(out).active() == ["ada", "carol"]
    assert Roster(out).annotators()["carol"].token in added.stdout
    done = rate("--revoke", "eve", "--out", str(out))
    assert done.returncode == 2 and "no annotator 'eve'" in done.stderr
    done = rate("--import", str(tmp_path / "none.parquet"), "--out", str(tmp_path / "x"))
    assert done.returncode == 2 and "no such file" in done.stderr


def test_a_segment_on_one_annotators_screen_is_not_shown_to_another_in_vain(tmp_path):
    desk, _, segments = two_annotator_session(tmp_path, n=6, fraction=0.0)
    ids = segment_ids(segments)
    assert desk.next("ada").segment_id == ids[0]
    assert desk.next("bob").segment_id == ids[1]  # ids[0] needs one answer, ada's coming
    assert desk.next("ada").segment_id == ids[0]  # asking again: the same one
    desk.rate(ids[0], 1, "ada", 1.0)
    assert desk.next("ada").segment_id == ids[2]
