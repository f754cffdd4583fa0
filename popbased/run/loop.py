"""The one training loop that `train`, `pbt` and `league` all run, top to bottom:

    start the collector (Ray workers, or the fast env in this process)
    members: fresh from the selection, or loaded from the run folder's last commit
    per generation:
        rounds: collect -> update -> account -> report       until the selection says the
                                                             generation's training is done
        evaluation rounds (leagues: nobody learns)
        select: payoff -> PBT step per population -> snapshots (the selection's lineage events)
        commit: checkpoints, the generation's records, state.json last
    the final report (also after Ctrl-C / SIGTERM, which stop between any two steps)

What varies comes in as two strategy objects:

    selection   who the members are and how they are chosen: SelfPlay (`train`: one
                population, no selection, one generation of `config.steps`), PBT
                (population/run.py) or League (league/run.py). Protocol: `Selection`.
    records     what the run writes: TrainRecords (metrics.jsonl and m0.pt ...) or
                FolderRecords (a run folder with generations and resume, popbased.runs.state).

`on_round(report)` sees every round (returning True stops the run there: what was committed
stays); `on_generation(summary)` every committed generation.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any, Callable, Protocol

from popbased.population.member import Member, credit
from popbased.population.member_stats import MemberStats
from popbased.population.reports import GenerationSummary, RoundReport
from popbased.rollout.fragment import Fragment
from popbased.run.records import FolderRecords
from popbased.run.session import EpisodeWindow, Session
from popbased.runs import state as files
from popbased.selfplay import TrainConfig, learner_threads, start_collector


class StopRun(Exception):
    """`on_round` asked the run to stop."""


class Selection(Protocol):
    """Who a run's members are and how they are selected (see the module docstring)."""

    name: str
    """Names the run in messages ('train', 'PBT', 'league')."""

    def arena(self, config: TrainConfig) -> tuple: ...
    """(substrate spec, apples_in_view[, bots]) for the collector; checks what it can first."""

    def new_members(self, loop: "Loop", collector) -> dict[str, Member]: ...

    def load_options(self, collector) -> dict[str, Any]: ...
    """What a resumed member's checkpoint must match (checkpoint.load_learner's expect_*)."""

    def seats(self): ...
    """The training session's seating (run.session.SelfPlaySeats or MatchSeats)."""

    def begin(self, loop: "Loop", state: dict | None) -> None: ...
    """Once the training session exists: a fresh run (state None) or a resumed one."""

    def tracker(self, members: dict[str, Member], components): ...
    """The fitness tracker fed with every training fragment (None: no fitness)."""

    def begin_generation(self, loop: "Loop") -> None: ...

    def trained(self, loop: "Loop") -> bool: ...
    """Whether the generation's training rounds are done."""

    def more(self, loop: "Loop") -> bool: ...
    """Whether another training round follows the one about to be played."""

    def after_round(self, loop: "Loop", fragment: Fragment) -> None: ...

    def evaluate(self, loop: "Loop") -> None: ...

    def select(self, loop: "Loop") -> list: ...
    """The generation's selection (its lineage events, already appended to loop.lineage)."""


