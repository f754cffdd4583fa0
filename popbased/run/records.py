"""What a run writes, as the loop's `records` strategy (popbased.run.loop):

    TrainRecords    `popbased train`: metrics.jsonl (one line per round, with its episodes)
                    and every member's checkpoint (m0.pt, ...) every `checkpoint_every_s` and
                    at the end (also after an interrupt); nothing without an output folder.
    FolderRecords   PBT runs and leagues: a run folder (popbased.runs.state) with rounds.jsonl,
                    lineage.jsonl, generations.jsonl, the selection's own records, every
                    member's checkpoint per generation and state.json last (the commit), so a
                    SIGKILL at any moment loses only the generation in progress; `state` (the
                    folder's last commit) resumes it.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from popbased.population.lineage import LineageEvent, LineageLog
from popbased.population.member import Member
from popbased.population.reports import GenerationSummary, MemberSummary, RoundReport
from popbased.ppo import checkpoint
from popbased.rollout.fragment import Fragment
from popbased.runs import state as files
from popbased.textio import json_safe

EPISODE_FIELDS = ("per_capita_return", "gini", "steps", "depleted", "members")
"""The episode fields a metrics.jsonl line keeps."""


class TrainRecords:
    """See the module docstring; `out` None writes nothing."""

    lineage = None
    state = None

    def __init__(self, config, spec):
        self.config, self.spec = config, spec
        self.out = Path(config.out) if config.out else None
        self.metrics_file = None
        self.last_save = time.perf_counter()

    def begin(self, loop) -> None:
        if self.out is not None:
            self.out.mkdir(parents=True, exist_ok=True)
            self.metrics_file = (self.out / "metrics.jsonl").open("a")
        self.last_save = time.perf_counter()

    def commit(self, loop) -> None:
        """Nothing to commit before the first round."""

    def round_fields(self, loop, session, fragment: Fragment) -> dict[str, Any]:
        return {"round": loop.rounds, "round_agent_steps": session.round_steps,
                "timing": dict(session.totals)}

    def round(self, loop, report: RoundReport, fragment: Fragment) -> None:
        if self.metrics_file is None:
            return
        self.metrics_file.write(json.dumps(json_safe({**report.to_json(), "episode_summaries": [
            {k: e[k] for k in EPISODE_FIELDS} for e in fragment.episodes]})) + "\n")
        self.metrics_file.flush()
        if time.perf_counter() - self.last_save >= self.config.checkpoint_every_s:
            self.save(loop)
            self.last_save = time.perf_counter()

    def end_generation(self, loop, events, started, rounds_done, values) -> None:
        """The one generation of a train run is its end: the final report saves."""

    def final(self, loop, interrupted: bool) -> dict[str, Any]:
        """The last round's report (RoundReport.to_json()) with `interrupted` and `checkpoints`
        (with an output folder; written now)."""
        checkpoints = None
        if self.metrics_file is not None:
            self.metrics_file.close()
            self.metrics_file = None
            checkpoints = self.save(loop)
        last = loop.last_report.to_json() if loop.last_report is not None else {
            "agent_steps": 0, "total_steps": self.config.steps}
        return {**last, **({"interrupted": True} if interrupted else {}),
                **({} if checkpoints is None else {"checkpoints": checkpoints})}

    def close(self) -> None:
        if self.metrics_file is not None:
            self.metrics_file.close()
            self.metrics_file = None

    def save(self, loop) -> dict[str, str]:
        """Every member's checkpoint (out/m0.pt, ...); member -> path."""
        config, spec = self.config, self.spec
        extra = {"substrate": config.substrate, "params": {k: str(v) for k, v in config.params.items()},
                 "spec_params": {k: (v if isinstance(v, (int, float, str, bool)) else str(v))
                                 for k, v in dataclasses.asdict(spec.params).items()} if spec.params else {},
                 "seed": config.seed}
        paths = {}
        for m, member in loop.members.items():
            path = self.out / f"{m}.pt"
            checkpoint.save(member.learner, path, extra)
            paths[m] = str(path)
        return paths


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


