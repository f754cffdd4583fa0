"""Plain-text lines about a PBT run: one per generation, and a member's lineage."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from popbased.population.lineage import LineageEvent, LineageLog
from popbased.population.reports import GenerationSummary
from popbased.textio import num




def change_text(changes: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} {num(old)}->{num(new)}" for k, (old, new, *_) in changes.items())


def event_line(event: LineageEvent) -> str:
    kind, member = event.kind, event.member
    if kind == "exploit":
        return (f"{member} <- {event.donor} (fitness {num(event.fitness)} vs "
                f"{num(event.donor_fitness)}; {event.reason})")
    if kind == "adopt":
        return (f"{member} <- {event.donor}'s genes, its own weights (fitness {num(event.fitness)} vs "
                f"{num(event.donor_fitness)}; {event.reason})")
    if kind == "explore":
        return f"{member} explores: {change_text(event.changes) or 'no change'}"
    return f"{member} {kind}: {event.reason}"


def generation_line(summary: GenerationSummary, target: int) -> str:
    fitness = " ".join(f"{m}={num(v.fitness)}" for m, v in summary.members.items())
    head = (f"generation {summary.generation}/{target}: {summary.agent_steps:,} agent-steps, "
            f"fitness {fitness}, best {summary.best}")
    events = [event_line(e) for e in summary.events]
    return "\n".join([head] + [f"  {line}" for line in events])


def lineage_lines(log: LineageLog, member: str) -> Iterable[str]:
    """A member's history, generation by generation (exploits, explores; keeps compressed)."""
    for event in log.of(member):
        if event.kind == "init":
            values = ", ".join(f"{k}={num(v)}" for k, v in event.values.items())
            yield f"gen {event.generation}: init {values}"
        elif event.kind == "keep":
            yield f"gen {event.generation}: kept (fitness {num(event.fitness)}; {event.reason})"
        else:
            yield f"gen {event.generation}: " + event_line(event)
