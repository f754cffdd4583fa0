"""The zapping scripted players (greedy_zapper, chaser) on constructed states: the beam's three
lines (who is in them, walls and players blocking), the cooling timer, the chaser's turns, on
both engines alike; a fast episode where they zap; an arena without the zap refuses them."""

import numpy as np
import pytest
import torch

from popbased.env.fast import capture
from popbased.env.fast import scripted as fs
from popbased.env.fast.maps import build_map
from popbased.env.fast.world import World
from popbased.errors import BadInput
from popbased.play.scripted import in_beam, lab_moves
from popbased.substrates import resolve
from popbased.substrates.params import CommonsParams

N, E, S, W = 0, 1, 2, 3
FORWARD = 1


def snapshot(game, players, timer=None):
    """No apples live; players [(y, x, orientation, alive)]."""
    P, A = len(players), game.num_apples
    return capture.Snapshot(
        t=1, pos=np.array([p[:2] for p in players], np.int64), orient=np.array([p[2] for p in players]),
        alive=np.array([p[3] for p in players], bool),
        timer=np.zeros(P, np.int64) if timer is None else np.asarray(timer, np.int64),
        wait=np.zeros(P, np.int64), apple_state=np.full(A, 3, np.int64), count=np.zeros(A, np.int64),
        grass=np.ones(A, bool))


def both(game, params, snaps, kind, device="cpu"):
    """[worlds, P] codes on the fast env, asserted equal to Melting Pot's implementation."""
    world = World(game, len(snaps), capture.validation_spec(params).action_table, device=device)
    world.reset()
    for b, snap in enumerate(snaps):
        capture.load(world, b, snap)
    fast = fs.Scripted(world).moves(kind).cpu().numpy()
    lab = np.stack([lab_moves(s, game, kind) for s in snaps])
    np.testing.assert_array_equal(fast, lab, err_msg=kind)
    return fast


def setup(players=2):
    params = CommonsParams(players=players)
    game = build_map(params)
    return params, game


def open_cell(game):
    """A row and column range of the open map with no walls: a free corridor to place players."""
    y = game.height // 2
    xs = np.flatnonzero(~game.wall[y])
    return y, int(xs[len(xs) // 2])


def test_the_beam_reaches_ahead_and_beside_and_stops_at_players_and_walls(device):
    params, game = setup(3)
    y, x = open_cell(game)
    L = game.beam_length
    cases = {  # the other players' cells relative to player 0 facing north -> in its beam?
        "ahead 1": ([(-1, 0)], True), f"ahead {L}": ([(-L, 0)], True),
        f"ahead {L + 1}": ([(-L - 1, 0)], False), "right beside": ([(0, 1)], True),
        "left beside": ([(0, -1)], True), f"left, {L - 1} ahead": ([(-(L - 1), -1)], True),
        f"left, {L} ahead": ([(-L, -1)], False), "behind": ([(1, 0)], False),
        "two columns right": ([(-1, 2)], False),
    }
    snaps, expected = [], []
    for cells, hit in cases.values():
        others = [(y + dy, x + dx, S, True) for dy, dx in cells]
        others += [(y + 3, x + 3 + i, S, True) for i in range(3 - 1 - len(others))]
        assert not game.wall[tuple(zip(*[o[:2] for o in others]))].any()
        snaps.append(snapshot(game, [(y, x, N, True)] + others))
        expected.append(hit)
    assert [in_beam(s, game, 0) for s in snaps] == expected
    codes = both(game, params, snaps, "greedy_zapper", device)
    assert (codes[:, 0] == fs.FIRE).tolist() == expected
    # cooling: the same states with player 0's timer running never fire
    cooling = [snapshot(game, [(y, x, N, True)] + [(int(a), int(b), int(c), bool(d)) for a, b, c, d in
                zip(s.pos[1:, 0], s.pos[1:, 1], s.orient[1:], s.alive[1:])], timer=[5, 0, 0]) for s in snaps]
    assert not (both(game, params, cooling, "chaser", device)[:, 0] == fs.FIRE).any()


def test_a_player_behind_another_or_a_removed_player_is_not_hit(device):
    params, game = setup(3)
    y, x = open_cell(game)
    shielded = snapshot(game, [(y, x, N, True), (y - 1, x, N, True), (y - 2, x, N, True)])
    assert both(game, params, [shielded], "greedy_zapper", device)[0, 0] == fs.FIRE  # hits player 1
    gone = snapshot(game, [(y, x, N, True), (y - 1, x, N, False), (y + 5, x, N, True)])
    assert both(game, params, [gone], "greedy_zapper", device)[0, 0] != fs.FIRE


def test_the_chaser_turns_towards_the_nearest_player_and_walks_when_facing_it(device):
    params, game = setup(2)
    y, x = open_cell(game)
    # the other player 3 cells to the east, out of the beam of a player facing N, E, S or W
    snaps = [snapshot(game, [(y, x, facing, True), (y + 1, x + 4, N, True)]) for facing in (N, E, S, W)]
    codes = both(game, params, snaps, "chaser", device)[:, 0]
    # nearest path: east first (N, E, S, W order: east is one step nearer, south too)
    assert codes.tolist() == [fs.TURN_RIGHT, FORWARD, fs.TURN_LEFT, fs.TURN_RIGHT]
    alone = snapshot(game, [(y, x, N, True), (y + 1, x + 4, N, False)])
    assert both(game, params, [alone], "chaser", device)[0, 0] == 0  # nobody to chase


def test_zappers_zap_on_the_fast_env_and_greedy_zappers_empty_the_map(device):
    params = CommonsParams()
    game = build_map(params)
    spec = capture.validation_spec(params)
    world = World(game, 4, spec.action_table, device=device, seed=2)
    world.reset()
    scripted = fs.Scripted(world)
    tables = {k: torch.from_numpy(fs.move_actions(spec.action_names, k)).to(device)
              for k in ("greedy_zapper", "chaser")}
    zapped = 0
    for _ in range(300):
        actions = tables["greedy_zapper"][scripted.moves("greedy_zapper")]
        actions[:, 5:] = tables["chaser"][scripted.moves("chaser")][:, 5:]
        zapped += int(world.step(actions).zapped.sum())
    assert zapped > 20
    assert int(world.apples().max()) < 5


def test_an_arena_without_the_zap_refuses_the_zapping_players():
    names = resolve("no_zap").action_names
    assert fs.move_actions(names, "greedy").shape == (len(fs.ACTIONS),)
    for kind in ("greedy_zapper", "chaser"):
        with pytest.raises(BadInput, match=f"scripted:{kind} needs the actions FIRE_ZAP"):
            fs.move_actions(names, kind)
