"""Scripted commons_harvest players (`scripted:sustainable`, `scripted:greedy`,
`scripted:greedy_zapper`, `scripted:chaser`) as agents, on both engines.

The policies and their rule are defined in popbased.env.fast.scripted (read its docstring):
there, one torch pass over every world and seat of the fast env; here, the same rule written
plainly per Melting Pot world (a BFS per world, a loop over its players), reading the world
state Melting Pot itself reports: popbased's read-only StateDump observer
(WORLD.POPBASED_STATE: apples, positions, orientations, alive, cooling timers), parsed as
popbased.env.fast.capture does for validation. Both give action codes; `ScriptedAgent` plays
them in an arena's action set, in any seats, through the agent protocol (popbased.play.agents)
with the world state that the env's observation carries.

They read the full world state, not the player's view: references, not learned agents.
"""

from __future__ import annotations

from collections import deque
from typing import Sequence

import numpy as np

from popbased.env.fast import scripted as fast
from popbased.env.fast.capture import LIVE, Snapshot, parse_state
from popbased.env.fast.maps import DIRECTIONS, GameMap, build_map
from popbased.env.fast.world import World
from popbased.errors import BadInput
from popbased.ppo.actions import scripted_kind
from popbased.substrates.params import CommonsParams


def bfs(sources: list[tuple[int, int]], passable: np.ndarray) -> np.ndarray:
    """[H, W] steps to the nearest source over passable cells (-1: unreached)."""
    H, W = passable.shape
    dist = np.full((H, W), -1, dtype=np.int64)
    queue: deque[tuple[int, int]] = deque()
    for y, x in sources:
        dist[y, x] = 0
        queue.append((y, x))
    while queue:
        y, x = queue.popleft()
        for dy, dx in DIRECTIONS.tolist():
            ny, nx = y + dy, x + dx
            if 0 <= ny < H and 0 <= nx < W and passable[ny, nx] and dist[ny, nx] < 0:
                dist[ny, nx] = dist[y, x] + 1
                queue.append((ny, nx))
    return dist


def first_nearer(distance, y: int, x: int) -> int | None:
    """The first of N, E, S, W (0-3) whose cell is one step nearer by `distance(y, x)` (None
    for a cell at 0 or unreached, or with no nearer neighbour)."""
    here = distance(y, x)
    if here <= 0:
        return None
    for direction, (dy, dx) in enumerate(DIRECTIONS.tolist()):  # N, E, S, W
        if distance(y + dy, x + dx) == here - 1:
            return direction
    return None


def harvest(state: Snapshot, game: GameMap, kind: str) -> np.ndarray:
    """[P] move codes of a harvester of `kind` (sustainable, greedy) in every seat."""
    A = game.num_apples
    live = state.apple_state == LIVE
    padded = np.append(live, False)  # game.neighbours pads with A
    count = padded[game.neighbours].sum(1)
    allowed = live.copy()
    if kind == "sustainable":
        for a in range(A):
            near = [w for w in game.neighbours[a] if w < A]
            allowed[a] = (live[a] and count[a] >= fast.REGROWS_FROM and
                          all(live[w] or count[w] > fast.REGROWS_FROM for w in near))
    passable = ~game.wall
    sources = []
    for a, (y, x) in enumerate(game.apple_cells.tolist()):
        if live[a] and not allowed[a]:
            passable[y, x] = False
        elif allowed[a]:
            sources.append((y, x))
    dist = bfs(sources, passable)
    out = np.zeros(game.players, dtype=np.int64)
    for p in range(game.players):
        (y, x), facing = state.pos[p].tolist(), int(state.orient[p])
        direction = first_nearer(lambda yy, xx: dist[yy, xx], y, x) if state.alive[p] else None
        if direction is not None:
            out[p] = (direction - facing) % 4 + 1
    return out


