"""The payoff table: how each population fares against each background, per mode.

A cell is (focal population, background source, mode). Each episode of a league match (its
summary's `match`, a popbased.league.match.Match) adds one sample to its cell: the focal
players' per-capita return (the substrate's own reward, never shaped), the background
players' per-capita return, the episode's Gini and whether the field was depleted. Cells
report counts, means and 95% confidence intervals (Student t).

League score (Melting Pot 2.0 style): in every (background, mode) scenario that at least
two populations played as focal, a population's mean focal return is normalised to
0 (the worst population there) .. 1 (the best); its league score is the mean over the
scenarios it played. Self-play is one shared scenario (`self`).

Member samples for the `league` fitness: one per episode in which the member held focal
seats: its mean return over those seats, minus the mean focal return of the cell (so
members are not judged by how hard the matches they were drawn into were).
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

import numpy as np

from popbased.league.match import Match

SEP = "|"


def key(focal: str, background: str, mode: str) -> str:
    return SEP.join((focal, background, mode))


def split(cell: str) -> tuple[str, str, str]:
    focal, background, mode = cell.split(SEP)
    return focal, background, mode


def interval(values: list[float]) -> tuple[float, float, float]:
    """(mean, low, high) of a 95% Student-t interval; NaN bounds under two samples."""
    if not values:
        return math.nan, math.nan, math.nan
    mean = float(np.mean(values))
    if len(values) < 2:
        return mean, math.nan, math.nan
    from scipy.stats import t  # deferred: heavy, and only intervals need it

    half = float(t.ppf(0.975, len(values) - 1) * np.std(values, ddof=1) / math.sqrt(len(values)))
    return mean, mean - half, mean + half



def normalised(values: Mapping[str, float]) -> dict[str, float]:
    """Min-max over the policies (or populations) of one scenario, Melting Pot's score (0.5
    each where they all tie; NaN stays NaN)."""
    finite = [v for v in values.values() if v == v]
    low, high = (min(finite), max(finite)) if finite else (math.nan, math.nan)
    return {p: (math.nan if v != v else 0.5 if high == low else (v - low) / (high - low))
            for p, v in values.items()}

class PayoffTable:
    def __init__(self, generation: int, cells: Mapping[str, Mapping[str, list]] | None = None):
        self.generation = generation
        self.cells: dict[str, dict[str, list]] = {k: {f: list(v) for f, v in c.items()}
                                                  for k, c in (cells or {}).items()}
        self.seat_returns: list[tuple[str, str, float]] = []
        """(cell, member, its mean return over its focal seats) per episode (not saved)."""

    def add(self, episodes: Iterable[Mapping[str, Any]]) -> int:
        added = 0
        for e in episodes:
            match: Match | None = e.get("match")
            if match is None:
                continue
            returns = np.asarray(e["returns"], dtype=float)
            focal = list(match.focal_seats)
            others = [s for s in range(len(returns)) if s not in set(focal)]
            cell_key = key(*match.cell)
            cell = self.cells.setdefault(cell_key, {"focal": [], "background": [], "gini": [],
                                                    "depleted": [], "phase": []})
            cell["focal"].append(float(returns[focal].mean()))
            cell["background"].append(float(returns[others].mean()) if others else math.nan)
            cell["gini"].append(float(e["gini"]))
            cell["depleted"].append(None if e.get("depleted") is None else bool(e["depleted"]))
            cell["phase"].append(match.phase)
            by_member: dict[str, list[float]] = {}
            for s in focal:
                by_member.setdefault(e["members"][s], []).append(float(returns[s]))
            for member, values in by_member.items():  # one sample per member and episode
                self.seat_returns.append((cell_key, member, float(np.mean(values))))
            added += 1
        return added

    # ------------------------------------------------------------------ summaries
    def rows(self) -> list[dict[str, Any]]:
        out = []
        for cell_key in sorted(self.cells):
            c = self.cells[cell_key]
            focal, background, mode = split(cell_key)
            mean, low, high = interval(c["focal"])
            depleted = [d for d in c["depleted"] if d is not None]
            out.append({"focal": focal, "background": background, "mode": mode,
                        "episodes": len(c["focal"]), "return": mean, "ci_low": low, "ci_high": high,
                        "background_return": float(np.nanmean(c["background"]))
                        if any(not math.isnan(x) for x in c["background"]) else math.nan,
                        "gini": float(np.mean(c["gini"])),
                        "depleted": float(np.mean(depleted)) if depleted else math.nan})
        return out

    def means(self) -> dict[tuple[str, str, str], float]:
        return {split(k): float(np.mean(c["focal"])) for k, c in self.cells.items() if c["focal"]}

    def scores(self, populations: Iterable[str]) -> dict[str, float]:
        """League score per population (NaN where it shares no scenario with another)."""
        scenarios: dict[tuple[str, str], dict[str, float]] = {}
        for (focal, background, mode), mean in self.means().items():
            scenarios.setdefault((background, mode), {})[focal] = mean
        per_pop: dict[str, list[float]] = {p: [] for p in populations}
        for by_pop in scenarios.values():
            if len(by_pop) < 2:
                continue
            for pop, score in normalised(by_pop).items():
                if pop in per_pop:
                    per_pop[pop].append(score)
        return {p: float(np.mean(v)) if v else math.nan for p, v in per_pop.items()}

    def member_samples(self) -> dict[str, list[float]]:
        """member -> own focal return minus its cell's mean (the `league` fitness samples)."""
        cell_means = {k: float(np.mean(c["focal"])) for k, c in self.cells.items() if c["focal"]}
        out: dict[str, list[float]] = {}
        for cell_key, member, value in self.seat_returns:
            out.setdefault(member, []).append(value - cell_means[cell_key])
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"generation": self.generation, "cells": self.cells}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PayoffTable":
        return cls(int(data["generation"]), data.get("cells", {}))
