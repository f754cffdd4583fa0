"""Per-episode metrics (popbased.env.metrics): Gini, useful zaps, depletion, aggregates."""

import math

import numpy as np
import pytest

from popbased.env.metrics import EpisodeTracker, aggregate, gini


def test_gini_hand_checked():
    assert gini([1, 1, 1, 1]) == 0.0
    # one of n has everything: 1 - 1/n
    assert gini([0, 0, 0, 4]) == pytest.approx(0.75)
    # [1, 2, 3]: sum|xi-xj| = 8, 2 n^2 mean = 2*9*2 = 36
    assert gini([1, 2, 3]) == pytest.approx(8 / 36)
    assert math.isnan(gini([-1, 1]))
    assert gini([0, 0]) == 0.0


def _tracker(**kw):
    return EpisodeTracker(3, series_every=2, useful_zap_window=3, proxy_window=4, **kw)


def test_useful_zaps_count_hits_on_recent_harvesters():
    t = _tracker()
    t.reset(10)
    t.update(np.array([0, 1.0, 0]), eaten_by=[1], zaps=[], apples=9)       # step 1: p1 eats
    t.update(np.zeros(3), eaten_by=[], zaps=[(0, 1)], apples=9)            # step 2: hit p1 (ate 1 ago)
    t.update(np.zeros(3), eaten_by=[], zaps=[(2, 0)], apples=9)            # step 3: hit p0 (never ate)
    t.update(np.zeros(3), eaten_by=[], zaps=[(0, 1)], apples=9)            # step 4: p1 ate 3 ago -> not useful
    s = t.summary()
    assert s["zap_hits"] == [2, 0, 1]
    assert s["zapped"] == [1, 2, 0]
    assert s["useful_zaps"] == [1, 0, 0]


def test_depletion_from_world_and_proxy():
    t = _tracker()
    t.reset(2)
    t.update(np.array([1.0, 0, 0]), [0], [], apples=1)
    t.update(np.array([0, 1.0, 0]), [1], [], apples=0)   # last apple goes at step 2
    for _ in range(5):
        t.update(np.zeros(3), [], [], apples=0)
    s = t.summary()
    assert s["depleted"] is True and s["depletion_step"] == 2
    # last reward at step 2; window 4 -> proxy fires at step 6
    assert s["proxy_depleted"] is True and s["proxy_depletion_step"] == 6
    assert s["apples_min"] == 0 and s["apples_initial"] == 2
    assert s["returns"] == [1.0, 1.0, 0.0]
    assert s["per_capita_return"] == pytest.approx(2 / 3)
    # series every 2 steps plus the final step 7
    assert s["series"]["step"] == [2, 4, 6, 7]
    assert s["series"]["apples"] == [0.0, 0.0, 0.0, 0.0]


def test_no_world_counter_reports_none():
    t = EpisodeTracker(2, counts_zaps_fired=False)
    t.reset(None)
    t.update(np.array([1.0, 1.0]), [0, 1], [])
    s = t.summary()
    assert s["depleted"] is None and s["zaps_fired"] is None


def test_aggregate_means_and_fractions():
    t = _tracker()
    eps = []
    for depleted in (True, False):
        t.reset(1)
        t.update(np.array([1.0, 0, 0]), [0], [], apples=0 if depleted else 1)
        eps.append(t.summary())
    agg = aggregate(eps)
    assert agg["episodes"] == 2
    assert agg["depleted_fraction"] == 0.5
    assert agg["per_capita_return"]["mean"] == pytest.approx(1 / 3)
