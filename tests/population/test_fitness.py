"""Fitness (popbased.population.fitness): the noise test between members, Pareto fronts."""

import numpy as np
import pytest

from popbased.population.fitness import better, dominates, scores


def test_noise_test_needs_a_meaningful_gap():
    rng = np.random.default_rng(0)
    noisy_a, noisy_b = [30, 10, 45, 25, 50, 15], [28, 12, 40, 30, 20, 35]  # means 29.2 vs 27.5
    assert not better(noisy_a, noisy_b, 0.95, 2)[0]
    assert better(noisy_a, noisy_b, 0.0, 2)[0]  # confidence 0: any gap of means
    assert better(rng.normal(30, 5, 8), np.zeros(8), 0.95, 2)[0]
    ok, why = better([40.0], [0.0], 0.95, 2)
    assert not ok and "too few samples" in why
    assert not better(np.zeros(5), np.ones(5), 0.95, 2)[0]


def test_pareto_fitness_ranks_fronts():
    means = {"a": {"return": 30, "sustainability": 1.0, "equality": 0.9},
             "b": {"return": 20, "sustainability": 0.5, "equality": 0.8},   # dominated by a
             "c": {"return": 40, "sustainability": 0.0, "equality": 0.5}}   # front 0 with a
    s = scores(means, "pareto")
    assert s["a"] > s["b"] and s["c"] > s["b"]
    assert dominates(means["a"], means["b"]) and not dominates(means["a"], means["c"])
    assert scores(means, "equality") == {"a": 0.9, "b": 0.8, "c": 0.5}


def test_welfare_fitness_values_harvest_equality_and_sustainability():
    means = {"greedy": {"return": 40, "sustainability": 0.0, "equality": 0.7},   # 40*.7*.5 = 14
             "keeper": {"return": 30, "sustainability": 1.0, "equality": 0.9},   # 30*.9*1 = 27
             "idle": {"return": 5, "sustainability": 1.0, "equality": 0.95},     # 4.75
             "new": {"return": 30, "sustainability": float("nan"), "equality": float("nan")}}
    s = scores(means, "welfare")
    assert s["keeper"] == pytest.approx(27.0) and s["greedy"] == pytest.approx(14.0)
    assert s["keeper"] > s["greedy"] > s["idle"]
    assert np.isnan(s["new"])  # no episode ended with it seated: unknown, ranked last by PBT


def test_episode_samples_one_per_episode_a_member_played():
    """[pbt] samples = "episode": each member's return per 1,000 steps over its seats in each
    episode, with that episode's equality, sustainability and welfare; the per-seat,
    per-fragment batches are not samples then."""
    from types import SimpleNamespace

    from popbased.population.fitness import FitnessTracker

    batch = SimpleNamespace(rewards=np.ones((10, 2, 1)))
    episodes = [{"members": ["a"] * 3, "returns": [30.0, 60.0, 90.0], "steps": 2000, "gini": 0.2,
                 "depleted": False},
                {"members": ["b"] * 3, "returns": [10.0, 10.0, 10.0], "steps": 1000, "gini": 0.0,
                 "depleted": True},
                {"members": ["a", "snapshot", "gone"], "returns": [5.0, 0.0, 0.0], "steps": 500,
                 "gini": 0.5, "depleted": None}]
    fragment = SimpleNamespace(batches={"a": batch, "b": batch, "gone": batch}, episodes=episodes,
                               dropped=["gone"])
    tracker = FitnessTracker(["a", "b", "gone"], ["reward"], unit="episode")
    tracker.add(fragment)
    a, b = tracker.samples["a"], tracker.samples["b"]
    # a: 60 per seat over 2,000 steps = 30 per 1,000; then 5 over 500 = 10 per 1,000
    assert a["return"] == pytest.approx([30.0, 10.0]) and a["equality"] == pytest.approx([0.8, 0.5])
    assert a["sustainability"] == [1.0] and a["welfare"] == pytest.approx([30 * 0.8 * 1.0])
    assert b["return"] == [10.0] and b["welfare"] == pytest.approx([10 * 1.0 * 0.5])
    assert tracker.samples["gone"] == {k: [] for k in ("return", "sustainability", "equality", "welfare")}
    means = {m: tracker.means(m) for m in ("a", "b")}
    assert scores(means, "welfare") == pytest.approx({"a": 24.0, "b": 5.0})  # the mean of episodes'
    fragments = FitnessTracker(["a"], ["reward"])  # the default: one sample per seat and fragment
    fragments.add(SimpleNamespace(batches={"a": batch}, episodes=[], dropped=[]))
    assert fragments.samples["a"]["return"] == [1000.0, 1000.0] and "welfare" not in fragments.samples["a"]


def test_an_episode_begun_before_a_copy_is_not_the_copys_sample():
    """World seating's match carries the learner uid the episode began with: once PBT copied a
    donor into the member (a new uid), the episodes its old weights began are left out."""
    from types import SimpleNamespace

    from popbased.population.fitness import FitnessTracker

    uids = {"a": "new"}
    episode = {"members": ["a"] * 2, "returns": [10.0, 10.0], "steps": 1000, "gini": 0.0, "depleted": False}
    tracker = FitnessTracker(["a"], ["reward"], unit="episode", uid=uids.get)
    tracker.add(SimpleNamespace(batches={}, dropped=[], episodes=[
        {**episode, "match": ("a", "old")}, {**episode, "match": ("a", "new"), "returns": [20.0, 20.0]},
        {**episode, "gini": float("nan")}]))  # no match (mixed seating's kind): kept; NaN left out
    assert tracker.samples["a"]["return"] == [20.0, 10.0] and tracker.samples["a"]["equality"] == [1.0]


def test_a_gap_that_is_not_a_number_copies_nothing():
    assert better([20.0, 30.0, 25.0], [10.0, float("nan"), 12.0], 0.95, 2) == (False, "no finite gap (nan)")
