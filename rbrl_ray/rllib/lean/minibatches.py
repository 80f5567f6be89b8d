"""The row indices of every minibatch of one PPO update, planned up front.

RLlib's `MiniBatchCyclicIterator` cuts minibatches by slicing and concatenating
the train batch and, each time it wraps round, shuffles the whole batch in place
(`SampleBatch.shuffle`: one `np.random.permutation` of the rows, applied to every
column). `cyclic_minibatches` walks the same way over row indices instead of
rows, drawing the same permutations from the same global numpy RNG, so a learner
that gathers `rows[indices]` sees exactly the minibatches RLlib would have cut,
in the same order, without copying the batch 20 times per update.
"""

from __future__ import annotations

import numpy as np


def cyclic_minibatches(
    rows: int, minibatch_size: int, num_epochs: int, shuffle: bool = True
) -> list[np.ndarray]:
    """Row indices of each minibatch, until every row was seen `num_epochs` times.

    Mirrors `MiniBatchCyclicIterator.__iter__` for one module with
    `num_total_minibatches=0`: a minibatch that runs past the end takes the rest
    of the (current order of the) batch, the batch is reshuffled, and the
    minibatch is completed from the start of the new order.
    """
    if rows <= 0:
        raise ValueError(f"a train batch needs rows to cut minibatches from, got {rows}")
    order = np.arange(rows)
    start, epochs, plan = 0, 0, []
    while epochs < num_epochs:
        need, pieces = minibatch_size, []
        while start + need >= rows:  # RLlib wraps on `>=`: an exact fit wraps too
            pieces.append(order[start:])
            need -= rows - start
            start = 0
            epochs += 1
            if shuffle:
                order = order[np.random.permutation(rows)]
        end = start + need
        if end > start:
            pieces.append(order[start:end])
        plan.append(np.concatenate(pieces))
        start = end
    return plan
