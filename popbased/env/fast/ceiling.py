"""The sustainable harvest ceiling of a commons_harvest map: about how many apples per step
any players can harvest in the long run, computed exactly from the map's apple patches and
regrowth probabilities (docs/scripted.md gives the open map's figures).

Argument. Apples regrow only by the rule p[min(c, 3)], where c is the count of live apples
within radius 2 (Melting Pot's; counted two steps late, which is ignored here). In the long
run every apple harvested is an apple that regrew (the apples of the start aside, harvested
once per episode), so the harvest rate is at most the expected regrowth rate, which at any
moment is the sum over the waiting apples of p[c]. Patches (sets of apples linked by radius-2
neighbourhoods) regrow independently, so

    bound = sum over patches of  max over live subsets L of the patch of
            sum over apples a of the patch not in L of  p[min(|disc(a) ∩ L|, 3)]

found exhaustively per patch (2^13 subsets for the open map's diamonds): `cycle=False`. The
best L is a "skeleton" of apples never eaten; the others are eaten as soon as they regrow.
With `cycle=True` (the default) each waiting apple counts p / (1 + p) instead of p: an eaten
apple waits one step with no chance at all (Melting Pot's `appleWait`), so even eaten the
moment it regrows an apple of rate p regrows once per 1 + 1/p steps on average. That is the
tighter figure (exact where every waiting apple of the skeleton configuration has the same p).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from popbased.env.fast.maps import GameMap

MAX_PATCH = 20
"""Patches of more apples than this are not searched exhaustively (2^n subsets)."""


@dataclass(frozen=True)
class Patch:
    apples: tuple[int, ...]
    """Apple indices (GameMap order)."""
    skeleton: tuple[int, ...]
    """The apples kept live in the best configuration (the fewest among the best)."""
    rate: float
    """Its regrowth (= harvest) rate, apples per step, at the best configuration."""


def patches(game: GameMap) -> list[tuple[int, ...]]:
    """The map's apple patches: connected sets of apples, linked within radius 2."""
    A = game.num_apples
    seen: set[int] = set()
    out = []
    for start in range(A):
        if start in seen:
            continue
        patch, stack = set(), [start]
        while stack:
            a = stack.pop()
            if a not in patch:
                patch.add(a)
                stack += [int(b) for b in game.neighbours[a] if b < A and b not in patch]
        seen |= patch
        out.append(tuple(sorted(patch)))
    return out


def patch_index(game: GameMap) -> np.ndarray:
    """[A] int64: the patch of each apple (GameMap order), numbered as `patches` lists them.
    What the episode trackers count live apples by (`patch_apples`)."""
    out = np.empty(game.num_apples, dtype=np.int64)
    for k, apples in enumerate(patches(game)):
        out[list(apples)] = k
    return out


def patch_apples(index: np.ndarray, live) -> np.ndarray:
    """[patches] float64: the live apples of each patch, from `live` [A] (1 / 0 or bool per
    apple, GameMap order; Melting Pot's WORLD.APPLES_LIVE) and `patch_index`'s `index`."""
    return np.bincount(index, weights=np.asarray(live, dtype=np.float64),
                       minlength=int(index.max()) + 1 if index.size else 0)


def ceiling_rate(game: GameMap, cycle: bool = True) -> float:
    """The map's sustainable ceiling, apples per step by all players together (the sum of
    `ceiling`'s patch rates; 0.888 on the open map, 126.9 per capita per 1,000 steps with 7
    players). ValueError where a patch is too large to search (private_property's plots
    form one patch of 84 apples: the discs reach across the walls between plots)."""
    return float(sum(p.rate for p in ceiling(game, cycle)))


def best_configuration(game: GameMap, apples: tuple[int, ...], cycle: bool = True) -> Patch:
    """The live subset of a patch with the greatest regrowth rate (`cycle`: with the one
    step an eaten apple waits before it may regrow, r = p / (1 + p); else r = p)."""
    n = len(apples)
    if n > MAX_PATCH:
        raise ValueError(f"a patch of {n} apples: more than {MAX_PATCH}, too many subsets to search")
    index = {a: i for i, a in enumerate(apples)}
    near = np.zeros((n, n), dtype=np.int64)  # [i, j] = 1 when apple j is within radius 2 of i
    for a in apples:
        for b in game.neighbours[a]:
            if int(b) in index:
                near[index[a], index[int(b)]] = 1
    subsets = np.arange(1 << n, dtype=np.int64)
    live = (subsets[:, None] >> np.arange(n)) & 1  # [2^n, n]
    count = live @ near.T  # live neighbours of each apple
    p = np.asarray(game.regrowth, dtype=np.float64)[np.minimum(count, 3)]
    r = p / (1 + p) if cycle else p
    rate = (r * (1 - live)).sum(1)
    best = rate.max()
    ties = np.flatnonzero(np.isclose(rate, best))
    choice = ties[np.argmin(live[ties].sum(1))]
    return Patch(apples, tuple(a for i, a in enumerate(apples) if live[choice, i]), float(best))


def ceiling(game: GameMap, cycle: bool = True) -> list[Patch]:
    """Each patch's best configuration; their rates add up to the map's ceiling (apples/step)."""
    return [best_configuration(game, apples, cycle) for apples in patches(game)]