def in_beam(state: Snapshot, game: GameMap, p: int) -> bool:
    """Player p is alive and a live player is the first thing (walls and players block) on one
    of its beam's three lines: beside it and ahead, L cells each, and ahead of it from 1 to L."""
    if not state.alive[p]:
        return False
    H, W, L = game.height, game.width, game.beam_length
    at = {tuple(c): q for q, c in enumerate(state.pos.tolist()) if state.alive[q]}
    (y, x), facing = state.pos[p].tolist(), int(state.orient[p])
    (fy, fx), (ry, rx) = DIRECTIONS[facing].tolist(), DIRECTIONS[(facing + 1) % 4].tolist()
    lines = ([(-ry + d * fy, -rx + d * fx) for d in range(L)], [(ry + d * fy, rx + d * fx) for d in range(L)],
             [(d * fy, d * fx) for d in range(1, L + 1)])
    for line in lines:
        for dy, dx in line:
            cell = (y + dy, x + dx)
            if cell in at:
                return True
            if not (0 <= cell[0] < H and 0 <= cell[1] < W) or game.wall[cell]:
                break
    return False


def chase(state: Snapshot, game: GameMap) -> np.ndarray:
    """[P] codes of chasers: towards the nearest other live player, turning to face it."""
    P = game.players
    passable = ~game.wall
    fields = [bfs([tuple(state.pos[q].tolist())], passable) if state.alive[q] else None for q in range(P)]
    out = np.zeros(P, dtype=np.int64)
    for p in range(P):
        if not state.alive[p]:
            continue
        others = [f for q, f in enumerate(fields) if q != p and f is not None]

        def distance(y, x):
            reached = [int(f[y, x]) for f in others if f[y, x] >= 0]
            return min(reached) if reached else -1
        (y, x), facing = state.pos[p].tolist(), int(state.orient[p])
        direction = first_nearer(distance, y, x)
        if direction is not None:
            turn = (direction - facing) % 4
            out[p] = 1 if turn == 0 else fast.TURN_LEFT if turn == 3 else fast.TURN_RIGHT
    return out


def lab_moves(state: Snapshot, game: GameMap, kind: str) -> np.ndarray:
    """[P] action codes (fast.ACTIONS) of a player of `kind` in every seat of one world."""
    fast.check_kind(kind)
    if kind in ("sustainable", "greedy"):
        return harvest(state, game, kind)
    walk = harvest(state, game, "greedy") if kind == "greedy_zapper" else chase(state, game)
    fire = [state.timer[p] == 0 and in_beam(state, game, p) for p in range(game.players)]
    return np.where(fire, fast.FIRE, walk)


class ScriptedAgent:
    """A scripted policy in some seats of either engine: it reads the observation's `world`
    (the fast env's World, or Melting Pot's WORLD.POPBASED_STATE per env) and no view."""

    obs_size = None
    reads_world = True
    """The env must carry its world state in each observation (make_env's world_state)."""

    def __init__(self, ref: str, arena_actions: Sequence[str], params: CommonsParams | None = None):
        self.ref, self.kind = ref, scripted_kind(ref)
        if self.kind is None:
            raise BadInput(f"policy {ref!r}: not a scripted policy (scripted:NAME)")
        self.to_arena = fast.move_actions(arena_actions, self.kind)
        self.params = params
        self._game: GameMap | None = None
        self._fast: fast.Scripted | None = None

    def act(self, obs) -> np.ndarray:
        world = getattr(obs, "world", None)
        seats = np.asarray(obs.seats)
        if isinstance(world, World):
            if self._fast is None or self._fast.world is not world:
                self._fast = fast.Scripted(world)
            codes = self._fast.moves(self.kind).view(-1).cpu().numpy()[seats]
        elif world is not None:
            game = self.game()
            env, player = np.divmod(seats, game.players)
            codes = np.zeros(len(seats), dtype=np.int64)
            for e in np.unique(env):
                state = parse_state(world[e], game, np.zeros(game.players, np.int64))
                rows = env == e
                codes[rows] = lab_moves(state, game, self.kind)[player[rows]]
        else:
            raise BadInput(f"policy {self.ref!r} reads the world state, which this env does not "
                           f"give (scripted policies play `substrates run` and `evaluate run | "
                           f"sweep | matrix` on the commons_harvest family)")
        return self.to_arena[codes]

    def game(self) -> GameMap:
        if self._game is None:
            if self.params is None:
                raise BadInput(f"policy {self.ref!r}: plays the commons_harvest family only")
            self._game = build_map(self.params)
        return self._game

    def observe_done(self, done: np.ndarray) -> None:
        pass
