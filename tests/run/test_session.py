"""Who sits where (popbased.run.session): self-play seating is balanced; a league's seating
asks its matchmaker with the rule, phase and generation it is set to, and times it."""

from types import SimpleNamespace

import numpy as np

from popbased.run.session import MatchSeats, SelfPlaySeats, seating


def test_seating_is_balanced():
    rng = np.random.default_rng(0)
    seats = seating(rng, ["a", "b", "c"], workers=2, seats=14)
    flat = [m for w in seats for m in w]
    assert len(seats) == 2 and all(len(w) == 14 for w in seats)
    assert sorted(flat.count(m) for m in "abc") == [9, 9, 10]


def test_self_play_seats_every_learner_and_plays_no_matches():
    collector = SimpleNamespace(shards=2, seats_per_worker=7)
    seats, matches = SelfPlaySeats().plan(np.random.default_rng(1), collector, {"m0": 0, "m1": 0})
    assert matches is None and [len(w) for w in seats] == [7, 7]
    assert sorted({m for w in seats for m in w}) == ["m0", "m1"]


def test_match_seats_ask_the_matchmaker_with_their_rule_phase_and_generation():
    asked = []

    class Matchmaker:
        players = 7

        def plan(self, rng, workers, envs, rule, phase, generation):
            asked.append((workers, envs, rule, phase, generation))
            return [["a"] * 7 * envs] * workers, [["match"] * envs] * workers

    seats = MatchSeats(Matchmaker(), "pfsp")
    seats.generation = 3
    collector = SimpleNamespace(shards=2, seats_per_worker=14)
    seats.plan(np.random.default_rng(0), collector, {})
    seats.phase, seats.rule = "eval", "uniform"
    seats.plan(np.random.default_rng(0), collector, {})
    assert asked == [(2, 2, "pfsp", "train", 3), (2, 2, "uniform", "eval", 3)]
    assert seats.plan_s > 0
