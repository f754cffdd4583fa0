"""Scripted commons_harvest players (`scripted:sustainable`, `scripted:greedy`) as agents, on
both engines.

The policies and their rule are defined in popbased.env.fast.scripted (read its docstring):
there, one torch pass over every world and seat of the fast env; here, the same rule written
plainly per Melting Pot world (a BFS per world, a loop over its players), reading the world
state Melting Pot itself reports: popbased's read-only StateDump observer
(WORLD.POPBASED_STATE: apples, positions, orientations, alive), parsed as
popbased.env.fast.capture does for validation. Both give move codes; `ScriptedAgent` plays
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


def lab_moves(state: Snapshot, game: GameMap, kind: str) -> np.ndarray:
    """[P] move codes (fast.MOVE_ACTIONS) of a player of `kind` in every seat of one world."""
    A, H, W = game.num_apples, game.height, game.width
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
    dist = np.full((H, W), -1, dtype=np.int64)
    queue: deque[tuple[int, int]] = deque()
    for a, (y, x) in enumerate(game.apple_cells.tolist()):
        if live[a] and not allowed[a]:
            passable[y, x] = False
        elif allowed[a]:
            dist[y, x] = 0
            queue.append((y, x))
    while queue:
        y, x = queue.popleft()
        for dy, dx in DIRECTIONS.tolist():
            ny, nx = y + dy, x + dx
            if 0 <= ny < H and 0 <= nx < W and passable[ny, nx] and dist[ny, nx] < 0:
                dist[ny, nx] = dist[y, x] + 1
                queue.append((ny, nx))
    out = np.zeros(game.players, dtype=np.int64)
    for p in range(game.players):
        (y, x), facing = state.pos[p].tolist(), int(state.orient[p])
        here = dist[y, x]
        if not state.alive[p] or here <= 0:
            continue
        for direction, (dy, dx) in enumerate(DIRECTIONS.tolist()):  # N, E, S, W
            if dist[y + dy, x + dx] == here - 1:
                out[p] = (direction - facing) % 4 + 1
                break
    return out


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
        self.to_arena = fast.move_actions(arena_actions)
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
