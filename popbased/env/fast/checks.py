"""The fast env against recorded real Melting Pot episodes: views and transitions.

views: every recorded state S_{t+1} is loaded into a fast world, the beams of step t+1
are cast by the players who fired (ZAPS_FIRED) against the avatars alive during that
step's beams (those alive in S_t, at their S_{t+1} cells), and the fast views are
compared with our downsampled Melting Pot views, cell by cell, counted per cell kind.

transitions: S_t is loaded, the recorded actions are stepped with Melting Pot's own
outcomes of its random draws forced (which apples regrew, where and how respawned
players appeared, the episode end), and everything else is compared with S_{t+1}:
positions, orientations, alive, cooling timers, apple states (the lagged groups),
wait-apples' live-neighbour counts (Melting Pot's Neighborhoods: the disc), grass, rewards, eaten and zap events, READY_TO_SHOOT, views and apples in view. Steps
where two players contend for a cell (their move order decides) are only counted.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch

from popbased.env.fast import capture, palette
from popbased.env.fast.maps import DIRECTIONS, GameMap
from popbased.env.fast.views import Renderer
from popbased.env.fast.world import Forced, World

FIELDS = ("pos", "orient", "alive", "timer", "apple_state", "count", "grass", "reward", "eaten", "zaps",
          "ready", "rgb", "apples_in_view")


def _kinds(codes: torch.Tensor, renderer: Renderer, world: World) -> torch.Tensor:
    """The per-view-cell code the fast env drew (for counting mismatches by kind)."""
    w = world
    idx = w.pos[:, :, None] + renderer.offsets[w.orient]
    seen = torch.gather(codes, 1, idx.view(w.B, -1)).view(w.B, w.P, -1)
    seen = torch.where(w.alive[:, :, None], seen, -1)
    own = seen[:, :, 9 * 11 + 5]
    seen[:, :, 9 * 11 + 5] = torch.where((own >= palette.AVATAR) & (own < palette.SELF),
                                         palette.SELF + (own - palette.AVATAR) % 2, own)
    return seen


def kind_label(code: int) -> str:
    return "removed_player_view" if code < 0 else palette.kind_name(code)


def views(game: GameMap, action_table, steps: list[capture.Step]) -> dict:
    """Fast views of every recorded state vs Melting Pot's: cells and mismatches per kind."""
    pairs = list(zip(steps[:-1], steps[1:]))
    world = World(game, len(pairs), action_table)
    renderer = Renderer(world)
    for b, (before, after) in enumerate(pairs):
        capture.load(world, b, after.state, alive=before.state.alive)
    fired = torch.from_numpy(np.stack([a.fired for _, a in pairs]) > 0)
    world.beam.zero_()
    world.beams(fired & world.alive)
    beam = world.beam.clone()
    for b, (_, after) in enumerate(pairs):
        capture.load(world, b, after.state)
    world.beam[:] = beam
    codes = renderer.codes()
    rgb, apples = renderer.render(codes, apples=True)
    kinds = _kinds(codes, renderer, world).numpy().reshape(-1)
    real = np.stack([a.rgb for _, a in pairs]).reshape(-1, 3)
    bad = (rgb.numpy().reshape(-1, 3) != real).any(-1)
    cells, wrong = Counter(), Counter()
    for code, count in zip(*np.unique(kinds, return_counts=True)):
        cells[kind_label(int(code))] += int(count)
    for code, count in zip(*np.unique(kinds[bad], return_counts=True)):
        wrong[kind_label(int(code))] += int(count)
    real_apples = np.stack([a.apples_in_view for _, a in pairs])
    return {"cells": dict(cells), "mismatches": dict(wrong), "total_cells": int(kinds.size),
            "total_mismatches": int(bad.sum()),
            "apples_in_view_mismatches": int((apples.numpy() != real_apples).sum()),
            "states": len(pairs)}


def contended(game: GameMap, action_table, snap: capture.Snapshot, actions: np.ndarray) -> bool:
    """True when the move order can change the outcome: a moving player's target is
    another moving player's target or cell."""
    moving = {}
    for p in range(game.players):
        move, turn = action_table[actions[p]].get("move", 0), action_table[actions[p]].get("turn", 0)
        if snap.alive[p] and move > 0:
            d = (snap.orient[p] + turn + move - 1) % 4
            moving[p] = tuple(snap.pos[p] + DIRECTIONS[d])
    targets = list(moving.values())
    cells = {tuple(snap.pos[p]) for p in moving}
    return len(set(targets)) < len(targets) or any(t in cells for t in targets)


