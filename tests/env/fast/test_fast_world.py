"""The fast world (popbased.env.fast.world): the rules of commons_harvest_rules.md checked on
scripted fast worlds and, where marked read-but-not-run there, on real Melting Pot; fast steps
from recorded real states with the recorded actions vs Melting Pot's next states."""

import dataclasses

import numpy as np
import pytest
import torch

from popbased.env.fast import capture, checks, stat_checks
from popbased.env.fast.maps import build_map, disc_offsets
from popbased.env.fast.stat_checks import Duel
from popbased.env.fast.world import World
from popbased.substrates import resolve_params
from popbased.substrates.params import CommonsParams

N, E, S, W = 0, 1, 2, 3
NAMES = ("NOOP", "FORWARD", "BACKWARD", "STEP_LEFT", "STEP_RIGHT", "TURN_LEFT", "TURN_RIGHT", "FIRE_ZAP")


def scripted_world(probabilities, players, device="cpu"):
    params = CommonsParams(players=len(players))
    game = dataclasses.replace(build_map(params), regrowth=np.array(probabilities, float))
    world = World(game, 1, capture.validation_spec(params).action_table, seed=0, device=device)
    world.reset()
    A = game.num_apples
    snap = capture.Snapshot(
        t=1, pos=np.array([p[:2] for p in players]), orient=np.array([p[2] for p in players]),
        alive=np.ones(len(players), bool), timer=np.zeros(len(players), np.int64),
        wait=np.zeros(len(players), np.int64), apple_state=np.full(A, capture.LIVE),
        count=np.zeros(A, np.int64), grass=np.ones(A, bool))
    capture.load(world, 0, snap)
    return world, {tuple(c): i for i, c in enumerate(game.apple_cells.tolist())}


def act(world, *names):
    return world.step(torch.tensor([[NAMES.index(n) for n in names]], device=world.device))


def test_disc_is_the_13_cell_l2_disc():
    offsets = set(disc_offsets(2))
    assert len(offsets) == 12 and (1, 2) not in offsets and (2, 0) in offsets and (1, 1) in offsets


def test_regrowth_two_steps_after_eating_at_the_earliest(device):
    world, apple = scripted_world([0, 1, 1, 1], [(1, 4, W), (15, 10, N)], device)
    x = apple[(1, 3)]
    assert act(world, "FORWARD", "NOOP").reward[0, 0] == 1
    act(world, "BACKWARD", "NOOP")
    assert not world.live[0, x]
    act(world, "NOOP", "NOOP")
    assert world.live[0, x]


def test_regrowth_under_a_standing_player_is_eaten_at_once(device):
    world, apple = scripted_world([0, 1, 1, 1], [(1, 4, W), (15, 10, N)], device)
    rewards = [float(act(world, "FORWARD" if t == 0 else "NOOP", "NOOP").reward[0, 0]) for t in range(9)]
    assert rewards == [1, 0, 1, 0, 1, 0, 1, 0, 1]
    assert not world.live[0, apple[(1, 3)]]


def test_regrowth_uses_the_count_lagged_two_steps(device):
    """Rules 9.1: X eaten with 3 live neighbours, one of them eaten the next step; with
    p = [0, 0, 0, 1] X regrows two steps after it was eaten (from the old count 3)."""
    world, apple = scripted_world([0, 0, 0, 1], [(1, 4, W), (2, 3, W)], device)
    x = apple[(1, 3)]
    act(world, "FORWARD", "NOOP")  # eats X: c = 3
    assert int(world.group[0, x]) == -1
    act(world, "BACKWARD", "FORWARD")  # player 1 eats a neighbour of X: c = 2
    assert int(world.group[0, x]) == 3 and int(world.counts()[0, x]) == 2
    act(world, "NOOP", "NOOP")
    assert world.live[0, x]


def test_mutual_zaps_remove_both_and_respawn_after_frames_till_respawn_plus_one(device):
    world, _ = scripted_world([0, 0, 0, 0], [(7, 8, E), (7, 9, W)], device)
    events = act(world, "FIRE_ZAP", "FIRE_ZAP")
    assert events.hits[0, 0].tolist().count(1) == 1 and events.hits[0, 1].tolist().count(0) == 1
    assert not world.alive[0].any()
    frames = 0
    while not world.alive[0].all():
        act(world, "NOOP", "NOOP")
        frames += 1
    assert frames == world.game.frames_till_respawn + 1