class FolderRecords:
    """See the module docstring. `selection` gives what its kind adds: state_fields,
    checkpoint_extra, summary_fields, write_records, report_fields."""

    def __init__(self, config, selection, state: dict | None,
                 prepare: Callable[[dict[str, Member]], Any] | None = None):
        self.config, self.selection, self.state, self.prepare = config, selection, state, prepare
        self.out = Path(config.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.lineage = LineageLog(self.out / "lineage.jsonl")

    # ------------------------------------------------------------------ start
    def begin(self, loop) -> None:
        """A fresh run: the members' init events; the selection's random stream."""
        begin_lineage(self.lineage, loop.members, self.prepare)
        loop.generation, loop.agent_steps = 0, 0
        loop.rng = np.random.default_rng([self.config.seed, 3])

    def load(self, loop, collector, expect: dict[str, Any]) -> None:
        """A resumed run: the committed generation's members, counters and random stream; the
        records of a generation that did not complete are dropped."""
        state = self.state
        records = state["members"]
        if isinstance(records, dict):  # a league's: by population
            records = [r for rs in records.values() for r in rs]
        members = {}
        for record in records:
            path = self.out / files.checkpoint_entry(state, record["id"])["file"]
            learner, _ = checkpoint.load_learner(path, device=self.config.device,
                                                 expect_obs_size=self.config.obs_size,
                                                 restore_rng=False, **expect)
            members[record["id"]] = Member.from_record(record, learner)
        loop.members = members
        loop.generation, loop.agent_steps = state["generation"], state["agent_steps"]
        self.lineage.truncate(state["lineage_events"])
        files.drop_unfinished(self.out, loop.generation)
        loop.rng = np.random.default_rng()
        loop.rng.bit_generator.state = state["rng"]

    def commit(self, loop, ckpts: dict[str, dict[str, str]] | None = None) -> None:
        """state.json (and gen-NNNN/state.json): the generation is committed."""
        ckpts = self.checkpoints(loop) if ckpts is None else ckpts
        files.write(self.out, {
            "format": files.FORMAT, **self.selection.state_fields(loop, ckpts),
            "generation": loop.generation, "seed": self.config.seed,
            "agent_steps": loop.agent_steps, "checkpoints": ckpts,
            "lineage_events": len(self.lineage.events), "rng": loop.rng.bit_generator.state,
            "seating_rng": loop.session.rng.bit_generator.state})

    # ------------------------------------------------------------------ rounds
    def round_fields(self, loop, session, fragment: Fragment) -> dict[str, Any]:
        return {"generation": loop.generation, "phase": session.seats.phase,
                "dropped": tuple(fragment.dropped)}

    def round(self, loop, report: RoundReport, fragment: Fragment) -> None:
        files.append(self.out, "rounds.jsonl", report.to_json())

    # ------------------------------------------------------------------ generations
    def end_generation(self, loop, events: list[LineageEvent], started: float,
                       rounds_done: float, values: dict[str, dict[str, float]]) -> GenerationSummary:
        """Checkpoints, the generation's records, state.json last: a kill anywhere before it
        leaves the previous generation as the one to resume from."""
        ckpts = self.checkpoints(loop)
        now = time.perf_counter()
        summary = self.summary(loop, events, {"generation_s": now - started,
                                              "end_of_generation_s": now - rounds_done}, values)
        self.selection.write_records(loop, summary)
        files.append(self.out, "generations.jsonl", summary.to_json())
        self.commit(loop, ckpts)
        return summary

    def summary(self, loop, events: list[LineageEvent], timing: dict[str, float],
                trained: dict[str, dict[str, float]] | None = None) -> GenerationSummary:
        members = {m: MemberSummary(
            population=x.variant, fitness=x.fitness,
            objectives=None if x.objectives is None else dict(x.objectives), values=dict(x.values),
            parent=x.parent, birth_generation=x.birth_generation,
            agent_steps=x.learner.agent_steps, stats=loop.stats.of(m),
            trained_values=(trained or {}).get(m))
            for m, x in loop.members.items()}
        return GenerationSummary(
            generation=loop.generation, agent_steps=loop.agent_steps,
            time_ms=int(time.time() * 1000), elapsed_s=time.perf_counter() - loop.started,
            best=loop.best(), **self.selection.summary_fields(), members=members,
            events=tuple(e for e in events if e.kind != "keep"), inner_loop_s=loop.inner_s,
            worker_restarts=loop.session.collector.restarts, timing=timing,
            arenas=dict(loop.arena_episodes) or None)

    def checkpoints(self, loop) -> dict[str, dict[str, str]]:
        """Every member's checkpoint of this generation (not yet named by any state)."""
        g = loop.generation
        ckpts = {}
        for m, member in loop.members.items():
            rel = files.checkpoint_file(g, m)
            digest = checkpoint.save(member.learner, self.out / rel,
                                     {**self.selection.checkpoint_extra(member), "generation": g,
                                      "member": member.record()})
            ckpts[m] = {"file": rel, "sha256": digest}
        files.crash_point("checkpoints", g)
        return ckpts

    # ------------------------------------------------------------------ end
    def final(self, loop, interrupted: bool) -> dict[str, Any]:
        session = loop.session
        return {"generation": loop.generation, "generations": loop.target,
                **({"interrupted": True} if interrupted else {}),
                "agent_steps": loop.agent_steps, "elapsed_s": time.perf_counter() - loop.started,
                "inner_loop_s": loop.inner_s - session.seats.plan_s, "evaluation_s": loop.eval_s,
                "loop_s": time.perf_counter() - loop.loop_started, "out": str(self.out),
                "members": {m: x.record() for m, x in loop.members.items()}, "best": loop.best(),
                "worker_restarts": session.collector.restarts,
                "dropped_batches": session.dropped_batches, **self.selection.report_fields(loop)}

    def close(self) -> None:
        """Every file is closed after each write."""