class Loop:
    """A run: see the module docstring."""

    def __init__(self, config: TrainConfig, selection: Selection, records, generations: int = 1,
                 on_round: Callable[[RoundReport], Any] | None = None,
                 on_generation: Callable[[GenerationSummary], Any] | None = None):
        self.config, self.selection, self.records = config, selection, records
        self.target = generations
        self.on_round, self.on_generation = on_round, on_generation
        self.lineage = records.lineage
        self.window = EpisodeWindow()
        self.stats = MemberStats()
        self.arena_episodes: Counter = Counter()  # training episodes ended in each arena this generation
        self.members: dict[str, Member] = {}
        self.session: Session | None = None
        self.tracker = None
        self.rng = None  # the selection's random stream (PBT's draws), kept in state.json
        self.generation = 0  # completed generations
        self.agent_steps = 0  # the whole run's, across resumes
        self.start_steps = 0  # agent_steps when this process started (speeds count from it)
        self.rounds = 0
        self.trained = 0  # agent-steps learned from in the last round
        self.inner_s = 0.0  # time inside the PPO inner loops (collect + update)
        self.eval_s = 0.0  # time playing evaluation rounds (no learning)
        self.started = self.loop_started = time.perf_counter()
        self.last_report: RoundReport | None = None

    # ------------------------------------------------------------------ run
    def run(self) -> dict[str, Any]:
        collector, ray_info = start_collector(self.config, *self.selection.arena(self.config))
        try:
            self.setup(collector)
            interrupted = False
            try:
                self.loop_started = time.perf_counter()
                while self.generation < self.target:
                    self.play_generation()
                self.session.finish()
            except KeyboardInterrupt:  # keep what was learned: the records' final report says how
                interrupted = True
            except StopRun:
                pass
            report = self.records.final(self, interrupted)
        finally:
            self.selection.close()
            self.records.close()
            collector.close()
        report["ray"] = ray_info
        return report

    def setup(self, collector) -> None:
        """The members (fresh, or the run folder's), the training session, the tracker."""
        learner_threads(self.config, collector)
        state = self.records.state
        if state is None:
            self.members = self.selection.new_members(self, collector)
            self.records.begin(self)
        else:
            self.records.load(self, collector, self.selection.load_options(collector))
        self.session = Session(self.config, collector,
                               {m: x.learner for m, x in self.members.items()},
                               seats=self.selection.seats())
        if state is not None:
            self.session.rng.bit_generator.state = state["seating_rng"]
        self.selection.begin(self, state)
        if state is None:
            self.records.commit(self)
        self.tracker = self.selection.tracker(self.members, collector.components)
        self.start_steps = self.agent_steps
        self.started = time.perf_counter()

    def play_generation(self) -> None:
        """Training rounds, evaluation rounds, selection, commit."""
        t0 = time.perf_counter()
        self.stats.reset()
        self.arena_episodes.clear()
        self.selection.begin_generation(self)
        while not self.selection.trained(self):
            fragment = self.round(more=self.selection.more(self))
            self.selection.after_round(self, fragment)
        self.selection.evaluate(self)
        t1 = time.perf_counter()
        self.generation += 1
        values = {m: dict(x.values) for m, x in self.members.items()}
        events = self.selection.select(self)
        files.crash_point("pbt", self.generation)
        summary = self.records.end_generation(self, events, t0, t1, values)
        files.crash_point("committed", self.generation)
        if summary is not None and self.on_generation:
            self.on_generation(summary)

    def round(self, learn: bool = True, session: Session | None = None,
              more: bool = True) -> Fragment:
        """One round on `session` (default: the training one): a fragment gathered, every
        learner seated in it updated (unless not `learn`), accounted and reported; `more`:
        another round follows (start collecting it now)."""
        session = session or self.session
        t0 = time.perf_counter()
        fragment, stats = session.round(more=more, learn=learn)
        seconds = time.perf_counter() - t0
        if learn:
            self.inner_s += seconds
        else:
            self.eval_s += seconds
        self.trained, collected = credit(self.members, fragment)
        if learn:
            if self.tracker is not None:
                self.tracker.add(fragment)
            self.stats.add_learners(stats)
        self.stats.add_episodes(fragment.episodes)
        self.selection.on_fragment(fragment)
        self.rounds += 1
        self.agent_steps += collected
        self.window.add(fragment.episodes)
        elapsed = time.perf_counter() - self.started
        report = RoundReport(
            agent_steps=self.agent_steps, total_steps=self.config.steps, elapsed_s=elapsed,
            agent_steps_per_s=(self.agent_steps - self.start_steps) / elapsed,
            episodes=self.window.count, metrics=self.window.summary(), learners=stats,
            worker_restarts=self.session.collector.restarts,
            flags={m: tuple(l.flags) for m, l in self.session.learners.items() if l.flags},
            arenas=dict(Counter(e["arena"] for e in fragment.episodes if "arena" in e)) or None,
            **self.records.round_fields(self, session, fragment))
        self.last_report = report
        if learn:  # the draws trained on (a league's evaluation rounds play their own split)
            self.arena_episodes.update(report.arenas or {})
        self.records.round(self, report, fragment)
        if self.on_round and self.on_round(report):
            raise StopRun
        files.crash_point("train", self.generation + 1)
        return fragment

    def best(self, members: dict[str, Member] | None = None) -> str | None:
        """The member with the highest fitness (None before any has one)."""
        members = self.members if members is None else members
        known = [m for m in members.values() if m.fitness is not None]
        return max(known, key=lambda m: m.fitness).id if known else None


def folder_loop(config: TrainConfig, selection: Selection, generations: int,
                state: dict | None = None,
                on_round: Callable[[RoundReport], Any] | None = None,
                on_generation: Callable[[GenerationSummary], Any] | None = None,
                prepare: Callable[[dict[str, Member]], Any] | None = None) -> Loop:
    """The loop of a run that keeps a run folder (PBT, leagues), not yet started (`state`: the
    folder's last commit, to resume; `prepare(members)`: called once on a new run's members)."""
    return Loop(config, selection, FolderRecords(config, selection, state, prepare), generations,
                on_round, on_generation)
