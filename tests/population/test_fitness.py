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
