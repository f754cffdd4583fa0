"""Scripted commons_harvest players on the fast env: every world and seat in one pass (torch).

Two policies (`KINDS`), defined once here and played alike on Melting Pot by
popbased.play.scripted (tests/env/fast/test_fast_scripted.py checks that they choose the
same actions from the same states):

    sustainable  walks to the nearest apple it may eat and eats nothing else;
    greedy       walks to the nearest live apple and eats everything.

The rule, in words (n(a): live apples within radius 2 of apple a, a itself excluded: the
count Melting Pot's regrowth reads, p = 0.025 from 3 on the open map):
  - the sustainable player may eat a live apple a when n(a) >= 3 and every waiting apple w
    within radius 2 of a has n(w) >= 4: after a is eaten, a and each apple already waiting
    near it still have 3+ live neighbours (the patch keeps regrowing at full rate);
  - targets: the apples it may eat (greedy: every live apple). Passable cells: every cell
    but walls; for the sustainable player also not a live apple it may not eat (walking in
    eats it). Other players are ignored (they only block, as in the game);
  - distance: steps to the nearest target over passable cells (4-neighbour BFS);
  - move: the first of N, E, S, W (absolute) whose cell is one step nearer, taken with the
    orientation-relative move that goes there (FORWARD, STEP_RIGHT, BACKWARD, STEP_LEFT: no
    turns needed); NOOP where no target is reachable and for removed players.
Ties (several nearest apples) thus break by the fixed N, E, S, W order on both engines.

These are references, not agents: they read the full world state (every apple, every
player's position and orientation), of which a player's 11x11 view shows a part.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from popbased.env.fast.world import World
from popbased.errors import BadInput
from popbased.ppo.actions import SCRIPTED_KINDS

KINDS = SCRIPTED_KINDS
REGROWS_FROM = 3
"""Live neighbours from which an apple regrows at the full rate (p[3] of the regrowth rule)."""
MOVE_ACTIONS = ("NOOP", "FORWARD", "STEP_RIGHT", "BACKWARD", "STEP_LEFT")
"""The action of each move code: 0 stays, 1..4 = Lab2d's `move` (1 + the absolute direction
minus the orientation, N=0 E=1 S=2 W=3)."""
UNREACHED = 1 << 14


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise BadInput(f"scripted policy {kind!r}: allowed are {', '.join(KINDS)}")
    return kind


def move_actions(arena_actions: Sequence[str]) -> np.ndarray:
    """[5] arena action index of each move code (MOVE_ACTIONS) in an arena's action set."""
    missing = [name for name in MOVE_ACTIONS if name not in arena_actions]
    if missing:
        raise BadInput(f"scripted policies need the actions {', '.join(missing)}, which this "
                       f"substrate lacks (its actions: {', '.join(arena_actions)})")
    return np.array([list(arena_actions).index(name) for name in MOVE_ACTIONS], dtype=np.int64)


def targets(world: World, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """([B, A] the apples a player of `kind` walks to, [B, A] the live apples it must not enter)."""
    A = world.A
    live = world.live[:, :A]
    if kind == "greedy":
        return live, torch.zeros_like(live)
    count = world.counts()
    matrix = world.neighbour_matrix[:A]  # [j, i] = 1 when apple j is within radius 2 of apple i
    weak = (~live & (count <= REGROWS_FROM)).to(matrix.dtype)  # waiting, would drop below 3
    near_weak = (weak @ matrix) > 0
    ok = live & (count >= REGROWS_FROM) & ~near_weak
    return ok, live & ~ok


class Scripted:
    """The move codes of scripted players on one World (its map's tensors made once)."""

    def __init__(self, world: World):
        game, dev = world.game, world.device
        self.world = world
        H, W = game.height, game.width
        self.Wc = W + 2  # the map with one impassable cell all around
        open_ = torch.zeros(H + 2, W + 2, dtype=torch.bool)
        open_[1:-1, 1:-1] = ~torch.from_numpy(game.wall)
        self.open = open_.to(dev)
        cells = torch.from_numpy(game.apple_cells)
        self.apple_cell = ((cells[:, 0] + 1) * self.Wc + cells[:, 1] + 1).to(dev)
        self.steps = torch.tensor([-self.Wc, 1, self.Wc, -1], device=dev)  # N, E, S, W

    def distances(self, target: torch.Tensor, forbidden: torch.Tensor) -> torch.Tensor:
        """[B, H + 2, W + 2] int32: steps to the nearest target (UNREACHED where none is)."""
        B = target.shape[0]
        passable = self.open.expand(B, -1, -1).clone()
        passable.view(B, -1)[:, self.apple_cell] &= ~forbidden
        dist = torch.full(passable.shape, UNREACHED, dtype=torch.int32, device=passable.device)
        dist.view(B, -1)[:, self.apple_cell] = torch.where(target, 0, UNREACHED).to(torch.int32)
        inner_open = passable[:, 1:-1, 1:-1]
        for _ in range(passable[0].numel()):
            inner = dist[:, 1:-1, 1:-1]
            near = torch.minimum(torch.minimum(dist[:, :-2, 1:-1], dist[:, 2:, 1:-1]),
                                 torch.minimum(dist[:, 1:-1, :-2], dist[:, 1:-1, 2:])) + 1
            new = torch.where(inner_open, torch.minimum(inner, near), UNREACHED)
            if torch.equal(new, inner):
                break
            dist[:, 1:-1, 1:-1] = new
        return dist

    def moves(self, kind: str) -> torch.Tensor:
        """[B, P] int64 move codes (MOVE_ACTIONS) of a player of `kind` in every seat."""
        w = self.world
        target, forbidden = targets(w, check_kind(kind))
        dist = self.distances(target, forbidden).view(w.B, -1)
        y, x = w.unflat(w.pos)
        here_cell = (y + 1) * self.Wc + x + 1  # [B, P]
        here = dist.gather(1, here_cell)
        near = dist.gather(1, (here_cell[..., None] + self.steps).view(w.B, -1)).view(w.B, w.P, 4)
        nearer = (near == (here - 1)[..., None]) & ((here > 0) & (here < UNREACHED))[..., None]
        direction = nearer.to(torch.int8).argmax(-1)  # the first of N, E, S, W (argmax: first max)
        code = ((direction - w.orient) & 3) + 1
        return torch.where(nearer.any(-1) & w.alive, code, 0)
