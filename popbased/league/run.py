"""The league's generation loop: every population is focal and background at once.

One generation: train (rounds of matches drawn by the training matchmaking; every learner
seated in a match learns from its seats) -> evaluate (optional extra matches, no learning)
-> payoff table and league scores -> PBT step per population (quarantined members are
replaced first) -> snapshots of each population's best member -> checkpoints, records,
state.json last (the one loop, popbased.run.loop, with a run folder's records,
popbased.run.records.FolderRecords). `resume` continues from the last completed generation
(see popbased.runs.state).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np

from popbased.env import arenas, engines
from popbased.errors import BadInput
from popbased.league import arena
from popbased.league.matchmaking import Matchmaker
from popbased.league.payoff import PayoffTable
from popbased.league.spec import LeagueSpec
from popbased.population import pbt
from popbased.population.fitness import FitnessTracker
from popbased.population.lineage import LineageEvent
from popbased.population.member import Member, initial_members
from popbased.population.reports import GenerationSummary, RoundReport
from popbased.ppo import checkpoint
from popbased.ppo.learner import publication
from popbased.runs import state as files
from popbased.league.bots import arena_substrate
from popbased.run.loop import Loop, folder_loop
from popbased.run.session import MatchSeats, Session
from popbased.selfplay import TrainConfig, start_collector
from popbased.substrates import resolve


def identity(spec: LeagueSpec) -> dict[str, Any]:
    return {"name": spec.name, "arena": spec.arena,
            "arena_params": {k: str(v) for k, v in spec.arena_params.items()},
            "populations": {p.name: p.size for p in spec.populations}}


def train_config(spec: LeagueSpec, generations: int, **options) -> TrainConfig:
    members = sum(p.size for p in spec.populations)
    env = options.pop("env", "auto")
    env = spec.env if env == "auto" else env
    if spec.melting_pot_bots:  # Melting Pot's bots play on Melting Pot itself
        if env != "auto" and not engines.get(env).plays_bots:
            raise BadInput(f"--env {env}: {spec.source} seats Melting Pot's bots, which play on "
                           f"Melting Pot itself; allowed: --env meltingpot")
        env = engines.MELTINGPOT.name
    config = TrainConfig(spec.arena, dict(spec.arena_params), members=members,
                         steps=generations * members * spec.steps_per_generation,
                         max_episode_steps=spec.episode_steps, env=env, arenas=spec.arenas, **options)
    for pop in spec.populations:
        config.engine.check_components([g.name for g in pop.shaping],
                                       f"{spec.source}: population {pop.name!r}")
    if spec.episode_steps % config.rollout_length:
        raise BadInput(f"--rollout-length {config.rollout_length} must divide the league's "
                       f"episode_steps={spec.episode_steps} (seats change hands between episodes)")
    return config


def check_out(spec: LeagueSpec, out: Path, resume: bool, generations: int) -> dict | None:
    if not resume:
        if (out / files.STATE).exists():
            raise BadInput(f"--out {out} already holds a league; continue it with "
                           f"`popbased resume {out}`, or choose another --out")
        return None
    state = files.read(out)
    if state["league"] != identity(spec):
        raise BadInput(f"{out} holds league {state['league']}, not {identity(spec)} from {spec.source}")
    if state["generation"] >= generations:
        raise BadInput(f"{out} already completed generation {state['generation']}; ask for more "
                       f"with --generations N (N > {state['generation']})")
    return state


class League:
    """The selection of a league (popbased.run.loop.Selection): every population's members
    train in matches drawn by the training matchmaking; then evaluation matches (no
    learning), the payoff table and league scores, a PBT step per population (quarantined
    members first), snapshots."""

    name = "league"

    def __init__(self, spec: LeagueSpec, config: TrainConfig):
        self.spec, self.config = spec, config
        self.pbt_specs = {p.name: dataclasses.replace(p, pbt=dataclasses.replace(p.pbt, fitness=spec.fitness))
                          for p in spec.populations}
        self.snapshots: list[dict] = []
        self.eval_session: Session | None = None
        self.scores: dict[str, float] = {}
        self.rows: list = []
        self.payoff = PayoffTable(1)
        self.matchmaker: Matchmaker | None = None
        self.members: dict[str, Member] = {}  # the loop's, once it has them
        self.arena_spec = resolve(spec.arena, dict(spec.arena_params))
        config.engine.check(self.arena_spec, config.obs_size)
        _, self.apples_in_view = arena.arena_components(self.arena_spec, spec.populations)
        if spec.arenas:  # before anything is written: alike with the league's arena
            arenas.check(spec.arenas, config.engine, config.obs_size, self.apples_in_view,
                         f"{spec.source}:", home=self.arena_spec)

    # ------------------------------------------------------------------ members
    def _members_of(self, population: str) -> dict[str, Member]:
        return {m: x for m, x in self.members.items() if x.variant == population}

    def arena(self, config: TrainConfig) -> tuple:
        return self.arena_spec, self.apples_in_view, self.bots(), self.spec.scripted_bots

    def bots(self) -> tuple[str, str] | None:
        """(models root, substrate) of the league's Melting Pot bots (league/bots.py), if any."""
        if not self.spec.melting_pot_bots:
            return None
        return self.spec.bots_root, arena_substrate(self.arena_spec)

    def new_members(self, loop, collector) -> dict[str, Member]:
        return self.initial_members(collector.components)

    def initial_members(self, components) -> dict[str, Member]:
        members = {}
        for i, pop in enumerate(self.spec.populations):
            members.update(initial_members(
                pop, arena.action_names(pop), arena.base_weights(pop, components),
                obs_size=self.config.obs_size, net=self.config.net, device=self.config.device,
                rng=np.random.default_rng([self.config.seed, 2, i]),
                seed=self.config.seed * 1000 + 100 * i, prefix=f"{pop.name}/"))
        return members

    def load_options(self, collector) -> dict[str, Any]:
        return {}

    def seats(self) -> MatchSeats:
        return MatchSeats(None, self.spec.train_matchmaking)

    def begin(self, loop, state: dict | None) -> None:
        """The matchmaker over the loop's members; a resumed league's snapshots and
        matchmaking means."""
        self.members = loop.members
        self.session = loop.session
        self.matchmaker = Matchmaker(self.spec, {p.name: list(self._members_of(p.name)) for p in
                                                 self.spec.populations}, self.arena_spec.num_players)
        self.session.seats.matchmaker = self.matchmaker
        if state is not None:
            self.snapshots = []
            for entry in state["snapshots"]:
                policy = checkpoint.load_policy(Path(self.config.out) / entry["file"])
                self.snapshots.append({**entry, "publication": publication(
                    policy, entry["id"], (f"snapshot:{entry['id']}", 0), frozen=True)})
            self.matchmaker.means = {tuple(r[:3]): r[3] for r in state["matchmaking_means"]}
        self._publish_snapshots()

    def tracker(self, members, components) -> FitnessTracker:
        return FitnessTracker(members, components, extra=("league",))

    def _publish_snapshots(self) -> None:
        self.matchmaker.snapshots = {s["id"]: s["id"] for s in self.snapshots}
        for session in (self.session, self.eval_session):
            if session is not None:
                session.set_frozen([s["publication"] for s in self.snapshots])

    # ------------------------------------------------------------------ rounds
    def begin_generation(self, loop) -> None:
        self.payoff = PayoffTable(loop.generation + 1)
        seats = self.session.seats
        seats.generation, seats.phase, seats.rule = loop.generation + 1, "train", self.spec.train_matchmaking
        self.budget = len(self.members) * self.spec.steps_per_generation
        self.done = 0

    def trained(self, loop) -> bool:
        return self.done >= self.budget

    def more(self, loop) -> bool:
        return True

    def after_round(self, loop, fragment) -> None:
        self.done += loop.trained

    def on_fragment(self, fragment) -> None:
        self.payoff.add(fragment.episodes)

    def evaluate(self, loop) -> None:
        """Evaluation matches (nobody learns) until every env played `evaluation.episodes`."""
        if not self.spec.evaluation_episodes:
            return
        session = self._evaluation_session(loop.generation)
        wanted = self.spec.evaluation_episodes * (session.collector.num_seats //
                                                  self.matchmaker.players)
        session.seats.phase, session.seats.rule = "eval", self.spec.evaluate_matchmaking
        done = 0
        while done < wanted:
            fragment = loop.round(learn=False, session=session)
            done += sum(1 for e in fragment.episodes if "match" in e and e["match"].phase == "eval")

    def _evaluation_session(self, generation: int) -> Session:
        """Where evaluation matches are played: the training session, or, with `[evaluation] env` naming another engine
        (Melting Pot while training on the fast env), a session of its own on that engine,
        started at the first evaluation (its seating is drawn per generation, so a resumed
        league draws what an uninterrupted one would)."""
        env = self._evaluation_env()
        if env == self.config.env:
            return self.session
        if self.eval_session is None:
            length = math.gcd(self.spec.episode_steps, engines.MELTINGPOT.shape["rollout_length"])
            config = dataclasses.replace(self.config, env=env, envs_per_worker=None,
                                         rollout_length=length, overlap=False)
            collector, _ = start_collector(config, *self.arena(config))
            self.eval_session = Session(config, collector, self.session.learners,
                                        MatchSeats(self.matchmaker, self.spec.evaluate_matchmaking))
            self.eval_session.set_frozen([s["publication"] for s in self.snapshots])
        self.eval_session.rng = np.random.default_rng([self.config.seed, 5, generation])
        self.eval_session.seats.generation = generation + 1
        return self.eval_session

    def _evaluation_env(self) -> str:
        return self.spec.evaluation_env or self.config.env

    # ------------------------------------------------------------------ end of generation
    def select(self, loop) -> list[LineageEvent]:
        """League scores from the payoff table, a PBT step per population, snapshots."""
        names = [p.name for p in self.spec.populations]
        self.scores = self.payoff.scores(names)
        samples = self.payoff.member_samples()
        for m in self.members:
            loop.tracker.samples[m]["league"] = samples.get(m, [])
        events: list[LineageEvent] = []
        for pop in self.spec.populations:
            events += self._pbt(pop.name, loop)
        for event in events:
            loop.lineage.append(event)
        self.matchmaker.means = self.payoff.means()
        self._snapshot(loop)
        self.rows = self.payoff.rows()
        return events

    def _pbt(self, population: str, loop) -> list[LineageEvent]:
        """Quarantined members (a non-finite update since their last step) copy the best
        healthy member first; then the usual PBT step for the others."""
        spec = self.pbt_specs[population]
        members = self._members_of(population)
        sick = [m for m, x in members.items() if x.learner.flags]
        healthy = {m: x for m, x in members.items() if m not in sick}
        if len(healthy) >= 2:
            events = pbt.step(spec, healthy, loop.tracker, list(healthy), loop.rng,
                              history=[e for e in loop.lineage.events if e.member in members])
        else:
            events = []
            for m, member in healthy.items():  # nobody healthy to compare with: it stays
                member.generation += 1
                events.append(LineageEvent(m, member.generation, member.learner.agent_steps, "keep",
                                           dict(member.values), reason="the only healthy member"))
                member.steps_at_last_step = member.trained_steps
                loop.tracker.reset(m)
        if not healthy:
            return events
        fitness = {m: (x.fitness if x.fitness is not None else math.nan) for m, x in healthy.items()}
        donor = max(healthy, key=lambda m: -math.inf if math.isnan(fitness[m]) else fitness[m])
        for m in sick:
            member = members[m]
            member.generation += 1
            member.fitness = None
            reason = f"quarantined: {member.learner.flags[0]}"
            events += pbt.replace(spec, members, member, members[donor], fitness, loop.rng, reason,
                                  inherit="weights")  # its own weights are what is sick
            member.steps_at_last_step = member.trained_steps
            loop.tracker.reset(m)
        return events

    def _snapshot(self, loop) -> None:
        every = self.spec.snapshot_every
        if not every or loop.generation % every or not {"snapshots"} & set(self.spec.sources):
            return
        for pop in self.spec.populations:
            members = self._members_of(pop.name)
            best = loop.best(members)
            if best is None:
                continue
            snap_id = f"{pop.name}@g{loop.generation}"
            self.snapshots.append({"id": snap_id, "population": pop.name, "generation": loop.generation,
                                   "member": best, "publication": publication(
                                       members[best].learner.policy, snap_id,
                                       (f"snapshot:{snap_id}", 0), frozen=True)})
            own = [s for s in self.snapshots if s["population"] == pop.name]
            for old in own[:-self.spec.snapshot_keep]:
                self.snapshots.remove(old)
        self._publish_snapshots()

    # ------------------------------------------------------------------ records
    def checkpoint_extra(self, member: Member) -> dict[str, Any]:
        return {"league": self.spec.name, "population": member.variant, "arena": self.spec.arena}

    def state_fields(self, loop, ckpts: dict[str, dict[str, str]]) -> dict[str, Any]:
        by_pop: dict[str, list] = {}
        for member in loop.members.values():
            by_pop.setdefault(member.variant, []).append(member.record())
        for snap in self.snapshots:
            if "sha256" not in snap:  # frozen this generation: its member's checkpoint
                snap.update(ckpts[snap["member"]])
        return {"league": identity(self.spec), "source": self.spec.source, "members": by_pop,
                "snapshots": [{k: v for k, v in s.items() if k != "publication"} for s in self.snapshots],
                "matchmaking_means": [[*k, v] for k, v in self.matchmaker.means.items()]}

    def summary_fields(self) -> dict[str, Any]:
        return {"scores": dict(self.scores), "rows": tuple(self.rows),
                "snapshots": tuple(s["id"] for s in self.snapshots)}

    def write_records(self, loop, summary: GenerationSummary) -> None:
        files.append(Path(self.config.out), "payoff.jsonl", {
            **self.payoff.to_dict(), "scores": self.scores, "rows": self.rows,
            "env": {"train": self.config.env, "evaluation": self._evaluation_env()}})

    def report_fields(self, loop) -> dict[str, Any]:
        return {"matchmaking_s": self.session.seats.plan_s, "scores": self.scores}

    def close(self) -> None:
        if self.eval_session is not None:
            self.eval_session.collector.close()
            self.eval_session = None


def run(spec: LeagueSpec, config: TrainConfig, generations: int, *, resume: bool = False,
        on_round: Callable[[RoundReport], Any] | None = None,
        on_generation: Callable[[GenerationSummary], Any] | None = None,
        prepare: Callable[[dict[str, Member]], Any] | None = None) -> dict[str, Any]:
    """Runs (or resumes) the league until `generations` generations are complete."""
    if config.out is None:
        raise BadInput("a league needs an output folder (--out)")
    state = check_out(spec, Path(config.out), resume, generations)
    return make_loop(spec, config, generations, state, on_round, on_generation, prepare).run()


def make_loop(spec, config: TrainConfig, generations: int, state: dict | None = None,
              on_round: Callable[[RoundReport], Any] | None = None,
              on_generation: Callable[[GenerationSummary], Any] | None = None,
              prepare: Callable[[dict[str, Member]], Any] | None = None) -> Loop:
    """The league run's loop, not yet started (`state`: the run folder's last commit, to resume;
    `run` checks the folder first)."""
    return folder_loop(config, League(spec, config), generations, state, on_round, on_generation,
                       prepare)
