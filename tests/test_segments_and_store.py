"""Segment cutting and the on-disk rated-segment store."""

import numpy as np
import pytest

from rbrl_ray.feedback import RatedStore, Segments, cut_segments
from rbrl_ray.feedback.store import lineages, load_latest, new_lineage


def _episode(steps=200, obs_dim=3, act_dim=2):
    t = np.arange(steps, dtype=np.float32)
    obs = np.stack([t + 0.1 * i for i in range(obs_dim)], axis=1)
    act = np.stack([-t - 0.1 * i for i in range(act_dim)], axis=1)
    return obs, act, t / steps


def test_segments_are_contiguous_windows_with_their_true_return():
    obs, act, rew = _episode()
    seg = cut_segments(obs, act, rew, count=30, rng=np.random.default_rng(0), length=50)
    assert seg.obs.shape == (30, 50, 3) and seg.act.shape == (30, 50, 2) and len(seg) == 30
    starts = seg.obs[:, 0, 0].astype(int)
    assert starts.min() >= 0 and starts.max() <= 150
    for i, s in enumerate(starts):
        assert np.array_equal(seg.obs[i, :, 0], np.arange(s, s + 50, dtype=np.float32))
        assert np.array_equal(seg.act[i], act[s : s + 50])
        assert seg.true_returns[i] == pytest.approx(rew[s : s + 50].sum(), rel=1e-6)


def test_episode_shorter_than_a_segment_gives_none():
    obs, act, rew = _episode(steps=40)
    assert len(cut_segments(obs, act, rew, 5, np.random.default_rng(0), length=50)) == 0


def _random_segments(rng, n):
    return Segments(
        rng.normal(size=(n, 50, 4)).astype(np.float32),
        rng.uniform(-1, 1, size=(n, 50, 2)).astype(np.float32),
        rng.uniform(0, 1, size=(n, 50)).astype(np.float32),
    )


def test_store_round_trip_is_exact_and_appends_in_order(tmp_path):
    rng = np.random.default_rng(0)
    first, second = _random_segments(rng, 7), _random_segments(rng, 5)
    store = RatedStore(tmp_path / "ratings")
    assert store.load() is None and len(store) == 0
    store.append(first, np.array([0, 1, 2, 0, 1, 2, 0]))
    store.append(second, np.array([2, 2, 1, 0, 0]))

    segments, labels = RatedStore(tmp_path / "ratings").load()  # a fresh reader
    both = Segments.concat([first, second])
    for name in ("obs", "act", "true_rewards"):
        assert np.array_equal(getattr(segments, name), getattr(both, name))
        assert getattr(segments, name).dtype == np.float32
    assert labels.tolist() == [0, 1, 2, 0, 1, 2, 0, 2, 2, 1, 0, 0]
    assert len(store) == 12
    assert not list((tmp_path / "ratings").glob(".*partial"))


def test_store_refuses_mismatched_labels_and_keeps_what_it_had(tmp_path):
    rng = np.random.default_rng(1)
    store = RatedStore(tmp_path)
    store.append(_random_segments(rng, 3), np.array([0, 1, 0]))
    with pytest.raises(ValueError, match="3 segments but 2 labels"):
        store.append(_random_segments(rng, 3), np.array([0, 1]))
    assert len(store) == 3


def test_lineages_keep_each_run_and_latest_is_the_newest(tmp_path):
    rng = np.random.default_rng(2)
    first = new_lineage(tmp_path, "aaaa")
    first.append(_random_segments(rng, 4), np.array([0, 1, 2, 0]))
    second = new_lineage(tmp_path, "bbbb")
    second.append(_random_segments(rng, 2), np.array([1, 1]))
    assert lineages(tmp_path) == [first.root, second.root]
    assert load_latest(tmp_path)[1].tolist() == [1, 1]
    assert len(RatedStore(first.root)) == 4
    assert load_latest(tmp_path / "none") is None


