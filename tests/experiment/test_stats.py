"""popbased.experiment.stats against values computed by hand here (numpy trimming and pair
counting, never rliable itself): IQM, mean and median, probability of improvement (exactly 1,
0 and 0.5, and a count with ties), CIs that hold the point estimate and narrow with more
seeds, performance profiles, normalisation, a run's score, depletion both ways with patch
deaths and harvest efficiency on episode summaries made by hand and by the real EpisodeTracker,
and on episodes-table rows without the patch counts (older evaluations). Few bootstrap
replications: quick."""

import json

import numpy as np
import pytest

from popbased.env.metrics import EpisodeTracker
from popbased.errors import BadInput
from popbased.experiment import stats

REPS = 300  # enough for the interval checks below, quick


def iqm_by_hand(values):
    """The 25%-trimmed mean as scipy cuts it: int(0.25 n) values off each end, pooled."""
    x = np.sort(np.asarray(values, dtype=float).ravel())
    cut = int(0.25 * x.size)
    return float(x[cut:x.size - cut].mean())


def poi_by_hand(x, y):
    """P(X > Y) over all pairs of runs, ties counting one half."""
    x, y = np.asarray(x, float)[:, None], np.asarray(y, float)[None, :]
    return float((x > y).mean() + 0.5 * (x == y).mean())


# ------------------------------------------------------------------ aggregate
def test_iqm_mean_median_of_known_arrays():
    eight = [100.0, 1, 2, 3, 4, -50, 5, 6]  # sorted: -50 1 | 2 3 4 5 | 6 100
    ten = np.arange(10.0) ** 2  # 0 1 | 4 9 16 25 36 49 | 64 81
    out = stats.aggregate({"eight": eight, "ten": ten}, reps=REPS)
    assert out["eight"]["iqm"].point == pytest.approx(3.5)
    assert out["eight"]["iqm"].point == pytest.approx(iqm_by_hand(eight))
    assert out["eight"]["mean"].point == pytest.approx(71 / 8)
    assert out["ten"]["iqm"].point == pytest.approx((4 + 9 + 16 + 25 + 36 + 49) / 6)
    assert out["ten"]["iqm"].point == pytest.approx(iqm_by_hand(ten))
    assert out["ten"]["mean"].point == pytest.approx(28.5)
    # rliable's median is the median over tasks of the per-task mean: one task, the mean
    assert out["ten"]["median"].point == pytest.approx(28.5)
    assert set(out["eight"]) == {"iqm", "mean", "median"}


def test_seeds_by_tasks():
    scores = np.array([[0.0, 10, 1], [1, 20, 2], [2, 30, 3], [3, 40, 100]])  # 4 seeds x 3 tasks
    out = stats.aggregate({"a": scores}, reps=REPS)["a"]
    assert out["iqm"].point == pytest.approx(iqm_by_hand(scores))  # pooled runs x tasks
    assert out["mean"].point == pytest.approx(scores.mean())
    assert out["median"].point == pytest.approx(np.median(scores.mean(axis=0)))  # of 1.5, 25, 26.5
    assert out["median"].point == pytest.approx(25.0)


def test_ci_holds_the_point_and_narrows_with_more_seeds():
    rng = np.random.default_rng(7)
    few, many = rng.normal(0.5, 0.2, 5), rng.normal(0.5, 0.2, 80)
    out = stats.aggregate({"few": few, "many": many}, reps=REPS)
    for arm in out.values():
        for e in arm.values():
            assert e.low <= e.point <= e.high
    width = {arm: out[arm]["iqm"].high - out[arm]["iqm"].low for arm in out}
    assert width["many"] < 0.6 * width["few"]
    assert out["many"]["iqm"].low < 0.5 < out["many"]["iqm"].high


def test_ci_reproducible_and_independent_of_other_arms():
    a = [0.1, 0.4, 0.35, 0.8, 0.6]
    alone = stats.aggregate({"a": a}, reps=REPS)
    beside = stats.aggregate({"b": [1.0, 2.0, 3.0], "a": a}, reps=REPS)
    assert alone["a"] == beside["a"]
    assert stats.aggregate({"a": a}, reps=REPS, seed=1)["a"] != alone["a"]  # the seed is used
    np.random.seed(123)  # rliable resamples with numpy's global generator: seeded, then restored
    expected = np.random.get_state()[1].copy()
    stats.aggregate({"a": a}, reps=REPS)
    assert np.array_equal(np.random.get_state()[1], expected)
    one_value = stats.aggregate({"c": [2.0, 2.0, 2.0]}, reps=REPS)["c"]["iqm"]
    assert (one_value.point, one_value.low, one_value.high) == (2.0, 2.0, 2.0)


