"""Matchmaking: which match each env plays next, and who sits where.

A match (popbased.league.match.Match, built here once) travels to the rollout workers and
comes back on the episode summaries: mode, focal population, background source, the focal
seats, the phase (train / eval) and the generation. Background sources are another
population's name, a frozen snapshot's id (`open@g2`), `random`, a Melting Pot bot source
(`bots:ENTRY`, league/bots.py: each background seat draws one of its bots, `bot:NAME`), or
`self` (self-play: every seat is focal).

Rules for a focal population's background: `uniform` over the sources it can meet, or
`pfsp` (prioritised fictitious self-play, as in AlphaStar): weight (1 - x)^p + 0.1, where x
is the focal's mean return against the source normalised over its sources (0 = the source
it does worst against); a source not yet met weighs the most.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from popbased.league.match import Match
from popbased.league.spec import LeagueSpec, Mode
from popbased.ppo.actions import RANDOM

FLOOR = 0.1


def sources(spec: LeagueSpec, focal: str, snapshots: Sequence[str]) -> list[str]:
    """Background sources a focal population can meet in resident / visitor matches."""
    out: list[str] = []
    if "populations" in spec.sources:
        out += [p.name for p in spec.populations if p.name != focal]
    if "snapshots" in spec.sources:
        out += list(snapshots)
    if "random" in spec.sources:
        out.append(RANDOM)
    if "bots" in spec.sources:
        out += [b.label for b in spec.bots]
    return out


def weights(rule: str, focal_means: Mapping[str, float], candidates: Sequence[str],
            power: float) -> np.ndarray:
    """Selection weights of `candidates` for one focal population and mode."""
    if rule == "uniform":
        return np.full(len(candidates), 1.0 / len(candidates))
    known = [focal_means[c] for c in candidates
             if c in focal_means and not math.isnan(focal_means[c])]
    low, high = (min(known), max(known)) if known else (0.0, 0.0)
    out = []
    for c in candidates:
        mean = focal_means.get(c, math.nan)
        if math.isnan(mean):
            x = 0.0  # never met: as if it were the hardest
        else:
            x = (mean - low) / (high - low) if high > low else 0.5
        out.append((1.0 - x) ** power + FLOOR)
    w = np.array(out)
    return w / w.sum()


class Matchmaker:
    def __init__(self, spec: LeagueSpec, members: Mapping[str, Sequence[str]], players: int):
        """members: population -> its member ids (the seat labels of its learners)."""
        self.spec = spec
        self.members = {k: list(v) for k, v in members.items()}
        self.players = players
        self.snapshots: dict[str, str] = {}
        """snapshot id -> its seat label (the frozen publication's member id)."""
        self.means: dict[tuple[str, str, str], float] = {}
        self.bots = {b.label: b for b in spec.bots}
        """bot source -> its BotSource (the bots its background seats draw from)."""
        """(focal, background, mode) -> focal mean return (the last completed generation's)."""

    def match(self, rng: np.random.Generator, rule: str, phase: str, generation: int) -> Match:
        spec = self.spec
        focal = spec.populations[int(rng.integers(len(spec.populations)))].name
        modes = spec.modes
        mode = modes[int(rng.choice(len(modes), p=[m.share for m in modes]))]
        background = "self"
        if mode.name != "self_play":
            candidates = sources(spec, focal, list(self.snapshots))
            if candidates:
                focal_means = {b: v for (f, b, md), v in self.means.items()
                               if f == focal and md == mode.name}
                w = weights(rule, focal_means, candidates, spec.pfsp_power)
                background = candidates[int(rng.choice(len(candidates), p=w))]
            else:  # nothing to meet yet (e.g. no snapshot frozen): self-play
                mode = next((m for m in modes if m.name == "self_play"), None) or \
                    Mode("self_play", 0.0, self.players)
        k = mode.focal if mode.name != "self_play" else self.players
        focal_seats = tuple(sorted(int(s) for s in rng.choice(self.players, size=k, replace=False)))
        return Match(mode.name, focal, background, focal_seats, phase, generation)

    def _draw(self, rng: np.random.Generator, population: str, count: int) -> list[str]:
        pool = self.members[population]
        if self.spec.member_draw == "match":
            return [pool[int(rng.integers(len(pool)))]] * count
        order = [pool[i % len(pool)] for i in range(max(count, len(pool)))]
        rng.shuffle(order)
        return order[:count]

    def seats(self, rng: np.random.Generator, match: Match) -> list[str]:
        """Who sits in each seat of one env playing `match`."""
        focal = set(match.focal_seats)
        out: list[str] = [""] * self.players
        mine = self._draw(rng, match.focal, len(focal))
        others = [s for s in range(self.players) if s not in focal]
        background = match.background
        if not others:
            theirs = []
        elif background in self.members:
            theirs = self._draw(rng, background, len(others))
        elif background == RANDOM:
            theirs = [RANDOM] * len(others)
        elif background in self.bots:  # a bot per seat, drawn as Melting Pot's scenarios draw
            source = self.bots[background]
            theirs = [source.label_of(source.bots[int(rng.integers(len(source.bots)))]) for _ in others]
        else:
            theirs = [self.snapshots[background]] * len(others)
        for seat, member in zip(sorted(focal), mine):
            out[seat] = member
        for seat, member in zip(others, theirs):
            out[seat] = member
        return out

    def plan(self, rng: np.random.Generator, workers: int, envs: int, rule: str, phase: str,
             generation: int) -> tuple[list[list[str]], list[list[Match]]]:
        """Seat labels per worker (flat, env by env) and the match of each env."""
        seats, matches = [], []
        for _ in range(workers):
            ms = [self.match(rng, rule, phase, generation) for _ in range(envs)]
            matches.append(ms)
            seats.append([label for m in ms for label in self.seats(rng, m)])
        return seats, matches
