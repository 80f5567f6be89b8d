"""The rating desk on its own: queues, validation against each queue's scale, skips,
and a rating reaching its writer before it counts as given."""

import numpy as np
import pytest

from rbrl_ray.feedback.segments import Segments, segment_ids
from rbrl_ray.human.desk import AlreadyRated, BadRating, RatingDesk, UnknownSegment


def segments(n, seed=0, states=True):
    rng = np.random.default_rng(seed)
    return Segments(
        rng.normal(size=(n, 50, 5)).astype(np.float32),
        rng.uniform(-1, 1, size=(n, 50, 1)).astype(np.float32),
        rng.uniform(0, 1, size=(n, 50)).astype(np.float32),
        rng.normal(size=(n, 50, 4)).astype(np.float32) if states else None,
    )


def test_segments_wait_in_order_and_each_queue_keeps_its_scale():
    written = []
    desk = RatingDesk(lambda segment, rating: written.append(rating))
    a, b = segments(2, 0), segments(1, 1)
    ids_a = desk.submit(a, "trial_a", "cartpole-balance", 3)
    ids_b = desk.submit(b, "trial_b", "cartpole-balance", 6)
    assert ids_a == segment_ids(a) and desk.waiting(5) == [*ids_a, *ids_b]
    shown = desk.next()
    assert (shown.segment_id, shown.queue, shown.classes) == (ids_a[0], "trial_a", 3)
    with pytest.raises(BadRating, match="outside 0..2"):
        desk.rate(ids_a[0], 5, "ada", 1.0)
    desk.rate(ids_b[0], 5, "ada", 1.0)  # trial_b rates on 6 classes
    assert [(r.segment_id, r.label, r.queue) for r in written] == [(ids_b[0], 5, "trial_b")]
    assert desk.progress() == {"rated": 1, "skipped": 0, "pending": 2}


@pytest.mark.parametrize("label", [-1, 3, 1.0, "1", True, None])
def test_a_rating_that_is_not_a_class_changes_nothing(label):
    written = []
    desk = RatingDesk(lambda segment, rating: written.append(rating))
    (segment_id,) = desk.submit(segments(1), "q", "cartpole-balance", 3)
    with pytest.raises(BadRating):
        desk.rate(segment_id, label, "ada", 1.0)
    assert written == [] and desk.next().segment_id == segment_id


def test_a_failed_write_leaves_the_segment_waiting():
    def full_disk(segment, rating):
        raise OSError("No space left on device")

    desk = RatingDesk(full_disk)
    (segment_id,) = desk.submit(segments(1), "q", "cartpole-balance", 3)
    with pytest.raises(OSError):
        desk.rate(segment_id, 1, "ada", 1.0)
    assert desk.next().segment_id == segment_id and desk.progress()["rated"] == 0


def test_answered_segments_are_never_queued_or_answered_again():
    skipped = []
    desk = RatingDesk(lambda s, r: None, on_skipped=lambda i, q: skipped.append((i, q)))
    batch = segments(3)
    first, second, third = desk.submit(batch, "q", "cartpole-balance", 3)
    desk.rate(first, 0, "ada", 1.0)
    assert desk.skip(second) == "q" and skipped == [(second, "q")]
    assert desk.submit(batch, "q", "cartpole-balance", 3) == [first, second, third]
    assert desk.waiting(5) == [third]  # only the unanswered one waits
    with pytest.raises(AlreadyRated):
        desk.rate(first, 1, "ada", 1.0)
    with pytest.raises(AlreadyRated, match="skipped"):
        desk.rate(second, 1, "ada", 1.0)
    with pytest.raises(UnknownSegment):
        desk.skip("0123456789abcdef")
    restarted = RatingDesk(lambda s, r: None, rated_ids=[first], skipped_ids=[second])
    restarted.submit(batch, "q", "cartpole-balance", 3)
    assert restarted.waiting(5) == [third]


def test_a_finished_trial_takes_its_segments_off_the_page():
    desk = RatingDesk(lambda s, r: None)
    desk.submit(segments(2, 0), "done", "cartpole-balance", 3)
    (kept,) = desk.submit(segments(1, 1), "running", "cartpole-balance", 3)
    assert desk.withdraw("done") == 2 and desk.waiting(5) == [kept]
    assert len(desk.pending_in("running")) == 1 and desk.pending_in("done") == []


def test_segments_without_physics_states_cannot_be_queued():
    desk = RatingDesk(lambda s, r: None)
    with pytest.raises(ValueError, match="physics states"):
        desk.submit(segments(1, states=False), "q", "cartpole-balance", 3)


def test_a_query_puts_on_the_page_only_segments_the_desk_has_not_seen():
    """The pool can hold one segment twice, and a trial started again samples its
    earlier attempt's segments again; the desk queues none of those twice, so a query
    that counted them would come back short."""
    from rbrl_ray.human.online import HumanRater

    pool = segments(5)
    candidates = Segments.concat([pool, pool.take(slice(1, 2))])  # the last one is #1 again
    ids = segment_ids(candidates)
    seen = {"rated": (pool.take(slice(0, 1)), np.array([1])), "skipped": [ids[2]],
            "waiting": [ids[3]]}  # fmt: skip
    assert HumanRater._new(candidates, seen, used=set()).tolist() == [1, 4]
    assert HumanRater._new(candidates, seen, used={ids[4]}).tolist() == [1]