def test_pandas_left_as_it_was():
    """stats imports arch (rliable's bootstrap) with pandas' deprecate_kwarg taking its old form
    for the import only: afterwards pandas' own is back."""
    import inspect

    from pandas.util import _decorators

    stats.aggregate({"a": [1.0, 2.0]}, reps=10)
    assert list(inspect.signature(_decorators.deprecate_kwarg).parameters)[0] == "klass"


@pytest.mark.parametrize("bad", [[], [[]], [1.0, float("nan")], np.zeros((2, 2, 2))])
def test_bad_scores_refused(bad):
    with pytest.raises(ValueError, match="arm 'x'"):
        stats.aggregate({"x": bad}, reps=REPS)


# ------------------------------------------------------------------ probability of improvement
def test_probability_of_improvement_exactly_one_zero_and_half():
    scores = {"hi": [5.0, 6, 7], "lo": [1.0, 2, 3], "flat": [4.0, 4, 4], "flat2": [4.0, 4, 4, 4],
              "spread": [1.0, 5, 9]}
    out = stats.probability_of_improvement(
        scores, [("hi", "lo"), ("lo", "hi"), ("flat", "flat2"), ("spread", "spread")], reps=REPS)
    assert out[("hi", "lo")].as_dict() == {"point": 1.0, "low": 1.0, "high": 1.0}
    assert out[("lo", "hi")].as_dict() == {"point": 0.0, "low": 0.0, "high": 0.0}
    assert out[("flat", "flat2")].as_dict() == {"point": 0.5, "low": 0.5, "high": 0.5}  # ties
    same = out[("spread", "spread")]
    assert same.point == 0.5 and same.low < 0.5 < same.high  # the two arms resampled apart


def test_probability_of_improvement_counts_pairs():
    scores = {"x": [3.0, 5, 6], "y": [2.0, 4], "t": [2.0, 3], "u": [2.0]}
    out = stats.probability_of_improvement(scores, [("x", "y"), ("t", "u")], reps=REPS)
    assert out[("x", "y")].point == pytest.approx(5 / 6) == pytest.approx(poi_by_hand([3, 5, 6], [2, 4]))
    assert out[("t", "u")].point == pytest.approx(0.75) == pytest.approx(poi_by_hand([2, 3], [2]))
    for e in out.values():
        assert e.low <= e.point <= e.high


def test_probability_of_improvement_averages_tasks():
    x = np.array([[1.0, 0.0], [2.0, 0.0]])  # task 0: x beats y; task 1: y beats x
    y = np.array([[0.0, 5.0], [0.0, 6.0]])
    out = stats.probability_of_improvement({"x": x, "y": y}, [("x", "y")], reps=REPS)
    assert out[("x", "y")].point == pytest.approx(0.5)


def test_probability_of_improvement_refuses_unknown_arms_and_other_tasks():
    with pytest.raises(ValueError, match="no scores for arm 'z'"):
        stats.probability_of_improvement({"x": [1.0]}, [("x", "z")], reps=REPS)
    with pytest.raises(ValueError, match="same tasks"):
        stats.probability_of_improvement({"x": np.ones((3, 2)), "y": np.ones(3)}, [("x", "y")], reps=REPS)


def test_mean_interval_is_aggregates_mean_alone():
    scores = {"a": [0.3, -1.2, 2.5, 0.7, 0.71, 4.0], "b": np.array([[1.0, 2.0], [3.0, 5.0], [0.5, 0.0]])}
    full = stats.aggregate(scores, reps=REPS)
    alone = stats.mean_interval(scores, reps=REPS)
    for arm in scores:
        assert alone[arm].as_dict() == pytest.approx(full[arm]["mean"].as_dict(), abs=1e-12)
    assert alone["a"].point == pytest.approx(np.mean(scores["a"]))


