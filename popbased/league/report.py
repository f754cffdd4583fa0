"""What the league prints: the payoff table, a block per generation, the status of a run."""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

from rich.table import Table

from popbased.population.report import event_line
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


def best_per_population(members: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[str, float]]:
    best: dict[str, tuple[str, float]] = {}
    for m, record in members.items():
        pop, fitness = record.get("population") or record.get("variant"), record.get("fitness")
        if fitness is None:
            continue
        if pop not in best or fitness > best[pop][1]:
            best[pop] = (m, fitness)
    return best


def generation_lines(summary: Mapping[str, Any], target: int) -> list[str]:
    scores = ", ".join(f"{p} {num(s, '.2f')}" for p, s in summary["scores"].items())
    best = ", ".join(f"{m} ({num(f)})" for m, f in best_per_population(summary["members"]).values())
    lines = [f"generation {summary['generation']}/{target}: {summary['agent_steps']:,} agent-steps, "
             f"{sum(r['episodes'] for r in summary['rows'])} match episodes; league score {scores}; "
             f"best {best or '-'}"]
    if summary.get("snapshots"):
        lines.append(f"  background pool: {', '.join(summary['snapshots'])}")
    lines += [f"  {event_line(e)}" for e in summary["events"]]
    return lines
