"""What the commands print while they work: training progress (steps, speed, the
population's headline metrics) and an evaluation's tasks.

Results go to stdout, progress and diagnostics to stderr (`console`). On a terminal the
progress is a live bar; when the output is not a terminal (a log file, `| tee`, nohup, a
batch job) it is whole lines, never wrapped or cut whatever their length: one when the work
starts, then a progress line after a round (or finished task) whenever `LOG_EVERY_S` (30 s)
have passed since the last one, and the last one at the end.
"""

from __future__ import annotations

import math
import time
from typing import Mapping

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

from popbased.population.reports import RoundReport
from popbased.substrates import resolve
from popbased.textio import num

LOG_EVERY_S = 30.0
"""Off a terminal: at most one progress line per this many seconds (besides the first and
the last)."""


def console(stderr: bool = False, file=None) -> Console:
    """A console on stdout (results) or stderr (`stderr`: progress and diagnostics), or on
    `file`. Off a terminal its lines are never wrapped or cut (rich would wrap them at 80
    columns)."""
    out = Console(stderr=stderr, file=file)
    if not out.is_terminal:
        out.soft_wrap = True
    return out


def first_episode(config, spec=None) -> tuple[int, int] | None:
    """(steps per world, agent-steps in all) before the first episode of a run (a
    TrainConfig) can end, in its workers x envs_per_worker worlds (`Lab2dSpec.first_episode`;
    `spec`: the substrate's, default: resolved from the config). None when it does not say."""
    spec = spec or resolve(config.substrate, dict(config.params))
    return spec.first_episode(config.workers * config.envs_per_worker,
                              getattr(config, "max_episode_steps", None))


def reward_per_step(report: RoundReport) -> float | None:
    """The round's harvest per agent-step (apples, unshaped), the mean over its learners
    (their `harvest_per_step`); None in rounds where nobody learned."""
    values = [s["harvest_per_step"] for s in report.learners.values()
              if s.get("harvest_per_step") is not None and math.isfinite(s["harvest_per_step"])]
    return sum(values) / len(values) if values else None


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


def round_line(report: RoundReport, first: tuple[int, int] | None = None,
               reward: float | None = None) -> str:
    """A round as one line. Before any episode has ended it says when the first will
    (`first`: see `first_episode`) and gives `reward`, the running harvest per agent-step
    (see `reward_per_step`), meanwhile."""
    m = report.metrics
    flags = sum(len(f) for f in report.flags.values())
    parts = [f"generation {report.generation + 1}"] if report.generation is not None else []
    if report.phase == "eval":
        parts[-1:] = [f"{parts[-1]} (evaluation)"] if parts else ["evaluation"]
    episodes = f"episodes {report.episodes}"
    if not report.episodes and first:
        episodes += (f" (the first ends after ~{first[0]:,} steps per world, ~{first[1]:,} "
                     f"agent-steps)")
    parts += [f"{report.agent_steps_per_s:,.0f} agent-steps/s",
             f"return/capita {num(m.get('per_capita_return'))}",
             f"Gini {num(m.get('gini'), '.2f')}",
             f"depleted {num(m.get('depleted_fraction'), '.0%')}",
             episodes]
    if not report.episodes and reward is not None:
        parts.append(f"harvest/agent-step {num(reward)}")
    if report.worker_restarts:
        parts.append(f"[yellow]worker restarts {report.worker_restarts}[/]")
    if flags:
        parts.append(f"[red]skipped updates {flags}[/]")
    return " | ".join(parts)


