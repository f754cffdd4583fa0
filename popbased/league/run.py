"""The league's generation loop: every population is focal and background at once.

One generation: train (rounds of matches drawn by the training matchmaking; every learner
seated in a match learns from its seats) -> evaluate (optional extra matches, no learning)
-> payoff table and league scores -> PBT step per population (quarantined members are
replaced first) -> snapshots of each population's best member -> checkpoint (state.json
last). `resume` continues from the last completed generation (see state.py).
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from popbased.errors import BadInput
from popbased.league import arena, state as files
from popbased.league.matchmaking import Matchmaker
from popbased.league.payoff import PayoffTable
from popbased.league.spec import LeagueSpec
from popbased.population import pbt
from popbased.population.fitness import FitnessTracker
from popbased.population.lineage import LineageEvent, LineageLog
from popbased.population.member import Member, credit, initial_members
from popbased.population.member_stats import MemberStats
from popbased.population.run import begin_lineage
from popbased.ppo import checkpoint
from popbased.ppo.learner import publication
from popbased.rollout.cluster import ensure_ray
from popbased.selfplay import EpisodeWindow, Session, TrainConfig, learner_threads, make_collector
from popbased.substrates import resolve


def identity(spec: LeagueSpec) -> dict[str, Any]:
    return {"name": spec.name, "arena": spec.arena,
            "arena_params": {k: str(v) for k, v in spec.arena_params.items()},
            "populations": {p.name: p.size for p in spec.populations}}


def train_config(spec: LeagueSpec, generations: int, **options) -> TrainConfig:
    members = sum(p.size for p in spec.populations)
    config = TrainConfig(spec.arena, dict(spec.arena_params), members=members,
                         steps=generations * members * spec.steps_per_generation,
                         max_episode_steps=spec.episode_steps, **options)
    if spec.episode_steps % config.rollout_length:
        raise BadInput(f"--rollout-length {config.rollout_length} must divide the league's "
                       f"episode_steps={spec.episode_steps} (seats change hands between episodes)")
    return config


def check_out(spec: LeagueSpec, out: Path, resume: bool, generations: int) -> dict | None:
    if not resume:
        if (out / files.STATE).exists():
            raise BadInput(f"--out {out} already holds a league; continue it with "
                           f"`popbased league resume {out}`, or choose another --out")
        return None
    state = files.read(out)
    if state["league"] != identity(spec):
        raise BadInput(f"{out} holds league {state['league']}, not {identity(spec)} from {spec.source}")
    if state["generation"] >= generations:
        raise BadInput(f"{out} already completed generation {state['generation']}; ask for more "
                       f"with --generations N (N > {state['generation']})")
    return state


class LeagueSession(Session):
    """Self-play's rounds with the league's seatings: one match per env per episode."""

    def __init__(self, config, collector, learners, matchmaker: Matchmaker, rule: str):
        super().__init__(config, collector, learners)
        self.matchmaker, self.rule = matchmaker, rule
        self.phase, self.generation = "train", 0
        self.plan_s = 0.0  # matchmaking time (league overhead inside the rounds)

    def plan(self):
        t0 = time.perf_counter()
        envs = self.collector.seats_per_worker // self.matchmaker.players
        out = self.matchmaker.plan(self.rng, len(self.collector.actors), envs, self.rule,
                                   self.phase, self.generation)
        self.plan_s += time.perf_counter() - t0
        return out


class Driver:
    def __init__(self, spec: LeagueSpec, config: TrainConfig, generations: int, state: dict | None,
                 on_round: Callable[[dict], Any] | None = None,
                 on_generation: Callable[[dict], Any] | None = None,
                 prepare: Callable[[dict[str, Member]], Any] | None = None):
        self.spec, self.config, self.target, self.state = spec, config, generations, state
        self.on_round, self.on_generation, self.prepare = on_round, on_generation, prepare
        self.out = Path(config.out)
        self.lineage = LineageLog(self.out / "lineage.jsonl")
        self.window = EpisodeWindow()
        self.stats = MemberStats()
        self.started = time.perf_counter()
        self.inner_s = 0.0  # time inside the PPO inner loops (collect + update)
        self.eval_s = 0.0  # time playing evaluation matches
        self.pbt_specs = {p.name: dataclasses.replace(p, pbt=dataclasses.replace(p.pbt, fitness=spec.fitness))
                          for p in spec.populations}

    # ------------------------------------------------------------------ members
    def _members_of(self, population: str) -> dict[str, Member]:
        return {m: x for m, x in self.members.items() if x.variant == population}

    def _new_members(self, components) -> dict[str, Member]:
        members = {}
        for i, pop in enumerate(self.spec.populations):
            members.update(initial_members(
                pop, arena.action_names(pop), arena.base_weights(pop, components),
                obs_size=self.config.obs_size, net=self.config.net, device=self.config.device,
                rng=np.random.default_rng([self.config.seed, 2, i]),
                seed=self.config.seed * 1000 + 100 * i, prefix=f"{pop.name}/"))
        return members

    def _load_members(self) -> dict[str, Member]:
        members = {}
        for pop, records in self.state["members"].items():
            for record in records:
                path = self.out / self.state["checkpoints"][record["id"]]["file"]
                learner, _ = checkpoint.load_learner(path, device=self.config.device,
                                                     expect_obs_size=self.config.obs_size,
                                                     restore_rng=False)
                members[record["id"]] = Member.from_record(record, learner)
        return members

    def _restore_snapshots(self) -> None:
        self.snapshots = []
        for entry in self.state["snapshots"]:
            policy = checkpoint.load_policy(self.out / entry["file"])
            self.snapshots.append({**entry, "publication": publication(
                policy, entry["id"], (f"snapshot:{entry['id']}", 0), frozen=True)})

    # ------------------------------------------------------------------ persistence
    def _save(self) -> None:
        self._commit(self._checkpoints())

    def _checkpoints(self) -> dict[str, dict[str, str]]:
        """Every member's checkpoint of this generation (not yet named by any state)."""
        g = self.generation
        ckpts = {}
        for m, member in self.members.items():
            rel = f"gen-{g:04d}/{m}.pt"
            digest = checkpoint.save(member.learner, self.out / rel,
                                     {"league": self.spec.name, "population": member.variant,
                                      "generation": g, "arena": self.spec.arena,
                                      "member": member.record()})
            ckpts[m] = {"file": rel, "sha256": digest}
        files.crash_point("checkpoints", g)
        return ckpts

    def _commit(self, ckpts: dict[str, dict[str, str]]) -> None:
        """state.json names this generation's checkpoints, snapshots and statistics."""
        g = self.generation
        by_pop: dict[str, list] = {}
        for member in self.members.values():
            by_pop.setdefault(member.variant, []).append(member.record())
        for snap in self.snapshots:
            if "sha256" not in snap:  # frozen this generation: its member's checkpoint
                snap.update(ckpts[snap["member"]])
        files.write(self.out, {
            "format": files.FORMAT, "league": identity(self.spec), "source": self.spec.source,
            "generation": g, "seed": self.config.seed, "agent_steps": self.agent_steps,
            "members": by_pop, "checkpoints": ckpts,
            "snapshots": [{k: v for k, v in s.items() if k != "publication"} for s in self.snapshots],
            "lineage_events": len(self.lineage.events), "rng": self.rng.bit_generator.state,
            "seating_rng": self.session.rng.bit_generator.state,
            "matchmaking_means": [[*k, v] for k, v in self.matchmaker.means.items()]})

    # ------------------------------------------------------------------ run
    def run(self) -> dict[str, Any]:
        config, spec = self.config, self.spec
        arena_spec = resolve(spec.arena, dict(spec.arena_params))
        components, apples_in_view = arena.arena_components(arena_spec, spec.populations)
        ray_info = ensure_ray(config.ray_address)
        collector = make_collector(config, arena_spec, apples_in_view, ray_info)
        try:
            learner_threads(config)
            self.out.mkdir(parents=True, exist_ok=True)
            fresh = self.state is None
            if fresh:
                self.members = self._new_members(collector.components)
                self.snapshots: list[dict] = []
                begin_lineage(self.lineage, self.members, self.prepare)
                self.generation, self.agent_steps = 0, 0
                self.rng = np.random.default_rng([config.seed, 3])
            else:
                self.members = self._load_members()
                self._restore_snapshots()
                self.generation, self.agent_steps = self.state["generation"], self.state["agent_steps"]
                self.lineage.truncate(self.state["lineage_events"])
                files.drop_unfinished(self.out, self.generation)
                self.rng = np.random.default_rng()
                self.rng.bit_generator.state = self.state["rng"]
            self.matchmaker = Matchmaker(spec, {p.name: list(self._members_of(p.name)) for p in
                                                spec.populations}, arena_spec.num_players)
            self.session = LeagueSession(config, collector, {m: x.learner for m, x in self.members.items()},
                                         self.matchmaker, spec.train_matchmaking)
            if fresh:
                self._save()
            else:
                self.session.rng.bit_generator.state = self.state["seating_rng"]
                self.matchmaker.means = {tuple(r[:3]): r[3] for r in self.state["matchmaking_means"]}
            self._publish_snapshots()
            self.tracker = FitnessTracker(self.members, collector.components, extra=("league",))
            report = self._loop()
        finally:
            collector.close()
        report["ray"] = ray_info
        return report

    def _publish_snapshots(self) -> None:
        self.matchmaker.snapshots = {s["id"]: s["id"] for s in self.snapshots}
        self.session.set_frozen([s["publication"] for s in self.snapshots])

    def _loop(self) -> dict[str, Any]:
        report: dict[str, Any] = {"generation": self.generation, "generations": self.target}
        self.start_steps = self.agent_steps
        loop_started = time.perf_counter()
        try:
            while self.generation < self.target:
                t0 = time.perf_counter()
                self.payoff = PayoffTable(self.generation + 1)
                self.stats.reset()
                self.session.generation = self.generation + 1
                self._train()
                self._evaluate()
                self.generation += 1
                summary = self._end_generation(t0)
                files.crash_point("committed", self.generation)
                if self.on_generation:
                    self.on_generation(summary)
            self.session.finish()
        except KeyboardInterrupt:
            report["interrupted"] = True
        elapsed = time.perf_counter() - self.started
        report.update(generation=self.generation, agent_steps=self.agent_steps, elapsed_s=elapsed,
                      inner_loop_s=self.inner_s - self.session.plan_s,
                      matchmaking_s=self.session.plan_s, evaluation_s=self.eval_s, loop_s=time.perf_counter() - loop_started,
                      out=str(self.out),
                      members={m: x.record() for m, x in self.members.items()},
                      scores=getattr(self, "scores", {}),
                      worker_restarts=self.session.collector.restarts,
                      dropped_batches=self.session.dropped_batches)
        return report

    def _round(self, learn: bool = True) -> dict:
        t0 = time.perf_counter()
        fragment, stats = self.session.round(more=True, learn=learn)
        if learn:
            self.inner_s += time.perf_counter() - t0
        else:
            self.eval_s += time.perf_counter() - t0
        trained, collected = credit(self.members, fragment)
        self.agent_steps += collected
        if learn:
            self.tracker.add(fragment)
            self.stats.add_learners(stats)
        self.stats.add_episodes(fragment["episodes"])
        self.payoff.add(fragment["episodes"])
        self.window.add(fragment["episodes"])
        elapsed = time.perf_counter() - self.started
        report = {"generation": self.generation, "phase": self.session.phase,
                  "agent_steps": self.agent_steps, "total_steps": self.config.steps,
                  "elapsed_s": elapsed,
                  "agent_steps_per_s": (self.agent_steps - self.start_steps) / elapsed,
                  "episodes": self.window.count, "metrics": self.window.summary(),
                  "learners": stats, "dropped": fragment["dropped"],
                  "worker_restarts": self.session.collector.restarts,
                  "flags": {m: x.learner.flags for m, x in self.members.items() if x.learner.flags}}
        files.append(self.out, "rounds.jsonl", report)
        if self.on_round:
            self.on_round(report)
        files.crash_point("train", self.generation + 1)
        return {"trained": trained, "episodes": fragment["episodes"]}

    def _train(self) -> None:
        self.session.phase, self.session.rule = "train", self.spec.train_matchmaking
        budget = len(self.members) * self.spec.steps_per_generation
        trained = 0
        while trained < budget:
            trained += self._round()["trained"]

    def _evaluate(self) -> None:
        wanted = self.spec.evaluation_episodes * (self.session.collector.num_seats //
                                                  self.matchmaker.players)
        if not wanted:
            return
        self.session.phase, self.session.rule = "eval", self.spec.evaluate_matchmaking
        done = 0
        while done < wanted:
            done += sum(1 for e in self._round(learn=False)["episodes"]
                        if e.get("match", {}).get("phase") == "eval")

    # ------------------------------------------------------------------ end of generation
    def _end_generation(self, started: float) -> dict[str, Any]:
        """PBT, snapshots, checkpoints, the generation's records; state.json last, so that a
        kill anywhere before it leaves the previous generation as the one to resume from
        (resume drops the records of a generation that did not complete)."""
        t1 = time.perf_counter()
        g = self.generation
        names = [p.name for p in self.spec.populations]
        self.scores = self.payoff.scores(names)
        samples = self.payoff.member_samples()
        for m in self.members:
            self.tracker.samples[m]["league"] = samples.get(m, [])
        events: list[LineageEvent] = []
        for pop in self.spec.populations:
            events += self._pbt(pop.name)
        for event in events:
            self.lineage.append(event)
        files.crash_point("pbt", g)
        self.matchmaker.means = self.payoff.means()
        self._snapshot()
        ckpts = self._checkpoints()
        rows = self.payoff.rows()
        summary = self._summary(g, rows, events)
        summary["timing"] = {"generation_s": time.perf_counter() - started,
                             "end_of_generation_s": time.perf_counter() - t1}
        files.append(self.out, "payoff.jsonl", {**self.payoff.to_dict(), "scores": self.scores,
                                                "rows": rows})
        files.append(self.out, "generations.jsonl", summary)
        self._commit(ckpts)
        return summary

    def _summary(self, g: int, rows: list, events: list[LineageEvent]) -> dict[str, Any]:
        return {"generation": g, "agent_steps": self.agent_steps, "time_ms": int(time.time() * 1000),
                "elapsed_s": time.perf_counter() - self.started, "scores": self.scores,
                "rows": rows, "best": self._best(),
                "snapshots": [s["id"] for s in self.snapshots],
                "members": {m: {"population": x.variant, "fitness": x.fitness,
                                "objectives": x.objectives, "values": x.values, "parent": x.parent,
                                "agent_steps": x.learner.agent_steps, "stats": self.stats.of(m)}
                            for m, x in self.members.items()},
                "events": [dataclasses.asdict(e) for e in events if e.kind != "keep"],
                "inner_loop_s": self.inner_s, "worker_restarts": self.session.collector.restarts}

    def _pbt(self, population: str) -> list[LineageEvent]:
        """Quarantined members (a non-finite update since their last step) copy the best
        healthy member first; then the usual PBT step for the others."""
        spec = self.pbt_specs[population]
        members = self._members_of(population)
        sick = [m for m, x in members.items() if x.learner.flags]
        healthy = {m: x for m, x in members.items() if m not in sick}
        if len(healthy) >= 2:
            events = pbt.step(spec, healthy, self.tracker, list(healthy), self.rng)
        else:
            events = []
            for m, member in healthy.items():  # nobody healthy to compare with: it stays
                member.generation += 1
                events.append(LineageEvent(m, member.generation, member.learner.agent_steps, "keep",
                                           dict(member.values), reason="the only healthy member"))
                member.steps_at_last_step = member.trained_steps
                self.tracker.reset(m)
        if not healthy:
            return events
        fitness = {m: (x.fitness if x.fitness is not None else math.nan) for m, x in healthy.items()}
        donor = max(healthy, key=lambda m: -math.inf if math.isnan(fitness[m]) else fitness[m])
        for m in sick:
            member = members[m]
            member.generation += 1
            member.fitness = None
            reason = f"quarantined: {member.learner.flags[0]}"
            events += pbt.replace(spec, members, member, members[donor], fitness, self.rng, reason)
            member.steps_at_last_step = member.trained_steps
            self.tracker.reset(m)
        return events

    def _snapshot(self) -> None:
        every = self.spec.snapshot_every
        if not every or self.generation % every or not {"snapshots"} & set(self.spec.sources):
            return
        for pop in self.spec.populations:
            members = self._members_of(pop.name)
            best = self._best(members)
            if best is None:
                continue
            snap_id = f"{pop.name}@g{self.generation}"
            self.snapshots.append({"id": snap_id, "population": pop.name, "generation": self.generation,
                                   "member": best, "publication": publication(
                                       members[best].learner.policy, snap_id,
                                       (f"snapshot:{snap_id}", 0), frozen=True)})
            own = [s for s in self.snapshots if s["population"] == pop.name]
            for old in own[:-self.spec.snapshot_keep]:
                self.snapshots.remove(old)
        self._publish_snapshots()

    def _best(self, members: dict[str, Member] | None = None) -> str | None:
        members = self.members if members is None else members
        known = [m for m in members.values() if m.fitness is not None]
        return max(known, key=lambda m: m.fitness).id if known else None


def run(spec: LeagueSpec, config: TrainConfig, generations: int, *, resume: bool = False,
        on_round=None, on_generation=None, prepare=None) -> dict[str, Any]:
    """Runs (or resumes) the league until `generations` generations are complete."""
    if config.out is None:
        raise BadInput("a league needs an output folder (--out)")
    state = check_out(spec, Path(config.out), resume, generations)
    return Driver(spec, config, generations, state, on_round, on_generation, prepare).run()
