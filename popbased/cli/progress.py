"""Rich progress display for training: steps, speed, and the population's headline metrics."""

from __future__ import annotations

import time
from typing import Mapping

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

from popbased.population.reports import RoundReport
from popbased.textio import num


def shaping_line(weights: Mapping[str, float], given: Mapping[str, float] | None = None) -> str:
    """The reward weights a run trains with, and which of them were given and which are the
    defaults: `reward weights: reward=1 last_apples=-3 (given: last_apples=-3; defaults:
    reward=1)`."""
    def pairs(items: Mapping[str, float]) -> str:
        return " ".join(f"{k}={float(v):g}" for k, v in items.items())

    given = dict(given or {})
    defaults = {k: v for k, v in weights.items() if k not in given}
    source = "; ".join(f"{what}: {pairs(items)}" for what, items in
                       (("given", given), ("defaults", defaults)) if items)
    return f"reward weights: {pairs(weights)} ({source})"


def round_line(report: RoundReport) -> str:
    m = report.metrics
    flags = sum(len(f) for f in report.flags.values())
    parts = [f"generation {report.generation + 1}"] if report.generation is not None else []
    if report.phase == "eval":
        parts[-1:] = [f"{parts[-1]} (evaluation)"] if parts else ["evaluation"]
    parts += [f"{report.agent_steps_per_s:,.0f} agent-steps/s",
             f"return/capita {num(m.get('per_capita_return'))}",
             f"Gini {num(m.get('gini'), '.2f')}",
             f"depleted {num(m.get('depleted_fraction'), '.0%')}",
             f"episodes {report.episodes}"]
    if report.worker_restarts:
        parts.append(f"[yellow]worker restarts {report.worker_restarts}[/]")
    if flags:
        parts.append(f"[red]skipped updates {flags}[/]")
    return " | ".join(parts)


class TrainDisplay:
    """Context manager; `update(report)` after every round (see popbased.run.loop)."""

    def __init__(self, total_steps: int, title: str, console: Console | None = None,
                 log_every_s: float = 30.0):
        self.console = console or Console(stderr=True)
        self.log_every_s = log_every_s
        self._last_log = 0.0
        self._flags_seen: dict[str, int] = {}
        self.progress = Progress(TextColumn(f"[bold]{title}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TimeRemainingColumn(),
                                 TextColumn("{task.fields[line]}"), console=self.console)
        self.task = self.progress.add_task("train", total=total_steps, line="starting Ray and envs")

    def __enter__(self) -> "TrainDisplay":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def update(self, report: RoundReport) -> None:
        self.progress.update(self.task, completed=min(report.agent_steps, report.total_steps),
                             line=round_line(report))
        now = time.monotonic()
        if not self.console.is_terminal and now - self._last_log >= self.log_every_s:
            self._last_log = now  # logs and CI: a plain line now and then instead of a bar
            self.console.print(f"{report.agent_steps:,}/{report.total_steps:,} agent-steps | "
                               + round_line(report), markup=True, highlight=False)
        for member, flags in report.flags.items():
            for flag in flags[self._flags_seen.get(member, 0):]:
                self.console.print(f"[red]member {member}: {flag}[/]")
            self._flags_seen[member] = len(flags)
