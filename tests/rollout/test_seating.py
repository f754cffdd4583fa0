"""Who plays each seat of a shard (popbased.rollout.seating): self-play reseats every fragment,
an env keeps its match until its episode ends (a new match on the same seats takes it at its
next episode start, inside a fragment too), and which players a shard must (re)load."""

from types import SimpleNamespace

import numpy as np
import pytest

from popbased.errors import BadInput
from popbased.ppo.actions import RANDOM
from popbased.rollout.seating import Seating, to_load

ALL = np.ones(4, dtype=bool)
NONE = np.zeros(4, dtype=bool)


def test_self_play_reseats_and_says_which_seats_changed_hands():
    seating = Seating(num_envs=2, players=2)
    assert seating.assign(["a", "b", "a", "b"], None, NONE).all()  # the first fragment: every seat
    assert seating.assign(["a", "b", "a", "b"], None, NONE) is None  # nobody moved
    changed = seating.assign(["b", "b", "a", "b"], None, NONE)
    assert changed.tolist() == [True, False, False, False]
    assert seating.episode_fields(0) == {"members": ["b", "b"]}
    with pytest.raises(BadInput, match="seat mapping has 3 entries; this worker has 4 seats"):
        seating.assign(["a", "b", "a"], None, ALL)


def test_an_env_keeps_its_match_until_its_episode_starts_again():
    seating = Seating(num_envs=2, players=2)
    seating.assign(["a", "b", "c", "d"], ["m1", "m2"], ALL)
    mid_episode_of_env_0 = np.array([False, False, True, True])
    changed = seating.assign(["x", "x", "y", "y"], ["m3", "m4"], mid_episode_of_env_0)
    assert list(seating.seats) == ["a", "b", "y", "y"] and seating.matches == ["m1", "m4"]
    assert changed.tolist() == [False, False, True, True]
    assert seating.episode_fields(1) == {"match": "m4", "members": ["y", "y"]}
    with pytest.raises(BadInput, match="1 matches for 2 envs"):
        seating.assign(["a"] * 4, ["m1"], ALL)


def test_a_new_match_on_the_same_seats_takes_the_env_at_its_next_episode_start_mid_fragment():
    """World seating after a PBT copy: the world's member stays, its match (member, learner
    uid) changes; episodes ending of themselves rarely end on a fragment boundary, so the new
    match must not wait for one."""
    seating = Seating(num_envs=2, players=2)
    seating.assign(["a", "a", "b", "b"], [("a", "u1"), ("b", "u2")], ALL)
    seating.assign(["a", "a", "b", "b"], [("a", "u3"), ("b", "u2")], NONE)  # a copied into: a new uid
    assert seating.matches == [("a", "u1"), ("b", "u2")]  # both envs mid-episode
    assert seating.episode_fields(0)["match"] == ("a", "u1")  # the episode a's old weights began
    assert seating.episode_fields(0)["match"] == ("a", "u3")  # the next one, begun inside the fragment
    assert seating.episode_fields(1)["match"] == ("b", "u2")
    # a new match that moves the seats still waits for a boundary where the episode starts
    seating.assign(["b", "b", "b", "b"], [("b", "u2"), ("b", "u2")], NONE)
    assert seating.episode_fields(0)["match"] == ("a", "u3") and seating.matches[0] == ("a", "u3")
    seating.assign(["b", "b", "b", "b"], [("b", "u2"), ("b", "u2")], np.array([True, True, False, False]))
    assert seating.episode_fields(0) == {"match": ("b", "u2"), "members": ["b", "b"]}


def test_a_shard_loads_only_new_or_newer_players_and_keeps_a_retired_snapshot():
    held = {"a": SimpleNamespace(version=1, frozen=False), "old": SimpleNamespace(version=0, frozen=False),
            "snap": SimpleNamespace(version=0, frozen=True)}
    pubs = {"a": {"version": 2}, "b": {"version": 0}}
    seats = np.array(["a", "b", RANDOM, "snap"], dtype=object)
    assert to_load(seats, pubs, held) == ["a", "b"]
    assert "old" not in held and "snap" in held  # seated nowhere: freed; a snapshot plays on
    held["gone"] = SimpleNamespace(version=0, frozen=False)
    with pytest.raises(BadInput, match="no weights published for member 'gone'"):
        to_load(np.array(["gone"], dtype=object), pubs, held)