def _with_states(segments, rng):
    states = rng.normal(size=(len(segments), segments.length, 6)).astype(np.float32)
    return Segments(segments.obs, segments.act, segments.true_rewards, states)


def test_physics_states_travel_with_segments_through_cutting_take_and_concat():
    obs, act, rew = _episode()
    states = np.arange(200 * 4, dtype=np.float64).reshape(200, 4)
    seg = cut_segments(obs, act, rew, 6, np.random.default_rng(0), 50, states)
    plain = cut_segments(obs, act, rew, 6, np.random.default_rng(0), 50)
    assert np.array_equal(seg.obs, plain.obs)  # recording states draws nothing from the rng
    starts = seg.obs[:, 0, 0].astype(int)
    for i, s in enumerate(starts):
        assert np.array_equal(seg.states[i], states[s : s + 50])
    assert seg.take(slice(1, 3)).states.shape == (2, 50, 4)
    empty = Segments.empty(3, 2)
    assert Segments.concat([empty, seg]).states.shape == (6, 50, 4)
    assert Segments.concat([seg, plain]).states is None  # some without: none kept
    with pytest.raises(ValueError, match="states"):
        Segments(seg.obs, seg.act, seg.true_rewards, seg.states[:, :10])


def test_store_keeps_states_and_annotations_and_reads_older_files(tmp_path):
    rng = np.random.default_rng(3)
    store = RatedStore(tmp_path)
    store.append(_random_segments(rng, 2), np.array([0, 1]))  # a store from before states
    person = _with_states(_random_segments(rng, 3), rng)
    notes = {
        "annotator": np.array(["ada", "ada", "bo"]),
        "rated_at": np.array([1.0, 2.0, 3.0]),
        "response_s": np.array([0.5, 4.0, 2.0]),
    }
    store.append(person, np.array([2, 0, 1]), notes)
    segments, labels = store.load()
    assert labels.tolist() == [0, 1, 2, 0, 1] and segments.states is None  # mixed: dropped
    read = store.annotations()
    assert read["annotator"].tolist() == ["", "", "ada", "ada", "bo"]
    assert np.isnan(read["rated_at"][:2]).all() and read["response_s"][2:].tolist() == [0.5, 4, 2]
    with pytest.raises(ValueError, match="annotation 'mood'"):
        store.append(person, np.array([0, 0, 0]), {"mood": np.array(["ok"] * 3)})
    alone = RatedStore(tmp_path / "alone")
    alone.append(person, np.array([2, 0, 1]), notes)
    assert np.array_equal(alone.load()[0].states, person.states)


def test_a_damaged_store_file_is_named_and_nothing_is_lost(tmp_path):
    from rbrl_ray.feedback.store import DamagedStoreFile

    rng = np.random.default_rng(4)
    store = RatedStore(tmp_path)
    for labels in ([0, 1], [2, 2, 2], [1]):
        store.append(_random_segments(rng, len(labels)), np.array(labels))
    cut = tmp_path / "ratings_000001.npz"
    intact = cut.read_bytes()
    cut.write_bytes(intact[: len(intact) // 2])  # a file cut mid-write by another tool
    damaged = cut.read_bytes()
    with pytest.raises(DamagedStoreFile, match=r"ratings_000001.npz: damaged .*--skip-damaged"):
        store.load()
    with pytest.raises(DamagedStoreFile):
        len(store)
    lenient = RatedStore(tmp_path, skip_damaged=True)
    segments, labels = lenient.load()
    assert labels.tolist() == [0, 1, 1] and lenient.skipped == [cut]
    assert lenient.annotations()["annotator"].tolist() == ["", "", ""]
    assert cut.read_bytes() == damaged  # reported, never deleted or rewritten
    (tmp_path / "ratings_000002.npz").write_bytes(b"not a zip at all")
    with pytest.raises(DamagedStoreFile, match="ratings_000001.npz"):
        RatedStore(tmp_path).load()  # the first damaged file is named
