"""Real Melting Pot episodes, recorded step by step with their full world state.

A validation spec adds popbased's read-only StateDump observer (WORLD.POPBASED_STATE:
positions, orientations, alive, cooling timers, every apple's state, count and grass,
the step counter). `record` plays an episode with given or random actions and keeps,
for every step, that state, our downsampled 11x11 views, rewards, events,
READY_TO_SHOOT, ZAPS_FIRED and APPLES_IN_VIEW. `load` writes a recorded state into
one world of the fast env.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from popbased.env.fast.maps import GameMap
from popbased.env.fast.world import World
from popbased.env.instance import Instance, parse_events
from popbased.substrates.commons_harvest import build_spec
from popbased.substrates.params import CommonsParams

LIVE, WAIT = -2, -1


@dataclass
class Snapshot:
    """One world state (numpy); apples in GameMap order."""

    t: int
    pos: np.ndarray  # [P, 2] (y, x)
    orient: np.ndarray  # [P]
    alive: np.ndarray  # [P] bool
    timer: np.ndarray  # [P]
    wait: np.ndarray  # [P] steps since removal (0 while alive)
    apple_state: np.ndarray  # [A] LIVE, WAIT or the group k of appleWait_k
    count: np.ndarray  # [A] Neighborhoods count
    grass: np.ndarray  # [A] bool


@dataclass
class Step:
    """What Melting Pot showed after one step (or after the reset, with actions None)."""

    state: Snapshot
    actions: np.ndarray | None
    rgb: np.ndarray  # [P, 11, 11, 3]
    reward: np.ndarray
    ready: np.ndarray
    apples_in_view: np.ndarray
    fired: np.ndarray  # [P] beams fired this step
    eaten: list[int] = field(default_factory=list)
    zaps: list[tuple[int, int]] = field(default_factory=list)
    done: bool = False


def validation_spec(params: CommonsParams):
    return build_spec("validation", params, state_dump=True)


def parse_state(vector: np.ndarray, game: GameMap, wait: np.ndarray) -> Snapshot:
    P, A = game.players, game.num_apples
    v = np.asarray(vector, dtype=np.float64)
    players = v[1:1 + 5 * P].reshape(P, 5).astype(np.int64)
    apples = v[1 + 5 * P:].reshape(A, 5).astype(np.int64)
    index = {(int(y), int(x)): i for i, (y, x) in enumerate(game.apple_cells)}
    order = np.array([index[(int(y), int(x))] for x, y in apples[:, :2]])
    state = np.empty(A, np.int64)
    count = np.empty(A, np.int64)
    grass = np.empty(A, bool)
    state[order], count[order], grass[order] = apples[:, 2], apples[:, 3], apples[:, 4] > 0
    return Snapshot(t=int(v[0]), pos=players[:, [1, 0]].copy(), orient=players[:, 2].copy(),
                    alive=players[:, 3] > 0, timer=players[:, 4].copy(), wait=wait.copy(),
                    apple_state=state, count=count, grass=grass)


def record(params: CommonsParams, game: GameMap, steps: int, seed: int,
           policy: Callable[[int, Snapshot], np.ndarray] | None = None) -> list[Step]:
    """Plays `steps` steps of a real Melting Pot episode (random actions unless `policy`
    (step, state) -> actions); returns the reset observation and every step after it."""
    spec = validation_spec(params)
    rng = np.random.default_rng(seed)
    inst = Instance(spec, int(rng.integers(1, 2**31 - 1)))
    inst.start(0, int(rng.integers(0, 2**31 - 1)))
    P = game.players
    rgb = np.empty((P, 11, 11, 3), np.uint8)
    wait = np.zeros(P, np.int64)
    fired_before = np.zeros(P)

    def observe(actions, reward, eaten, zaps, done):
        nonlocal fired_before
        state = parse_state(inst.observation("WORLD.POPBASED_STATE"), game, wait)
        inst.rgb(rgb)
        fired_total = inst.scalars("ZAPS_FIRED")
        fired = fired_total - fired_before
        fired_before = fired_total
        return Step(state, actions, rgb.copy(), reward, inst.scalars("READY_TO_SHOOT"),
                    inst.scalars("APPLES_IN_VIEW"), fired, eaten, zaps, done)

    out = [observe(None, np.zeros(P), [], [], False)]
    for n in range(steps):
        state = out[-1].state
        if policy is None:
            actions = rng.integers(0, len(spec.action_names), P)
        else:
            actions = np.asarray(policy(n, state))
        done = inst.act(actions)
        eaten, zaps = parse_events(inst.lab.events())
        reward = inst.scalars("REWARD")
        alive_before = state.alive
        step = observe(actions, reward, eaten, zaps, done)
        wait[:] = np.where(step.state.alive, 0, np.where(alive_before, 0, wait + 1))
        step.state.wait = wait.copy()
        out.append(step)
        if done:
            break
    inst.close()
    return out


def load(world: World, b: int, snap: Snapshot, alive: np.ndarray | None = None) -> None:
    """Puts world b in the state `snap` (optionally with another alive vector)."""
    dev = world.device
    A, P = world.A, world.P
    alive = snap.alive if alive is None else alive
    pos = world.flat(torch.from_numpy(snap.pos[:, 0]), torch.from_numpy(snap.pos[:, 1])).to(dev)
    world.pos[b] = pos
    world.orient[b] = torch.from_numpy(snap.orient).to(dev)
    world.alive[b] = torch.from_numpy(alive).to(dev)
    world.timer[b] = torch.from_numpy(snap.timer).to(dev).to(torch.int16)
    world.wait[b] = torch.from_numpy(snap.wait).to(dev).to(torch.int16)
    state = torch.from_numpy(snap.apple_state).to(dev)
    world.live[b, :A] = state == LIVE
    world.live[b, A] = False
    world.group[b, :A] = torch.where(state >= 0, state, torch.where(state == WAIT, -1, 0)).to(torch.int16)
    world.grass[b, :A] = torch.from_numpy(snap.grass).to(dev)
    world.t[b] = snap.t - 1  # Lua's _t is 1 at the reset: the fast env counts steps done
    world.beam[b] = False
    world.occ[b] = 0
    players = torch.arange(1, P + 1, dtype=torch.int8, device=dev)
    alive_t = world.alive[b]
    world.occ[b, pos[alive_t]] = players[alive_t]


def snapshot(world: World, b: int) -> dict[str, np.ndarray]:
    """World b's state as numpy arrays in Snapshot's conventions (for comparisons)."""
    A = world.A
    y, x = world.unflat(world.pos[b])
    live = world.live[b, :A].cpu().numpy()
    group = world.group[b, :A].cpu().numpy().astype(np.int64)
    return {"pos": torch.stack([y, x], 1).cpu().numpy(), "orient": world.orient[b].cpu().numpy(),
            "alive": world.alive[b].cpu().numpy(), "timer": world.timer[b].cpu().numpy().astype(np.int64),
            "apple_state": np.where(live, LIVE, group), "grass": world.grass[b, :A].cpu().numpy(),
            "count": world.live[b, world.neighbours].sum(-1).cpu().numpy().astype(np.int64)}
