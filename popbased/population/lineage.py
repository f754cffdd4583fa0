"""Lineage: every PBT decision as a recorded event, and the replay of a member's schedule."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from popbased import textio
from popbased.errors import BadInput
from popbased.textio import write_atomic


@dataclass(frozen=True)
class LineageEvent:
    member: str
    generation: int
    agent_step: int
    kind: str
    """'init', 'keep', 'exploit' (copied the donor's weights and genes), 'adopt' (took the
    donor's genes only, `[pbt] inherit = "genes"`) or 'explore' (mutated its own values)."""
    values: dict[str, float]
    """The member's gene values after the event (what it trains with from then on)."""
    changes: dict[str, Any] = field(default_factory=dict)
    """name -> [old, new, how]."""
    donor: str | None = None
    fitness: float | None = None
    donor_fitness: float | None = None
    reason: str = ""


class LineageLog:
    """Append-only list of events; JSON Lines on disk when given a path."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else None
        self.events: list[LineageEvent] = []
        if self.path is not None:
            for number, record in enumerate(textio.read(self.path), 1):
                try:
                    self.events.append(LineageEvent(**record))
                except TypeError as err:
                    raise BadInput(f"{self.path}:{number}: not a lineage event ({err})") from None

    def append(self, event: LineageEvent) -> LineageEvent:
        self.events.append(event)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as f:
                f.write(json.dumps(asdict(event)) + "\n")
        return event

    def truncate(self, count: int) -> None:
        """Keeps the first `count` events (drops those of a generation that never completed)."""
        self.events = self.events[:count]
        if self.path is not None:
            write_atomic(self.path, "".join(json.dumps(asdict(e)) + "\n" for e in self.events).encode())

    def of(self, member: str) -> list[LineageEvent]:
        return [e for e in self.events if e.member == member]

    def schedule(self, member: str) -> list[tuple[int, dict[str, float]]]:
        """(agent_step, values) each time the member's values changed, oldest first."""
        out: list[tuple[int, dict[str, float]]] = []
        for e in self.of(member):
            if not out or out[-1][1] != e.values:
                out.append((e.agent_step, dict(e.values)))
        return out

    def values_at(self, member: str, agent_step: int) -> dict[str, float] | None:
        """The values the member trained with at `agent_step` (replays the schedule)."""
        current = None
        for step, values in self.schedule(member):
            if step > agent_step:
                break
            current = values
        return current

    def ancestry(self, member: str) -> list[str]:
        """Donors the member copied, most recent first."""
        return [e.donor for e in reversed(self.of(member)) if e.kind == "exploit" and e.donor]

    def _line(self, member: str) -> Iterator[tuple[int, str]]:
        """(generation trained, the member whose weights trained in it), from the last
        generation back, following the member's weights through every copy: after an
        `exploit` at the end of generation g - 1 the weights of generation g came from its
        donor, whose line it is up to g - 1."""
        last = max((e.generation for e in self.events), default=0)
        holder = member
        for trained in range(last, 0, -1):
            yield trained, holder
            copied = [e for e in self.events if e.member == holder and e.generation == trained - 1
                      and e.kind == "exploit" and e.donor]
            if copied:
                holder = copied[-1].donor

    def descent(self, member: str) -> list[tuple[int, dict[str, float]]]:
        """(generation, the values trained with in it) for each generation the member's
        weights went through, oldest first, following its weights back through every copy: a
        member that copied a donor's weights after generation g carries the donor's history up
        to g. A PBT step after generation g (its events' `generation`) sets the values of
        generation g + 1; the last step's values were never trained and are left out. In sync
        mode (every member steps after every generation); an async run's members step apart,
        so there the generations are each member's own count."""
        out = []
        for trained, holder in self._line(member):
            before = [e for e in self.events if e.member == holder and e.generation <= trained - 1]
            if not before:
                break
            out.append((trained, dict(before[-1].values)))
        return out[::-1]

    def adoptions(self, member: str) -> list[tuple[int, str]]:
        """(generation, donor) of every `adopt` (`[pbt] inherit = "genes"`: a donor's genes
        taken, the weights kept) along the member's line of weights, as `descent` follows it
        back through every copy; oldest first."""
        out = []
        for trained, holder in self._line(member):
            out += [(e.generation, e.donor) for e in self.events if e.member == holder
                    and e.generation == trained - 1 and e.kind == "adopt" and e.donor]
        return out[::-1]


def replay(events: Iterable[LineageEvent], member: str) -> dict[str, float]:
    """Applies a member's recorded changes from its first event: its final values."""
    values: dict[str, float] = {}
    for e in events:
        if e.member != member:
            continue
        if e.kind in ("init", "exploit", "adopt"):
            values = dict(e.values)
        for name, change in e.changes.items():
            values[name] = change[1]
    return values
