"""Match: what one env of a league plays from its first step to its last.

The matchmaker builds it once (popbased.league.matchmaking); it travels with the seat plan to
the rollout workers, which carry it unread into the summaries of the episodes it played
(`episode["match"]`); the payoff table and the league's evaluation phase read it there.
Frozen and made of plain values: it pickles to Ray actors and compares by value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class Match:
    mode: str
    """The league mode: 'self_play', 'resident' or 'visitor' (the league file's modes)."""
    focal: str
    """The focal population."""
    background: str
    """Who plays the other seats: another population's name, a frozen snapshot's id
    (`open@g2`), `random`, or `self` (self-play: every seat is focal)."""
    focal_seats: tuple[int, ...]
    """The focal players' seats, ascending."""
    phase: str
    """'train' (the seated learners learn from it) or 'eval' (evaluation: nobody does)."""
    generation: int
    """The generation it was drawn for (the one that completes after these rounds)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "focal_seats", tuple(int(s) for s in self.focal_seats))

    @property
    def cell(self) -> tuple[str, str, str]:
        """Its payoff cell: (focal, background, mode)."""
        return self.focal, self.background, self.mode

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "focal": self.focal, "background": self.background,
                "focal_seats": list(self.focal_seats), "phase": self.phase,
                "generation": self.generation}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Match":
        return cls(data["mode"], data["focal"], data["background"], tuple(data["focal_seats"]),
                   data.get("phase", "train"), int(data.get("generation", 0)))
