"""The generation engine that PBT runs and leagues share.

    engine.run()  ->  collector + members (fresh, or loaded from the run folder's last
                      committed generation) + session, then per generation:
                      play_rounds()      rounds of collect + update until the generation's
                                         training is done (the kind of run decides when)
                      end_generation()   its PBT step(s): lineage events
                      checkpoints, the generation's records, state.json last (the commit)

A kind of run (population.run.Driver for PBT, league.run.Driver for leagues) says who its
members are, how seats are planned (its Session), when a generation's rounds are done, what
its end does, and what it adds to state.json and the records. Everything else is here:
fresh or resume, checkpoints with hashes, the commit order that makes a SIGKILL at any
moment lose only the generation in progress (see popbased.runs.state), and the final report;
the collector, round accounting and reports (rounds.jsonl, `on_round`) and interrupts are
the run of rounds that self-play training shares (population/rounds.py).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from popbased.population.fitness import FitnessTracker
from popbased.population.lineage import LineageEvent, LineageLog
from popbased.population.member import Member, credit
from popbased.population.explore import load_evotorch
from popbased.population.member_stats import MemberStats
from popbased.population.reports import GenerationSummary, MemberSummary, RoundReport
from popbased.population.rounds import Rounds
from popbased.ppo import checkpoint
from popbased.rollout.fragment import Fragment
from popbased.runs import state as files
from popbased.selfplay import Session, TrainConfig, learner_threads


def begin_lineage(lineage: LineageLog, members: dict[str, Member],
                  prepare: Callable[[dict[str, Member]], Any] | None) -> None:
    """A new run: `prepare` the members (if given), then one `init` event each (a start that
    never reached its first state.json leaves events behind: they are dropped)."""
    lineage.truncate(0)
    reason = "sampled from the initial ranges"
    if prepare:
        prepare(members)
        reason += ", then prepared"
    for member in members.values():
        lineage.append(LineageEvent(member.id, 0, 0, "init", dict(member.values), reason=reason))


class Engine(Rounds):
    """See the module docstring. Subclasses implement the hooks below the constructor."""

    kind = "run"
    """Names the run in messages ('PBT', 'league')."""

    def __init__(self, config: TrainConfig, generations: int, state: dict | None,
                 on_round: Callable[[RoundReport], Any] | None = None,
                 on_generation: Callable[[GenerationSummary], Any] | None = None,
                 prepare: Callable[[dict[str, Member]], Any] | None = None):
        super().__init__(config, on_round)
        self.target, self.state = generations, state
        self.on_generation, self.prepare = on_generation, prepare
        self.out = Path(config.out)
        self.lineage = LineageLog(self.out / "lineage.jsonl")
        self.stats = MemberStats()
        self.inner_s = 0.0  # time inside the PPO inner loops (collect + update)
        self.eval_s = 0.0  # time playing evaluation rounds (no learning)

    # ------------------------------------------------------------------ hooks
    def new_members(self, collector) -> dict[str, Member]:
        raise NotImplementedError

    def make_session(self, collector, learners) -> Session:
        raise NotImplementedError

    def fitness_tracker(self, components) -> FitnessTracker:
        return FitnessTracker(self.members, components)

    def begin(self) -> None:
        """A fresh run, before generation 0 is committed."""

    def restore(self) -> None:
        """A resumed run: what the kind keeps in state.json beyond members and RNGs."""

    def play_rounds(self) -> None:
        """Rounds (self.round()) until this generation's training is done."""
        raise NotImplementedError

    def end_generation(self) -> list[LineageEvent]:
        """The generation's PBT step(s), after its rounds (self.generation is already the
        generation that completes); returns its lineage events, already appended."""
        raise NotImplementedError

    def state_fields(self, ckpts: dict[str, dict[str, str]]) -> dict[str, Any]:
        """What the kind adds to state.json (its identity, its members' records, ...)."""
        raise NotImplementedError

    def summary_fields(self) -> dict[str, Any]:
        """The kind's own GenerationSummary fields (a league's scores, rows, snapshots)."""
        return {}

    def write_records(self, summary: GenerationSummary) -> None:
        """The kind's own per-generation records, before generations.jsonl."""

    def on_fragment(self, fragment) -> None:
        """Every gathered fragment (training and evaluation)."""

    def report_fields(self) -> dict[str, Any]:
        return {}

    # ------------------------------------------------------------------ members
    def load_members(self, collector, **expect) -> dict[str, Member]:
        """The members of the committed state, from their checkpoints."""
        records = self.state["members"]
        if isinstance(records, dict):  # a league's: by population
            records = [r for rs in records.values() for r in rs]
        members = {}
        for record in records:
            path = self.out / files.checkpoint_entry(self.state, record["id"])["file"]
            learner, _ = checkpoint.load_learner(path, device=self.config.device,
                                                 expect_obs_size=self.config.obs_size,
                                                 restore_rng=False, **expect)
            members[record["id"]] = Member.from_record(record, learner)
        return members

    # ------------------------------------------------------------------ run
    def setup(self, collector) -> None:
        config = self.config
        learner_threads(config, collector)
        load_evotorch()  # now, not at the first PBT step (seconds, once)
        self.out.mkdir(parents=True, exist_ok=True)
        fresh = self.state is None
        if fresh:
            self.members = self.new_members(collector)
            begin_lineage(self.lineage, self.members, self.prepare)
            self.generation, self.agent_steps = 0, 0
            self.rng = np.random.default_rng([config.seed, 3])
        else:
            self.members = self.load_members(collector)
            self.generation, self.agent_steps = self.state["generation"], self.state["agent_steps"]
            self.lineage.truncate(self.state["lineage_events"])
            files.drop_unfinished(self.out, self.generation)
            self.rng = np.random.default_rng()
            self.rng.bit_generator.state = self.state["rng"]
        self.session = self.make_session(collector, {m: x.learner for m, x in self.members.items()})
        if fresh:
            self.begin()
            self._commit(self._checkpoints())
        else:
            self.session.rng.bit_generator.state = self.state["seating_rng"]
            self.restore()
        self.tracker = self.fitness_tracker(collector.components)
        self.start_steps = self.agent_steps

    def loop(self) -> None:
        self.loop_started = time.perf_counter()
        while self.generation < self.target:
            t0 = time.perf_counter()
            self.stats.reset()
            self.play_rounds()
            t1 = time.perf_counter()
            self.generation += 1
            summary = self._end_generation(t0, t1)
            files.crash_point("committed", self.generation)
            if self.on_generation:
                self.on_generation(summary)
        self.session.finish()

    def final_report(self, interrupted: bool) -> dict[str, Any]:
        report: dict[str, Any] = {"generation": self.generation, "generations": self.target,
                                  **({"interrupted": True} if interrupted else {})}
        report.update(generation=self.generation, agent_steps=self.agent_steps,
                      elapsed_s=time.perf_counter() - self.started,
                      inner_loop_s=self.inner_s - getattr(self.session, "plan_s", 0.0),
                      evaluation_s=self.eval_s, loop_s=time.perf_counter() - self.loop_started,
                      out=str(self.out), members={m: x.record() for m, x in self.members.items()},
                      best=self.best(), worker_restarts=self.session.collector.restarts,
                      dropped_batches=self.session.dropped_batches, **self.report_fields())
        return report

    def round(self, learn: bool = True, session: Session | None = None) -> dict[str, Any]:
        """One round (a fragment gathered, every learner seated in it updated unless not
        `learn`), accounted and reported; {'trained': agent-steps, 'episodes': [...]}.
        `session`: another session than the training one (evaluation on another env)."""
        fragment, _, _ = self.play(session, learn=learn)
        files.crash_point("train", self.generation + 1)
        return {"trained": self.trained, "episodes": fragment.episodes}

    def account(self, fragment: Fragment, stats: dict, learn: bool, seconds: float) -> int:
        if learn:
            self.inner_s += seconds
        else:
            self.eval_s += seconds
        self.trained, collected = credit(self.members, fragment)
        if learn:
            self.tracker.add(fragment)
            self.stats.add_learners(stats)
        self.stats.add_episodes(fragment.episodes)
        self.on_fragment(fragment)
        return collected

    def round_fields(self, session: Session, fragment: Fragment) -> dict[str, Any]:
        return {"generation": self.generation, "phase": getattr(session, "phase", "train"),
                "dropped": tuple(fragment.dropped)}

    def record(self, report: RoundReport, fragment: Fragment) -> None:
        files.append(self.out, "rounds.jsonl", report.to_json())

    # ------------------------------------------------------------------ end of generation
    def _end_generation(self, started: float, rounds_done: float) -> GenerationSummary:
        """PBT, checkpoints, the generation's records; state.json last, so that a kill
        anywhere before it leaves the previous generation as the one to resume from (resume
        drops the records of a generation that did not complete)."""
        trained = {m: dict(x.values) for m, x in self.members.items()}
        events = self.end_generation()
        files.crash_point("pbt", self.generation)
        ckpts = self._checkpoints()
        now = time.perf_counter()
        summary = self._summary(events, {"generation_s": now - started,
                                         "end_of_generation_s": now - rounds_done}, trained)
        self.write_records(summary)
        files.append(self.out, "generations.jsonl", summary.to_json())
        self._commit(ckpts)
        return summary

    def _summary(self, events: list[LineageEvent], timing: dict[str, float],
                 trained: dict[str, dict[str, float]] | None = None) -> GenerationSummary:
        members = {m: MemberSummary(
            population=x.variant, fitness=x.fitness,
            objectives=None if x.objectives is None else dict(x.objectives), values=dict(x.values),
            parent=x.parent, birth_generation=x.birth_generation,
            agent_steps=x.learner.agent_steps, stats=self.stats.of(m),
            trained_values=(trained or {}).get(m))
            for m, x in self.members.items()}
        return GenerationSummary(
            generation=self.generation, agent_steps=self.agent_steps,
            time_ms=int(time.time() * 1000), elapsed_s=time.perf_counter() - self.started,
            best=self.best(), **self.summary_fields(), members=members,
            events=tuple(e for e in events if e.kind != "keep"), inner_loop_s=self.inner_s,
            worker_restarts=self.session.collector.restarts, timing=timing)

    def _checkpoints(self) -> dict[str, dict[str, str]]:
        """Every member's checkpoint of this generation (not yet named by any state)."""
        g = self.generation
        ckpts = {}
        for m, member in self.members.items():
            rel = files.checkpoint_file(g, m)
            digest = checkpoint.save(member.learner, self.out / rel,
                                     {**self.checkpoint_extra(member), "generation": g,
                                      "member": member.record()})
            ckpts[m] = {"file": rel, "sha256": digest}
        files.crash_point("checkpoints", g)
        return ckpts

    def checkpoint_extra(self, member: Member) -> dict[str, Any]:
        return {}

    def _commit(self, ckpts: dict[str, dict[str, str]]) -> None:
        files.write(self.out, {
            "format": files.FORMAT, **self.state_fields(ckpts), "generation": self.generation,
            "seed": self.config.seed, "agent_steps": self.agent_steps, "checkpoints": ckpts,
            "lineage_events": len(self.lineage.events), "rng": self.rng.bit_generator.state,
            "seating_rng": self.session.rng.bit_generator.state})

    def best(self, members: dict[str, Member] | None = None) -> str | None:
        members = self.members if members is None else members
        known = [m for m in members.values() if m.fitness is not None]
        return max(known, key=lambda m: m.fitness).id if known else None
