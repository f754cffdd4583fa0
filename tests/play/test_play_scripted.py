"""Scripted players as agents (popbased.play.scripted.ScriptedAgent): `scripted:NAME` plays
every seat, or some seats beside other agents, on both engines through random_play (the
library call behind `popbased substrates run` and `evaluate`); bad names are one line; an env
that gives no world state is refused. (The two implementations' equality:
tests/env/fast/test_fast_scripted.py.)"""

import numpy as np
import pytest

from popbased.errors import BadInput
from popbased.play import random_play
from popbased.play.agents import SeatView, agent_for, check_policy
from popbased.play.scripted import ScriptedAgent
from popbased.substrates import resolve


@pytest.mark.parametrize("backend", ["fast", "inline"])
def test_scripted_players_play_every_seat_on_both_engines(backend):
    for policy in ("scripted:sustainable", "scripted:greedy"):
        played = random_play("open", episodes=1, max_steps=60, backend=backend, policy=policy)
        (episode,) = played["episodes"]
        assert episode["steps"] == 60 and episode["per_capita_return"] > 0, policy
        assert sum(episode["zaps_fired"]) == 0  # they never fire
    assert played["policy"] == "scripted:greedy"


def test_scripted_players_sit_beside_random_players_on_melting_pot():
    seats = ["scripted:sustainable"] * 3 + [None] * 4
    played = random_play("open", episodes=1, max_steps=40, backend="inline", seats=seats)
    assert played["episodes"][0]["steps"] == 40 and played["seats"] == seats


def test_bad_scripted_names_are_one_line():
    for call in (lambda: check_policy("scripted:nope"),
                 lambda: agent_for("scripted:nope", resolve("open").action_names)):
        with pytest.raises(BadInput) as err:
            call()
        assert str(err.value) == ("policy 'scripted:nope': no such scripted policy; allowed: "
                                  "scripted:sustainable, scripted:greedy, scripted:greedy_zapper, "
                                  "scripted:chaser")
    check_policy("scripted:greedy")


def test_an_env_without_world_state_is_refused():
    spec = resolve("open")
    agent = ScriptedAgent("scripted:sustainable", spec.action_names, spec.params)
    with pytest.raises(BadInput, match="reads the world state"):
        agent.act(SeatView(np.zeros((7, 11, 11, 3), np.uint8), np.ones((7, 8), bool), np.arange(7)))


def test_a_substrate_without_the_moves_is_refused():
    with pytest.raises(BadInput, match="scripted:greedy needs the actions"):
        ScriptedAgent("scripted:greedy", ("NOOP", "FORWARD", "FIRE_ZAP"))
