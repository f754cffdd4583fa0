"""Per-member statistics of one generation, for the records (MLflow member runs,
generations.jsonl): the mean of each learner statistic over the generation's updates
(losses, entropy, KL, ...) and, over the episode seats the member held, its mean return,
apples eaten, zaps fired, zap hits and times zapped, and over the episodes it played in,
their per-capita return, Gini and depletion (each episode once per member)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable, Mapping

import numpy as np

SEAT_FIELDS = ("returns", "apples_eaten", "zaps_fired", "zap_hits", "zapped")
NAMES = {"returns": "return", "apples_eaten": "apples_eaten", "zaps_fired": "zaps_fired",
         "zap_hits": "zap_hits", "zapped": "zapped"}


class MemberStats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._learner: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        self._seats: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))

    def add_learners(self, stats: Mapping[str, Mapping[str, Any]]) -> None:
        for member, values in stats.items():
            for key, value in (values or {}).items():
                if isinstance(value, (int, float)) and np.isfinite(value):
                    self._learner[member][key].append(float(value))

    def add_episodes(self, episodes: Iterable[Mapping[str, Any]]) -> None:
        for e in episodes:
            members = e.get("members")
            if not members:
                continue
            for member in set(members):
                if member is None:
                    continue
                self._seats[member]["episode_per_capita_return"].append(float(e["per_capita_return"]))
                self._seats[member]["episode_gini"].append(float(e["gini"]))
                if e.get("depleted") is not None:
                    self._seats[member]["episode_depleted"].append(float(e["depleted"]))
            for field in SEAT_FIELDS:
                values = e.get(field)
                if values is None:
                    continue
                for seat, member in enumerate(members):
                    if member is not None and seat < len(values):
                        self._seats[member][NAMES[field]].append(float(values[seat]))

    def of(self, member: str) -> dict[str, float]:
        """{'train/policy_loss': ..., 'episode/zaps_fired': ..., 'episode/gini': ..., ...}"""
        out = {f"train/{k}": float(np.mean(v)) for k, v in self._learner.get(member, {}).items() if v}
        seats = self._seats.get(member, {})
        out.update({f"episode/{k.removeprefix('episode_')}": float(np.mean(v))
                    for k, v in seats.items() if v})
        if seats:
            out["episode/seats"] = float(len(seats.get("return", [])))
        return out