class MutualZap(Duel):
    """Face each other, close in until adjacent, then both fire."""

    def __init__(self, names):
        super().__init__(names)
        self.fire = names.index("FIRE_ZAP")

    def __call__(self, n, s):
        acts = super().__call__(n, s)
        left, right = (0, 1) if s.pos[0, 1] < s.pos[1, 1] else (1, 0)
        if s.alive.all() and s.pos[0, 0] == s.pos[1, 0] and s.orient[left] == E \
                and s.orient[right] == W and s.pos[right, 1] - s.pos[left, 1] == 1:
            return np.array([self.fire, self.fire])
        return acts


def test_mutual_zap_in_real_melting_pot():
    """Rules 9.4 (read, not run there): both beams fire, two zap events, both removed."""
    params = CommonsParams(players=2)
    game = build_map(params)
    policy = MutualZap(capture.validation_spec(params).action_names)
    steps = capture.record(params, game, 60, 4, policy=policy)
    mutual = [s for s in steps if sorted(s.zaps) == [(0, 1), (1, 0)]]
    assert mutual, [s.zaps for s in steps]
    assert not mutual[0].state.alive.any()
    assert (mutual[0].rgb == 0).all()


class Navigator:
    """Walks one player to `waypoints` (column first, then row), turns to `facing`, then plays `script`."""

    def __init__(self, names, waypoints, facing, script):
        self.a = {n: names.index(n) for n in names}
        self.waypoints, self.facing, self.script = list(waypoints), facing, list(script)

    def __call__(self, n, s):
        y, x = s.pos[0]
        while self.waypoints and (y, x) == self.waypoints[0]:
            self.waypoints.pop(0)
        if self.waypoints:
            ty, tx = self.waypoints[0]
            want = (N if ty < y else S) if ty != y else (E if tx > x else W)
        elif s.orient[0] != self.facing:
            want = self.facing
        else:
            return np.array([self.a[self.script.pop(0)] if self.script else 0])
        if s.orient[0] != want:
            return np.array([self.a["TURN_RIGHT"]])
        return np.array([self.a["FORWARD"]])


def test_regrowth_lag_in_real_melting_pot():
    """Rules 9.1 (read, not run there), settled on the real game: the corner apple X at
    (1, 3) has exactly 3 neighbours. Eat X at step t, then its neighbour (1, 2) at t + 1
    (the count drops to 2). With regrowth x40 (p = [0, .1, .2, 1]) the lagged-count rule
    regrows X at t + 2 for certain; the current-count rule would only with p = 0.2."""
    params = CommonsParams(players=1, regrowth=40.0)
    game = build_map(params)
    index = {tuple(c): i for i, c in enumerate(game.apple_cells.tolist())}
    x_apple, neighbour = index[(1, 3)], index[(1, 2)]
    names = capture.validation_spec(params).action_names
    regrew = 0
    for seed in range(3):
        start = capture.record(params, game, 0, 100 + seed)[0].state.pos[0]
        policy = Navigator(names, [(1, int(start[1])), (1, 4)], W, ["FORWARD", "FORWARD", "NOOP", "NOOP"])
        steps = capture.record(params, game, 40, 100 + seed, policy=policy)
        states = [s.state.apple_state for s in steps]
        t = next(i for i, s in enumerate(states) if s[x_apple] == capture.WAIT)
        assert states[t + 1][neighbour] == capture.WAIT and states[t + 1][x_apple] != capture.LIVE
        assert steps[t].state.count[x_apple] == 3 and steps[t + 1].state.count[x_apple] == 2
        regrew += states[t + 2][x_apple] == capture.LIVE
    assert regrew == 3


