"""Learner batches (popbased.ppo.batch): joining seats."""

import numpy as np

from popbased.ppo.batch import concat

from conftest import make_batch


def test_concat_joins_seats():
    a, b = make_batch(seats=2), make_batch(seats=3, seed=1)
    joined = concat([a, b])
    assert joined.obs.shape[:2] == (20, 5) and joined.last_value.shape == (5,)
    assert np.array_equal(joined.actions[:, 2:], b.actions)
