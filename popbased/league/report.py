"""What the league prints: the payoff table, a block per generation, the status of a run."""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

from rich.table import Table

from popbased.population.report import event_line
from popbased.population.reports import GenerationSummary
from popbased.textio import num


def payoff_table(rows: Iterable[Mapping[str, Any]], scores: Mapping[str, float], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for name in ("focal", "background", "mode", "n", "return (95% CI)", "bg return", "Gini",
                 "depleted"):
        table.add_column(name, justify="right" if name not in ("focal", "background", "mode") else "left")
    for r in rows:
        ci = (f" [{num(r['ci_low'], '.1f')}, {num(r['ci_high'], '.1f')}]"
              if r["ci_low"] is not None and not math.isnan(r["ci_low"]) else "")
        table.add_row(r["focal"], r["background"], r["mode"], str(r["episodes"]),
                      f"{num(r['return'], '.1f')}{ci}", num(r["background_return"], ".1f"),
                      num(r["gini"], ".2f"), num(r["depleted"], ".0%"))
    table.caption = "league score (0 = worst, 1 = best population per scenario): " + ", ".join(
        f"{p} {num(s, '.2f')}" for p, s in scores.items())
    return table


def _best(members: Iterable[tuple[str, str, float | None]]) -> dict[str, tuple[str, float]]:
    """population -> (member, fitness) of its fittest, from (member, population, fitness)."""
    best: dict[str, tuple[str, float]] = {}
    for m, pop, fitness in members:
        if fitness is None:
            continue
        if pop not in best or fitness > best[pop][1]:
            best[pop] = (m, fitness)
    return best


def best_per_population(members: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[str, float]]:
    """The same from member records (a run's final report)."""
    return _best((m, r.get("population") or r.get("variant"), r.get("fitness"))
                 for m, r in members.items())


def generation_lines(summary: GenerationSummary, target: int) -> list[str]:
    scores = ", ".join(f"{p} {num(s, '.2f')}" for p, s in (summary.scores or {}).items())
    best = ", ".join(f"{m} ({num(f)})" for m, f in _best(
        (m, s.population, s.fitness) for m, s in summary.members.items()).values())
    lines = [f"generation {summary.generation}/{target}: {summary.agent_steps:,} agent-steps, "
             f"{sum(r['episodes'] for r in summary.rows or ())} match episodes; league score "
             f"{scores}; best {best or '-'}"]
    if summary.snapshots:
        lines.append(f"  background pool: {', '.join(summary.snapshots)}")
    lines += [f"  {event_line(e)}" for e in summary.events]
    return lines