# ------------------------------------------------------------------ statistics read back by multiset
@pytest.mark.parametrize("runs", [1, 2, 3, 4])
def test_resamples_counts_the_multisets_of_every_draw(runs):
    import itertools

    draws = {tuple(sorted(d)) for d in itertools.product(range(runs), repeat=runs)}
    assert stats.resamples(np.zeros((runs, 1))) == len(draws)
    assert stats.resamples(np.zeros((runs, 2)), np.zeros((runs, 1))) == len(draws) ** 3


@pytest.mark.parametrize("name,scores", [
    ("three", np.array([[0.3], [-1.2], [2.5], [0.7], [0.71]])),
    ("three", np.array([[0.3, 1.0], [-1.2, 2.0], [2.5, -3.0]])),
    ("poi", (np.array([[0.1], [0.5], [0.4]]), np.array([[0.2], [0.45], [0.3]]))),
])
def test_a_statistic_read_back_by_multiset_gives_rliables_intervals(name, scores, monkeypatch):
    """The same seeded bootstrap with rliable's own statistic and with it read back: equal up to
    a sum's rounding, the statistic computed once per different resample, not per replication."""
    library, _ = stats._rliable()
    memo = stats.ByMultiset(stats._func(name))
    made = []
    for func in (stats._func(name), memo):
        with stats._seeded(3):
            points, intervals = library.get_interval_estimates({"x": scores}, func, reps=2_000)
        made.append((np.atleast_1d(points["x"]), intervals["x"]))
    np.testing.assert_allclose(made[1][0], made[0][0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(made[1][1], made[0][1], rtol=0, atol=1e-12)
    arrays = scores if isinstance(scores, tuple) else (scores,)
    assert len(memo.seen) <= stats.resamples(*arrays) + 1  # + the point estimate on the data
    assert len(memo.seen) < 2_000 // 4
    used = []

    class Seen(stats.ByMultiset):
        def __init__(self, func):
            super().__init__(func)
            used.append(self)

    monkeypatch.setattr(stats, "ByMultiset", Seen)
    points, intervals = stats._bootstrap(name, scores, 2_000, 3)  # reads back here: few multisets
    assert len(used) == 1 and 0 < len(used[0].seen) < 2_000 // 4
    np.testing.assert_allclose(points, made[0][0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(intervals, made[0][1], rtol=0, atol=1e-12)


# ------------------------------------------------------------------ performance profile
def test_performance_profile_fractions_above_tau():
    scores = {"a": [0.1, 0.5, 0.9, 1.3], "b": np.array([[0.2, 0.4], [0.6, 1.0]])}
    taus = np.array([0.0, 0.3, 0.5, 1.0, 2.0])
    out = stats.performance_profile(scores, taus, reps=REPS)
    assert out["a"].fraction.tolist() == pytest.approx([1.0, 0.75, 0.5, 0.25, 0.0])  # > tau, strictly
    assert out["b"].fraction.tolist() == pytest.approx([1.0, 0.75, 0.5, 0.0, 0.0])
    for p in out.values():
        assert np.array_equal(p.taus, taus)
        assert np.all((0 <= p.low) & (p.low <= p.fraction) & (p.fraction <= p.high) & (p.high <= 1))
    again = stats.performance_profile(scores, taus, reps=REPS)
    assert np.array_equal(again["a"].low, out["a"].low) and np.array_equal(again["a"].high, out["a"].high)


# ------------------------------------------------------------------ one run
def test_normalise():
    assert stats.normalise(20.0, 20.0, 100.0) == 0.0
    assert stats.normalise(100.0, 20.0, 100.0) == 1.0
    assert stats.normalise(47.6, 20.0, 100.0) == pytest.approx(27.6 / 80)
    assert stats.normalise(10.0, 20.0, 100.0) == pytest.approx(-0.125)  # worse than random
    assert isinstance(stats.normalise(60, 20, 100), float)
    per_task = stats.normalise(np.array([[30.0, 5.0], [50.0, 9.0]]), np.array([20.0, 1.0]), np.array([60.0, 11.0]))
    np.testing.assert_allclose(per_task, [[0.25, 0.4], [0.75, 0.8]])
    with pytest.raises(ValueError, match="must differ from random"):
        stats.normalise(5.0, 3.0, 3.0)


def test_run_score_per_1000_steps():
    episodes = [{"per_capita_return": 50.0, "steps": 5000},   # 10 per 1,000 steps
                {"per_capita_return": 22.0, "steps": 1100},   # 20
                {"per_capita_return": 0.0, "steps": 2000}]    # 0
    assert stats.run_score(episodes) == pytest.approx(10.0)
    assert stats.run_score(episodes[:2]) == pytest.approx(15.0)  # episodes weigh the same
    with pytest.raises(ValueError, match="at least one episode"):
        stats.run_score([])
    with pytest.raises(ValueError, match="episode 1: steps must be positive"):
        stats.run_score([episodes[0], {"per_capita_return": 1.0, "steps": 0}])


def _episode(depleted, proxy):
    return {"per_capita_return": 1.0, "steps": 1000, "depleted": depleted, "proxy_depleted": proxy}


def test_depletion_both_ways():
    episodes = [_episode(True, True), _episode(False, True), _episode(False, False), _episode(False, True)]
    assert stats.depletion(episodes) == {"episodes": 4, "world": 0.25, "proxy": 0.75, "patch_deaths": None}
    with pytest.raises(ValueError, match="episode 1: no world count"):
        stats.depletion([_episode(True, True), _episode(None, True)])
    with pytest.raises(ValueError, match="at least one episode"):
        stats.depletion([])


def test_run_score_and_depletion_read_the_tracker_summary():
    """The fields are the ones popbased.env.metrics.EpisodeTracker writes: 60 steps of no reward
    with apples left is the proxy's depletion, not the world's."""
    tracker = EpisodeTracker(2)
    tracker.reset(apples=10.0)
    tracker.update(np.array([1.0, 3.0]), eaten_by=[0, 1], zaps=[], apples=8.0)
    for _ in range(59):
        tracker.update(np.zeros(2), eaten_by=[], zaps=[], apples=8.0)
    alive = tracker.summary()
    tracker.reset(apples=2.0)
    tracker.update(np.array([1.0, 1.0]), eaten_by=[0, 1], zaps=[], apples=0.0)
    for _ in range(9):
        tracker.update(np.zeros(2), eaten_by=[], zaps=[], apples=0.0)
    gone = tracker.summary()
    assert stats.run_score([alive]) == pytest.approx(1000 * 2.0 / 60)
    assert stats.run_score([alive, gone]) == pytest.approx((1000 * 2.0 / 60 + 1000 * 1.0 / 10) / 2)
    assert stats.depletion([alive]) == {"episodes": 1, "world": 0.0, "proxy": 1.0, "patch_deaths": None}
    assert stats.depletion([alive, gone]) == {"episodes": 2, "world": 0.5, "proxy": 0.5,
                                              "patch_deaths": None}


def test_patch_deaths_mean_fraction_per_episode():
    episodes = [dict(_episode(True, True), patches=6, patch_deaths=6),    # 1
                dict(_episode(False, True), patches=6, patch_deaths=3),   # 0.5
                dict(_episode(False, False), patches=6, patch_deaths=0),  # 0
                dict(_episode(False, False), patches=4, patch_deaths=1)]  # 0.25
    out = stats.depletion(episodes)
    assert out["patch_deaths"] == pytest.approx((1 + 0.5 + 0 + 0.25) / 4)
    assert (out["world"], out["proxy"]) == (0.25, 0.5)
    # one episode without the counts: no patch deaths for the run, depletion all the same
    partial = episodes[:3] + [_episode(False, False)]
    assert stats.depletion(partial)["patch_deaths"] is None
    assert stats.depletion(partial)["world"] == 0.25


def test_harvest_efficiency_by_hand():
    # apples per player per 1,000 steps: 2 players eating 60 and 40 apples in 500 steps is 100;
    # 3 players eating 12 each in 1,200 steps is 10; against a ceiling of 125 per 1,000 steps
    episodes = [{"steps": 500, "apples_eaten": [60, 40]}, {"steps": 1200, "apples_eaten": [12, 12, 12]}]
    assert stats.harvest_efficiency(episodes, 125.0) == pytest.approx((100 / 125 + 10 / 125) / 2)
    assert stats.harvest_efficiency(episodes[:1], 100.0) == pytest.approx(1.0)
    # an episodes table's row: the per-capita mean, and NaN where a field is missing
    row = {"steps": 500, "apples_eaten_per_capita": 50.0, "patches": float("nan")}
    assert stats.harvest_efficiency([row], 125.0) == pytest.approx(0.8)
    with pytest.raises(ValueError, match="episode 0: no apples eaten"):
        stats.harvest_efficiency([{"steps": 500}], 125.0)
    with pytest.raises(ValueError, match="steps must be positive"):
        stats.harvest_efficiency([{"steps": 0, "apples_eaten": [1]}], 125.0)
    with pytest.raises(ValueError, match="ceiling must be a positive"):
        stats.harvest_efficiency(episodes, 0.0)
    with pytest.raises(ValueError, match="at least one episode"):
        stats.harvest_efficiency([], 125.0)


def test_old_table_rows_without_patch_counts_still_aggregate():
    """Rows as pandas reads an episodes.csv written before the patch counts: no such
    columns; or written with them but empty (NaN)."""
    old = [{"steps": 1000, "per_capita_return": 50.0, "depleted": False, "proxy_depleted": True,
            "apples_eaten_per_capita": 50.0},
           {"steps": 2000, "per_capita_return": 80.0, "depleted": True, "proxy_depleted": True,
            "apples_eaten_per_capita": 80.0}]
    assert stats.depletion(old) == {"episodes": 2, "world": 0.5, "proxy": 1.0, "patch_deaths": None}
    empty = [dict(e, patches=float("nan"), patch_deaths=float("nan")) for e in old]
    assert stats.depletion(empty)["patch_deaths"] is None
    assert stats.harvest_efficiency(old, 100.0) == pytest.approx((0.5 + 0.4) / 2)
    runs = {"arm": [stats.depletion(old)["world"], stats.depletion(empty)["world"]]}
    assert stats.aggregate(runs, reps=REPS)["arm"]["mean"].point == pytest.approx(0.5)


def test_patch_deaths_and_efficiency_read_the_tracker_summary():
    tracker = EpisodeTracker(2)
    tracker.reset(apples=5.0, patch_apples=[2.0, 3.0])
    tracker.update(np.array([1.0, 1.0]), eaten_by=[0, 1], zaps=[], apples=3.0, patch_apples=[0.0, 3.0])
    for _ in range(9):
        tracker.update(np.zeros(2), eaten_by=[], zaps=[], apples=3.0, patch_apples=[0.0, 3.0])
    summary = tracker.summary()
    assert stats.depletion([summary])["patch_deaths"] == 0.5
    assert stats.harvest_efficiency([summary], 50.0) == pytest.approx(1000 * 1.0 / 10 / 50.0)


def test_a_cache_gives_the_same_intervals_without_bootstrapping_again(tmp_path, monkeypatch):
    """stats.cached: intervals kept by their inputs in a JSON file, read back bit for bit; new
    inputs (another seed's score, other reps) are bootstrapped; an unreadable file starts afresh."""
    scores = {"a": [0.1, 0.25, 0.15, 0.3, 0.05], "b": [0.2, 0.3, 0.35, 0.1, 0.4]}
    plain = stats.aggregate(scores, reps=300)
    plain_poi = stats.probability_of_improvement(scores, [("a", "b")], reps=100)
    path = tmp_path / "cache.json"
    with stats.cached(path):
        assert stats.aggregate(scores, reps=300) == plain
        assert stats.probability_of_improvement(scores, [("a", "b")], reps=100) == plain_poi
    assert len(json.loads(path.read_text())) == 3  # two arms' aggregates and one pair
    library, _ = stats._rliable()
    calls = []
    real = library.get_interval_estimates
    monkeypatch.setattr(library, "get_interval_estimates", lambda *a, **k: calls.append(1) or real(*a, **k))
    with stats.cached(path):
        assert stats.aggregate(scores, reps=300) == plain
        assert stats.probability_of_improvement(scores, [("a", "b")], reps=100) == plain_poi
        assert calls == []  # every one read back
        changed = stats.aggregate({"a": scores["a"][:4] + [0.06]}, reps=300)
        assert calls == [1] and changed != {"a": plain["a"]}
        stats.aggregate({"a": scores["a"]}, reps=200)
        assert len(calls) == 2
    assert stats._CACHE is None  # nothing kept outside the block
    path.write_text("{not json")
    with stats.cached(path):
        assert stats.aggregate(scores, reps=300) == plain
    assert len(json.loads(path.read_text())) == 2


def test_a_cache_is_written_as_it_grows_so_a_stopped_report_keeps_it(tmp_path, monkeypatch):
    """Within the block the file is rewritten every FLUSH_SECONDS of new estimates (here at
    every one): a report killed part-way leaves what it had bootstrapped."""
    monkeypatch.setattr(stats, "FLUSH_SECONDS", 0.0)
    path = tmp_path / "cache.json"
    with stats.cached(path):
        stats.aggregate({"a": [0.1, 0.2, 0.3]}, reps=100)
        assert len(json.loads(path.read_text())) == 1  # before the block ends
        stats.aggregate({"b": [0.4, 0.2, 0.3]}, reps=100)
        assert len(json.loads(path.read_text())) == 2
    monkeypatch.setattr(stats, "FLUSH_SECONDS", 3600.0)
    with stats.cached(path):
        stats.aggregate({"c": [0.4, 0.5, 0.3]}, reps=100)
        assert len(json.loads(path.read_text())) == 2  # not yet: written at the block's end
    assert len(json.loads(path.read_text())) == 3


def test_a_cache_block_bootstraps_on_workers_with_the_same_numbers(tmp_path, monkeypatch):
    """stats.cached(path, workers=2): the arms of one `aggregate` and the pairs of one
    `probability_of_improvement` are bootstrapped on 2 spawned processes, each seeding its own
    generator: the numbers are the ones one process makes, bit for bit; the workers stop with
    the block. POPBASED_REPORT_WORKERS chooses how many; a bad value is one line."""
    monkeypatch.setattr(stats, "POOL_MIN_REPS", 0)  # a real report's 50,000 replications, not tests' 300
    scores = {"a": [0.1, 0.25, 0.15, 0.3, 0.05], "b": [0.2, 0.3, 0.35, 0.1, 0.4], "c": [0.5, 0.1, 0.2, 0.3, 0.2]}
    pairs = [("a", "b"), ("b", "c"), ("a", "c")]
    alone = stats.aggregate(scores, reps=300), stats.probability_of_improvement(scores, pairs, reps=100)
    with stats.cached(tmp_path / "cache.json", workers=2):
        pooled = stats.aggregate(scores, reps=300), stats.probability_of_improvement(scores, pairs, reps=100)
        pool = stats._POOL[1]
        assert pool is not None and len(pool._processes) == 2  # they did start
    assert pooled == alone
    assert stats._POOL is None and pool._shutdown_thread
    with stats.cached(tmp_path / "other.json", workers=1):
        assert stats.aggregate(scores, reps=300) == alone[0] and stats._POOL[1] is None
    monkeypatch.setattr(stats, "POOL_MIN_REPS", 20_000)
    with stats.cached(tmp_path / "small.json", workers=2):  # 3 x 300 replications: not worth workers
        assert stats.aggregate(scores, reps=300) == alone[0] and stats._POOL[1] is None
    class Broken:  # a worker that died mid-way: this process does the work instead
        def map(self, *args):
            raise stats.BrokenProcessPool("killed")

        def shutdown(self, **_):
            pass

    monkeypatch.setattr(stats, "POOL_MIN_REPS", 0)
    with stats.cached(tmp_path / "broken.json", workers=2):
        stats._POOL[1] = Broken()
        assert stats.aggregate(scores, reps=300) == alone[0] and stats._POOL[0] == 1
    import __main__

    monkeypatch.setattr(__main__, "__file__", "<stdin>", raising=False)  # spawned workers could not import it
    with stats.cached(tmp_path / "stdin.json", workers=2):
        assert stats.aggregate(scores, reps=300) == alone[0] and stats._POOL[1] is None
    monkeypatch.setenv("POPBASED_REPORT_WORKERS", "3")
    assert stats.report_workers() == 3
    monkeypatch.delenv("POPBASED_REPORT_WORKERS")  # by default the idle CPUs, at least one
    monkeypatch.setattr(stats.os, "sched_getaffinity", lambda pid: set(range(4)))
    monkeypatch.setattr(stats.os, "getloadavg", lambda: (1.2, 0.0, 0.0))
    assert stats.report_workers() == 3
    monkeypatch.setattr(stats.os, "getloadavg", lambda: (5.0, 0.0, 0.0))
    assert stats.report_workers() == 1
    monkeypatch.setenv("POPBASED_REPORT_WORKERS", "none")
    with pytest.raises(BadInput, match="POPBASED_REPORT_WORKERS='none': expected a whole number") as err:
        stats.report_workers()
    assert "\n" not in str(err.value)
