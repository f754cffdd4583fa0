"""Matchmaking (popbased.league.matchmaking): PFSP weights, and matches that seat the right
players."""

import numpy as np
import pytest

from popbased.league import matchmaking
from popbased.league.matchmaking import Matchmaker
from popbased.league.spec import load, parse

from conftest import POPS, league_text, write_league


def spec_for(tmp_path, **kw):
    return load(write_league(tmp_path, league_text(**kw)))


def test_pfsp_prefers_the_background_the_focal_does_worst_against():
    w = matchmaking.weights("pfsp", {"a": 10.0, "b": 30.0, "c": 20.0}, ["a", "b", "c", "d"], 2.0)
    assert w[0] == w[3] > w[2] > w[1] > 0  # worst (a) and never met (d) first; the best still some
    u = matchmaking.weights("uniform", {"a": 10.0}, ["a", "b"], 2.0)
    assert list(u) == [0.5, 0.5]


def test_matches_seat_the_right_players(tmp_path):
    spec = spec_for(tmp_path)
    mm = Matchmaker(spec, {"open": ["open/m0", "open/m1"], "no_zap": ["no_zap/m0", "no_zap/m1"]}, 7)
    mm.snapshots = {"open@g1": "open@g1"}
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(300):
        match = mm.match(rng, "uniform", "train", 1)
        seats = mm.seats(rng, match)
        mode = spec.mode(match.mode)
        assert len(match.focal_seats) == mode.focal
        focal_pop = match.focal
        assert all(seats[s].startswith(focal_pop + "/") for s in match.focal_seats)
        others = [seats[s] for s in range(7) if s not in match.focal_seats]
        background = match.background
        if background in ("open", "no_zap"):
            assert background != focal_pop and all(o.startswith(background + "/") for o in others)
        elif background == "random":
            assert set(others) == {"random"}
        elif background == "open@g1":
            assert set(others) == {"open@g1"}
        else:
            assert background == "self" and not others
        seen.add((match.mode, background))
    assert {b for _, b in seen} == {"self", "open", "no_zap", "random", "open@g1"}


def test_pfsp_weights_are_a_distribution():
    w = matchmaking.weights("pfsp", {}, ["x"], 2.0)
    assert list(w) == [1.0]
    # the focal does worst against a, best against b; d was never met (weighs as the hardest)
    w = matchmaking.weights("pfsp", {"a": 1.0, "b": 5.0, "c": 3.0}, ["a", "b", "c", "d"], 2.0)
    raw = [1.0 + 0.1, 0.0 + 0.1, 0.5 ** 2 + 0.1, 1.0 + 0.1]
    assert w == pytest.approx([r / sum(raw) for r in raw]) and w.sum() == pytest.approx(1.0)
    assert list(matchmaking.weights("uniform", {"a": 1.0}, ["a", "b", "c", "d"], 2.0)) == [0.25] * 4
    spec = parse({"league": {"populations": [str(POPS / "open.toml")], "size": 2}}, "t", POPS)
    assert matchmaking.sources(spec, "open", []) == ["random"]