def _forced(world: World, pairs) -> Forced:
    B, P, A = world.B, world.P, world.A
    sprout = np.zeros((B, A), bool)
    cell = np.zeros((B, P), np.int64)
    orient = np.zeros((B, P), np.int64)
    end = np.zeros(B, bool)
    for b, (before, after) in enumerate(pairs):
        s0, s1 = before.state.apple_state, after.state.apple_state
        sprout[b] = (s0 != capture.LIVE) & ((s1 == capture.LIVE) | (s1 == capture.WAIT))
        y, x = after.state.pos[:, 0], after.state.pos[:, 1]
        cell[b] = world.flat(torch.from_numpy(y), torch.from_numpy(x)).numpy()
        orient[b] = after.state.orient
        end[b] = after.done
    return Forced(sprout=torch.from_numpy(sprout), respawn_cell=torch.from_numpy(cell),
                  respawn_orientation=torch.from_numpy(orient), end=torch.from_numpy(end))


def transitions(game: GameMap, action_table, steps: list[capture.Step]) -> dict:
    """Fast steps from recorded states with recorded actions vs Melting Pot's next states."""
    pairs = list(zip(steps[:-1], steps[1:]))
    B = len(pairs)
    world = World(game, B, action_table)
    renderer = Renderer(world)
    for b, (before, _) in enumerate(pairs):
        capture.load(world, b, before.state)
    actions = torch.from_numpy(np.stack([a.actions for _, a in pairs]).astype(np.int64))
    events = world.step(actions, _forced(world, pairs))
    rgb, apples = renderer.render(apples=True)
    ready = world.ready_to_shoot().numpy()
    agree = Counter()
    mismatched_steps = []
    contended_steps = 0
    for b, (before, after) in enumerate(pairs):
        if contended(game, action_table, before.state, after.actions):
            contended_steps += 1
            continue
        ours = capture.snapshot(world, b)
        real = after.state
        hits = events.hits[b].numpy()
        our_zaps = sorted((p, int(t)) for p in range(game.players) for t in hits[p] if t >= 0)
        checks = {
            "pos": np.array_equal(ours["pos"][real.alive], real.pos[real.alive]),
            "orient": np.array_equal(ours["orient"][real.alive], real.orient[real.alive]),
            "alive": np.array_equal(ours["alive"], real.alive),
            "timer": np.array_equal(ours["timer"], real.timer),
            "apple_state": np.array_equal(ours["apple_state"], real.apple_state),
            "count": np.array_equal(ours["count"][real.apple_state != capture.LIVE],
                                    real.count[real.apple_state != capture.LIVE]),
            "grass": np.array_equal(ours["grass"], real.grass),
            "reward": np.array_equal(events.reward[b].numpy(), after.reward),
            "eaten": sorted(np.repeat(np.arange(game.players), events.eaten[b].numpy())) == sorted(after.eaten),
            "zaps": our_zaps == sorted(after.zaps),
            "ready": np.allclose(ready[b], after.ready),
            "rgb": np.array_equal(rgb[b].numpy(), after.rgb),
            "apples_in_view": np.array_equal(apples[b].numpy(), after.apples_in_view),
        }
        for name, ok in checks.items():
            agree[name] += int(ok)
        if not all(checks.values()):
            mismatched_steps.append({"step": b + 1, "fields": [n for n, ok in checks.items() if not ok]})
    compared = B - contended_steps
    return {"steps": B, "contended_steps": contended_steps, "compared_steps": compared,
            "agreement": {name: agree[name] / compared if compared else None for name in FIELDS},
            "mismatched_steps": mismatched_steps[:20], "mismatched_step_count": len(mismatched_steps),
            "events": {"sprouts": int(_forced(world, pairs).sprout.sum()),
                       "zap_hits": int(sum(len(a.zaps) for _, a in pairs)),
                       "apples_eaten": int(sum(len(a.eaten) for _, a in pairs)),
                       "respawns": int(sum(((~b.state.alive) & a.state.alive).sum() for b, a in pairs))}}
