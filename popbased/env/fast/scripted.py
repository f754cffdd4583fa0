"""Scripted commons_harvest players on the fast env: every world and seat in one pass (torch).

Four policies (`KINDS`), defined once here and played alike on Melting Pot by
popbased.play.scripted (tests/env/fast/test_fast_scripted.py and test_fast_scripted_zap.py
check that they choose the same actions from the same states):

    sustainable    walks to the nearest apple it may eat and eats nothing else;
    greedy         walks to the nearest live apple and eats everything (Melting Pot's
                   "pacifist" bots' behaviour, unsustainable);
    greedy_zapper  the greedy harvester that also zaps every player in its beam when it may
                   fire (the "free" bots' behaviour: harvest unsustainably and zap);
    chaser         walks after the nearest other player, turning to face where it goes, and
                   zaps it once it is in the beam (a pure aggressor: it eats only by accident).

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
  - zapping (greedy_zapper, chaser): FIRE_ZAP when the player may fire (its cooling timer is
    0) and a live player is the first thing (before any wall or other player) on one of its
    beam's three lines from the step's start (the game's own beam: `World.beams`);
  - the chaser's target: the nearest other live player over non-wall cells (apples and
    players ignored); it takes the first of N, E, S, W one step nearer, with FORWARD when it
    faces that way, else the turn towards it (TURN_RIGHT for a half turn).
Ties (several nearest targets) thus break by the fixed N, E, S, W order on both engines.

These are references and bots, not agents: they read the full world state (every apple, every
player's position, orientation and cooling timer), of which a player's 11x11 view shows a part.
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
ACTIONS = ("NOOP", "FORWARD", "STEP_RIGHT", "BACKWARD", "STEP_LEFT", "TURN_LEFT", "TURN_RIGHT",
           "FIRE_ZAP")
"""The action of each code: 0 stays, 1..4 = Lab2d's `move` (1 + the absolute direction minus
the orientation, N=0 E=1 S=2 W=3), then the two turns and the zap."""
MOVE_ACTIONS = ACTIONS[:5]
TURN_LEFT, TURN_RIGHT, FIRE = 5, 6, 7
NEEDS = {"sustainable": MOVE_ACTIONS, "greedy": MOVE_ACTIONS,
         "greedy_zapper": MOVE_ACTIONS + ("FIRE_ZAP",),
         "chaser": ("NOOP", "FORWARD", "TURN_LEFT", "TURN_RIGHT", "FIRE_ZAP")}
"""The actions each kind plays (an arena must have them)."""
UNREACHED = 1 << 14


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise BadInput(f"scripted policy {kind!r}: allowed are {', '.join(KINDS)}")
    return kind


def move_actions(arena_actions: Sequence[str], kind: str = "greedy") -> np.ndarray:
    """[8] arena action index of each code (ACTIONS) in an arena's action set, for a player of
    `kind` (codes it never plays: NOOP's index); BadInput when the arena lacks one it plays."""
    names = list(arena_actions)
    missing = [name for name in NEEDS[check_kind(kind)] if name not in names]
    if missing:
        raise BadInput(f"scripted:{kind} needs the actions {', '.join(missing)}, which this "
                       f"substrate lacks (its actions: {', '.join(names)})")
    noop = names.index("NOOP")
    return np.array([names.index(n) if n in NEEDS[kind] else noop for n in ACTIONS], dtype=np.int64)


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

    def spread(self, dist: torch.Tensor, passable: torch.Tensor) -> torch.Tensor:
        """BFS in place: dist [K, H + 2, W + 2] int32 (0 at the sources, UNREACHED elsewhere)
        becomes the steps to the nearest source over `passable` cells ([K or 1, H + 2, W + 2])."""
        inner_open = passable[:, 1:-1, 1:-1]
        for _ in range(dist[0].numel()):
            inner = dist[:, 1:-1, 1:-1]
            near = torch.minimum(torch.minimum(dist[:, :-2, 1:-1], dist[:, 2:, 1:-1]),
                                 torch.minimum(dist[:, 1:-1, :-2], dist[:, 1:-1, 2:])) + 1
            new = torch.where(inner_open, torch.minimum(inner, near), UNREACHED)
            if torch.equal(new, inner):
                break
            dist[:, 1:-1, 1:-1] = new
        return dist

    def distances(self, target: torch.Tensor, forbidden: torch.Tensor) -> torch.Tensor:
        """[B, H + 2, W + 2] int32: steps to the nearest target (UNREACHED where none is)."""
        B = target.shape[0]
        passable = self.open.expand(B, -1, -1).clone()
        passable.view(B, -1)[:, self.apple_cell] &= ~forbidden
        dist = torch.full(passable.shape, UNREACHED, dtype=torch.int32, device=passable.device)
        dist.view(B, -1)[:, self.apple_cell] = torch.where(target, 0, UNREACHED).to(torch.int32)
        return self.spread(dist, passable)

    def cells(self) -> torch.Tensor:
        """[B, P] each player's cell in the bordered map (flat)."""
        y, x = self.world.unflat(self.world.pos)
        return (y + 1) * self.Wc + x + 1

    def first_nearer(self, dist_here: torch.Tensor, dist_near: torch.Tensor, alive: torch.Tensor):
        """(any [B, P], direction [B, P]): whether a neighbour cell is one step nearer, and the
        first of N, E, S, W that is (dist_here [B, P], dist_near [B, P, 4])."""
        nearer = (dist_near == (dist_here - 1)[..., None]) & \
            ((dist_here > 0) & (dist_here < UNREACHED) & alive)[..., None]
        return nearer.any(-1), nearer.to(torch.int8).argmax(-1)  # argmax: the first max

    def harvest(self, kind: str) -> torch.Tensor:
        """[B, P] move codes of a harvester of `kind` (sustainable, greedy)."""
        w = self.world
        target, forbidden = targets(w, kind)
        dist = self.distances(target, forbidden).view(w.B, -1)
        here_cell = self.cells()
        here = dist.gather(1, here_cell)
        near = dist.gather(1, (here_cell[..., None] + self.steps).view(w.B, -1)).view(w.B, w.P, 4)
        go, direction = self.first_nearer(here, near, w.alive)
        code = ((direction - w.orient) & 3) + 1
        return torch.where(go, code, 0)

    def in_beam(self) -> torch.Tensor:
        """[B, P] bool: the player is alive and a live player is the first thing on one of its
        beam's lines (walls and players block), as `World.beams` would cast it now."""
        w = self.world
        B, P, L = w.B, w.P, w.game.beam_length
        offsets = w.beam_offsets[w.orient.long()]  # [B, P, 3, L]
        cells = (w.pos[..., None, None] + offsets).clamp_(0, w.N - 1)
        occupant = w.occ.gather(1, cells.view(B, -1)).view(B, P, 3, L)
        blocked = w.wall[cells] | (occupant > 0)
        first = blocked & (blocked.cumsum(-1) == 1)
        return (first & (occupant > 0)).flatten(2).any(-1) & w.alive

    def chase(self) -> torch.Tensor:
        """[B, P] codes of chasers: towards the nearest other live player, turning to face it."""
        w = self.world
        B, P, dev = w.B, w.P, w.device
        here_cell = self.cells()
        dist = torch.full((B * P,) + tuple(self.open.shape), UNREACHED, dtype=torch.int32, device=dev)
        dist.view(B * P, -1)[torch.arange(B * P, device=dev), here_cell.view(-1)] = 0
        dist = self.spread(dist, self.open[None]).view(B, P, -1)  # [B, q, cells] from player q
        look = torch.cat([here_cell[..., None], here_cell[..., None] + self.steps], -1)  # [B, p, 5]
        seen = dist.gather(2, look.view(B, 1, P * 5).expand(B, P, P * 5)).view(B, P, P, 5)
        other = ~torch.eye(P, dtype=torch.bool, device=dev)[None] & w.alive[:, :, None]  # [B, q, p]
        seen = torch.where(other[..., None], seen, UNREACHED).amin(1)  # [B, p, 5]
        go, direction = self.first_nearer(seen[..., 0], seen[..., 1:], w.alive)
        turn = (direction - w.orient) & 3
        code = torch.where(turn == 0, 1, torch.where(turn == 3, TURN_LEFT, TURN_RIGHT))
        return torch.where(go, code, 0)

    def moves(self, kind: str) -> torch.Tensor:
        """[B, P] int64 action codes (ACTIONS) of a player of `kind` in every seat."""
        check_kind(kind)
        if kind in ("sustainable", "greedy"):
            return self.harvest(kind)
        walk = self.harvest("greedy") if kind == "greedy_zapper" else self.chase()
        fire = self.in_beam() & (self.world.timer == 0)
        return torch.where(fire, FIRE, walk)
