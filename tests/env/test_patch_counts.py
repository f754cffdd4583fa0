"""Patches on real Melting Pot (popbased.env.instance): WORLD.APPLES_LIVE, each apple's flag from
popbased's AppleCounter, read in the order of the fast env's GameMap (checked against the full
world state of the StateDump observer), the same patches as the fast env's on the same map, and
patch deaths in real episodes' summaries."""

import dataclasses

import numpy as np
import pytest

from popbased.env.fast.capture import LIVE, parse_state
from popbased.env.fast.ceiling import patches
from popbased.env.fast.env import FastBatchedEnv
from popbased.env.fast.maps import build_map
from popbased.env.instance import APPLES_LIVE, STATE, Instance, apple_patches
from popbased.env.pool import BatchedEnv
from popbased.play import random_play
from popbased.substrates import resolve
from popbased.substrates.commons_harvest import with_state_dump


@pytest.mark.parametrize("name", ["open", "private_property"])
def test_each_apples_flag_in_the_fast_envs_order(name):
    spec = with_state_dump(resolve(name))
    game = build_map(spec.params)
    index = apple_patches(spec)
    assert np.array_equal(np.bincount(index), [len(p) for p in patches(game)])
    inst = Instance(spec, 5)
    inst.start(0, 7)
    rng = np.random.default_rng(0)
    wait = np.zeros(spec.num_players, np.int64)
    changed = 0
    # Lab2d's world is not reproducible from a seed (Lua table order), so random players may take
    # a while to reach an apple: play until 20 steps with apples missing have been checked
    for _ in range(600):
        if changed >= 20:
            break
        live = np.asarray(inst.observation(APPLES_LIVE))
        state = parse_state(inst.observation(STATE), game, wait)
        assert np.array_equal(live, state.apple_state == LIVE)
        per_patch = inst.world_patch_apples(index)
        assert per_patch.sum() == inst.world_apples()
        changed += int(live.sum() < game.num_apples)
        inst.act(rng.integers(0, len(spec.action_table), spec.num_players))
    assert changed > 0  # apples were eaten, so the flags were tested on more than a full map


@pytest.mark.parametrize("name", ["open", "private_property"])
def test_same_patches_as_the_fast_env(name):
    spec = resolve(name)
    real = BatchedEnv(spec, 1, seed=0, backend="inline", max_episode_steps=3)
    fast = FastBatchedEnv(spec, 1, seed=0, max_episode_steps=3)
    real.reset(), fast.reset()
    ends = []
    for _ in range(3):
        ends += real.step(np.zeros(real.num_seats, np.int64)).episodes
        ends += fast.step(np.zeros(fast.num_seats, np.int64)).episodes
    real.close()
    assert len(ends) == 2
    expected = len(patches(build_map(spec.params)))
    assert [e["patches"] for e in ends] == [expected] * 2
    assert [e["patch_deaths"] for e in ends] == [0, 0]  # nobody moved
    # private_property's plots are fenced for players, not for regrowth: the radius-2 discs
    # reach across the walls, so its apples form one patch
    assert expected == (1 if name == "private_property" else 6)


def test_greedy_players_kill_every_patch_on_melting_pot():
    out = random_play("open", episodes=1, max_steps=80, backend="inline", policy="scripted:greedy")
    [episode] = out["episodes"]
    assert episode["depleted"] and episode["patches"] == 6 and episode["patch_deaths"] == 6


def test_no_apple_flags_no_patches():
    spec = resolve("open")
    assert apple_patches(dataclasses.replace(spec, instrumented=False)) is None
    counter = next(k[:-len("component")] for k, v in spec.settings.items() if v == "AppleCounter")
    settings = {k: v for k, v in spec.settings.items() if k != counter + "kwargs.numApples"}
    assert apple_patches(dataclasses.replace(spec, settings=settings)) is None