def test_respawn_is_uniform_over_free_spawn_points(device):
    """Respawns land on free P cells only, uniformly (chi-square), facing any way."""
    from scipy import stats

    params = CommonsParams(players=3)
    game = build_map(params)
    worlds = 3000
    world = World(game, worlds, capture.validation_spec(params).action_table, seed=1,
                  device=device)
    world.reset()
    W = game.width
    p_cells = game.spawn_cells[game.spawn_groups.index("spawnPoints")]
    blocker = (int(p_cells[0]) // W, int(p_cells[0]) % W)
    snap = capture.Snapshot(
        t=10, pos=np.array([[7, 8], [7, 9], blocker]), orient=np.zeros(3, np.int64),
        alive=np.array([False, False, True]), timer=np.zeros(3, np.int64),
        wait=np.full(3, game.frames_till_respawn), apple_state=np.full(game.num_apples, capture.LIVE),
        count=np.zeros(game.num_apples, np.int64), grass=np.ones(game.num_apples, bool))
    for b in range(worlds):
        capture.load(world, b, snap)
    world.step(torch.zeros(worlds, 3, dtype=torch.int64, device=device))
    assert world.alive.all()
    y, x = world.unflat(world.pos[:, :2])
    cells = (y * W + x).cpu().numpy()
    assert (cells[:, 0] != cells[:, 1]).all()
    free = [int(c) for c in p_cells[1:]]
    assert set(np.unique(cells)) <= set(free)
    counts = np.array([(cells == c).sum() for c in free])
    assert stats.chisquare(counts).pvalue > 1e-3
    orient = world.orient[:, :2].cpu().numpy().ravel()
    assert stats.chisquare(np.bincount(orient, minlength=4)).pvalue > 1e-3


def test_episode_ends_at_1099_plus_hundreds_with_p_015_or_at_5000(device):
    params = CommonsParams(players=2)
    game = build_map(params)
    world = World(game, 4000, capture.validation_spec(params).action_table, seed=2, device=device)
    world.reset()
    noop = torch.zeros(4000, 2, dtype=torch.int64, device=device)
    ends = {}
    for start in (997, 1097, 4998):
        world.t[:] = start
        for _ in range(3):
            n = int(world.t[0]) + 1  # the step about to be played
            ends[n] = float(world.step(noop).end.float().mean())
    assert ends[998] == ends[999] == ends[1000] == ends[1098] == ends[1100] == 0.0
    assert abs(ends[1099] - 0.15) < 0.025
    assert ends[4999] > 0.1 and ends[5000] == 1.0


# ---------------------------------------------------------------------- transitions vs Melting Pot

CASES = [("commons_harvest__open", {}, 300, 21), ("commons_harvest__closed", {}, 300, 22),
         ("open", {"regrowth": "100"}, 250, 23), ("zap_cooldown", {"zap_cooldown": "1"}, 250, 24),
         ("private_property", {}, 200, 25), ("open", {"players": "16"}, 150, 26),
         ("commons_harvest__partnership", {}, 250, 27)]


@pytest.mark.parametrize("name,params,steps,seed", CASES)
def test_uncontended_transitions_are_identical(name, params, steps, seed):
    commons = resolve_params(name, params)
    game = build_map(commons)
    recorded = capture.record(commons, game, steps, seed)
    result = checks.transitions(game, capture.validation_spec(commons).action_table, recorded)
    assert result["compared_steps"] > 0.6 * result["steps"]  # 16 players contend often
    assert result["mismatched_step_count"] == 0, result["mismatched_steps"]
    assert all(v == 1.0 for v in result["agreement"].values())
    events = result["events"]
    assert events["apples_eaten"] > 0
    if name != "private_property":
        assert events["zap_hits"] > 0 and events["respawns"] > 0
    if params.get("regrowth") == "100":
        assert events["sprouts"] > 10


@pytest.mark.slow
def test_contested_cells_and_swaps():
    """Two players stepping into one cell: each wins about half, never both; swaps never."""
    result = stat_checks.contention(steps=700, seed=5, replays=20)
    real, fast = result["melting_pot"], result["fast"]
    assert "both" not in real["contest"] and "both" not in fast["contest"]
    assert set(real["swap"]) == {"neither"} and real["swap"]["neither"] > 50
    assert result["melting_pot_test"]["decided"] > 80
    assert result["melting_pot_test"]["binomial_p_value_vs_half"] > 1e-3
    assert result["fast_test"]["binomial_p_value_vs_half"] > 1e-3
    assert result["fisher_p_value_mp_vs_fast"] > 1e-3