class TrainDisplay:
    """Context manager; `update(report)` after every round (see popbased.run.loop). On a
    terminal a live bar with the round's line; elsewhere whole lines (see the module's
    docstring): the round's line whenever `log_every_s` have passed since the last one, and
    the last round's at the end. `first`: when the first episode can end (`first_episode`)."""

    def __init__(self, total_steps: int, title: str, console: Console | None = None,
                 log_every_s: float = LOG_EVERY_S, first: tuple[int, int] | None = None):
        self.console = console or Console(stderr=True)
        self.title = title
        self.total_steps = total_steps
        self.log_every_s = log_every_s
        self.first = first
        self.live = self.console.is_terminal
        self._last_log: float | None = None
        self._pending: str | None = None
        self._rewards: list[float] = []
        self._flags_seen: dict[str, int] = {}
        self.progress = Progress(TextColumn(f"[bold]{title}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TimeRemainingColumn(),
                                 TextColumn("{task.fields[line]}"), console=self.console)
        self.task = self.progress.add_task("train", total=total_steps, line="starting Ray and envs")

    def __enter__(self) -> "TrainDisplay":
        if self.live:
            self.progress.__enter__()
        else:
            self._print(f"{self.title}: {self.total_steps:,} agent-steps to train; a progress line "
                        f"every round, at most one per {self.log_every_s:g} s")
        return self

    def __exit__(self, *exc) -> None:
        if self.live:
            self.progress.__exit__(*exc)
        elif self._pending is not None:  # the last round's line, whole
            self._print(self._pending)

    def _print(self, line: str) -> None:
        self.console.print(line, markup=True, highlight=False)

    def line(self, report: RoundReport) -> str:
        """The round's line, with the running training reward per agent-step."""
        reward = reward_per_step(report)
        if reward is not None:
            self._rewards.append(reward)
        running = sum(self._rewards) / len(self._rewards) if self._rewards else None
        return round_line(report, self.first, running)

    def update(self, report: RoundReport) -> None:
        line = self.line(report)
        if self.live:
            self.progress.update(self.task, completed=min(report.agent_steps, report.total_steps),
                                 line=line)
        else:
            now = time.monotonic()
            self._pending = (f"{self.title} {report.agent_steps:,}/{report.total_steps:,} "
                             f"agent-steps | {line}")
            if self._last_log is None or now - self._last_log >= self.log_every_s:
                self._last_log = now
                self._print(self._pending)
                self._pending = None
        for member, flags in report.flags.items():
            for flag in flags[self._flags_seen.get(member, 0):]:
                self.console.print(f"[red]member {member}: {flag}[/]", highlight=False)
            self._flags_seen[member] = len(flags)


class TaskProgress:
    """Context manager for work done in `total` tasks (an evaluation's policies x points);
    `update(done, total)` when a task finishes. On a terminal a transient bar; elsewhere whole
    lines: one at the start, then `title: done/total tasks` when a task finishes and
    `log_every_s` have passed since the last line, and the last one."""

    def __init__(self, console: Console, title: str, log_every_s: float = LOG_EVERY_S):
        self.console, self.title, self.log_every_s = console, title, log_every_s
        self.live = console.is_terminal
        self.started = time.monotonic()
        self._last_log: float | None = None
        self._pending: str | None = None
        self.bar = Progress(TextColumn(title), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=console, transient=True)
        self.task = self.bar.add_task("", total=None)

    def __enter__(self) -> "TaskProgress":
        if self.live:
            self.bar.__enter__()
        else:
            self._print(f"{self.title}: started; a line as tasks finish, at most one per "
                        f"{self.log_every_s:g} s")
        return self

    def __exit__(self, *exc) -> None:
        if self.live:
            self.bar.__exit__(*exc)
        elif self._pending is not None:
            self._print(self._pending)

    def _print(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False)

    def update(self, done: int, total: int) -> None:
        if self.live:
            self.bar.update(self.task, completed=done, total=total)
            return
        now = time.monotonic()
        self._pending = (f"{self.title}: {done}/{total} tasks done, "
                         f"{now - self.started:.0f} s")
        if self._last_log is None or now - self._last_log >= self.log_every_s or done == total:
            self._last_log = now
            self._print(self._pending)
            self._pending = None
