"""The PBT driver for one population: self-play rounds on Ray, a PBT step whenever members
are ready, a checkpoint of the whole population after every generation, and resume.

Output folder:
    state.json          the last completed generation: members, RNG states, file names
    gen-NNNN/mK.pt      every member's learner at the end of generation NNNN (0 = initial)
    lineage.jsonl       every init / keep / exploit / explore event
    generations.jsonl   per generation: each member's fitness, objectives and values
    rounds.jsonl        per training round: speed, episode metrics, learner statistics

A generation ends when every member has taken that many PBT steps (sync mode: all at once,
when each has trained `steps_per_generation` agent-steps since its last step; async: each
member on its own). Checkpoints are written (atomically, one file per member, then
state.json) only for completed generations, so `resume` continues from the last one and
redoes at most the unfinished generation. Checkpoints of earlier generations are kept.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from popbased import jsonl
from popbased.errors import BadInput
from popbased.population.fitness import FitnessTracker
from popbased.population.lineage import LineageEvent, LineageLog
from popbased.population.member import Member, credit, initial_members
from popbased.population.member_stats import MemberStats
from popbased.population.pbt import step as pbt_step
from popbased.population.spec import PopulationSpec
from popbased.ppo import checkpoint, shaping
from popbased.rollout.cluster import ensure_ray
from popbased.play import json_safe
from popbased.selfplay import (EpisodeWindow, Session, TrainConfig, learner_threads, make_collector,
                               validate)

STATE = "state.json"
FORMAT = 1


def train_config(spec: PopulationSpec, generations: int, **options) -> TrainConfig:
    """The self-play settings of a PBT run: the spec's substrate, size and PPO settings."""
    view = {g.name: 1.0 for g in spec.shaping}  # components members may weigh (apples_in_view)
    return TrainConfig(spec.substrate, dict(spec.params), members=spec.size,
                       steps=generations * spec.size * spec.steps_per_generation, ppo=spec.ppo,
                       shaping=view or None, **options)


def _identity(spec: PopulationSpec) -> dict[str, Any]:
    return {"name": spec.name, "substrate": spec.substrate,
            "params": {k: str(v) for k, v in spec.params.items()}, "size": spec.size}


def read_state(out: Path) -> dict[str, Any]:
    path = out / STATE
    if not path.is_file():
        raise BadInput(f"--resume: {out} holds no PBT run (no {STATE})")
    try:
        state = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise BadInput(f"--resume: {path} is not valid JSON ({err})") from None
    if state.get("format") != FORMAT:
        raise BadInput(f"--resume: {path} has format {state.get('format')!r}; this popbased reads {FORMAT}")
    return state


def check_out(spec: PopulationSpec, out: Path, resume: bool, generations: int) -> dict[str, Any] | None:
    """Before anything starts: a new run needs a fresh folder; a resumed one its own state."""
    if not resume:
        if (out / STATE).exists():
            try:
                generation = json.loads((out / STATE).read_text()).get("generation", "?")
            except (json.JSONDecodeError, AttributeError):
                generation = "unreadable state"
            raise BadInput(f"--out {out} already holds a PBT run (generation {generation}); add "
                           f"--resume to continue it, or choose another --out")
        return None
    state = read_state(out)
    if state["spec"] != _identity(spec):
        raise BadInput(f"--resume: {out} was run with population {state['spec']}, not "
                       f"{_identity(spec)} from {spec.source}")
    if state["generation"] >= generations:
        raise BadInput(f"--resume: {out} already completed generation {state['generation']}; "
                       f"ask for more with --generations N (N > {state['generation']})")
    return state


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


class Driver:
    def __init__(self, spec: PopulationSpec, config: TrainConfig, generations: int,
                 state: dict | None, on_round: Callable[[dict], Any] | None,
                 on_generation: Callable[[dict], Any] | None,
                 prepare: Callable[[dict[str, Member]], Any] | None = None):
        self.spec, self.config, self.target = spec, config, generations
        self.prepare = prepare
        self.out = Path(config.out)
        self.on_round, self.on_generation = on_round, on_generation
        self.lineage = LineageLog(self.out / "lineage.jsonl")
        self.state = state
        self.window = EpisodeWindow()
        self.stats = MemberStats()
        self.started = time.perf_counter()

    # ------------------------------------------------------------------ members
    def _new_members(self, action_names, weights) -> dict[str, Member]:
        config = self.config
        return initial_members(self.spec, action_names, weights, obs_size=config.obs_size,
                               net=config.net, device=config.device,
                               rng=np.random.default_rng([config.seed, 2]), seed=config.seed * 1000)

    def _load_members(self, action_names) -> dict[str, Member]:
        members = {}
        for record in self.state["members"]:
            path = self.out / self.state["checkpoints"][record["id"]]
            learner, _ = checkpoint.load_learner(path, device=self.config.device,
                                                 expect_actions=action_names,
                                                 expect_obs_size=self.config.obs_size,
                                                 restore_rng=False)
            members[record["id"]] = Member.from_record(record, learner)
        kept = self.state["lineage_events"]
        if len(self.lineage.events) != kept:  # events of a generation that never completed
            self.lineage.truncate(kept)
        return members

    # ------------------------------------------------------------------ persistence
    def _save(self, generation: int) -> None:
        folder = f"gen-{generation:04d}"
        extra = {"substrate": self.spec.substrate, "params": _identity(self.spec)["params"],
                 "population": self.spec.name, "generation": generation}
        files = {}
        for m, member in self.members.items():
            checkpoint.save(member.learner, self.out / folder / f"{m}.pt",
                            {**extra, "member": member.record()})
            files[m] = f"{folder}/{m}.pt"
        state = {"format": FORMAT, "spec": _identity(self.spec), "source": self.spec.source,
                 "generation": generation, "seed": self.config.seed,
                 "agent_steps": self.agent_steps, "members": [m.record() for m in self.members.values()],
                 "checkpoints": files, "lineage_events": len(self.lineage.events),
                 "rng": self.rng.bit_generator.state,
                 "seating_rng": self.session.rng.bit_generator.state}
        checkpoint.write_atomic(self.out / STATE, json.dumps(json_safe(state), indent=1).encode())

    def _log(self, name: str, record: dict) -> None:
        jsonl.append(self.out / name, record)

    # ------------------------------------------------------------------ loop
    def run(self) -> dict[str, Any]:
        config = self.config
        substrate, apples_in_view, _ = validate(config)
        ray_info = ensure_ray(config.ray_address)
        collector = make_collector(config, substrate, apples_in_view, ray_info)
        try:
            weights = shaping.default_weights(collector.components)
            learner_threads(config)
            self.out.mkdir(parents=True, exist_ok=True)
            if self.state is None:
                self.members = self._new_members(collector.action_names, weights)
                begin_lineage(self.lineage, self.members, self.prepare)
                self.generation, self.agent_steps = 0, 0
                self.rng = np.random.default_rng([config.seed, 3])
            else:
                self.members = self._load_members(collector.action_names)
                self.generation, self.agent_steps = self.state["generation"], self.state["agent_steps"]
                self.rng = np.random.default_rng()
                self.rng.bit_generator.state = self.state["rng"]
            self.session = Session(config, collector, {m: x.learner for m, x in self.members.items()})
            if self.state is None:
                self._save(0)
            else:
                self.session.rng.bit_generator.state = self.state["seating_rng"]
            self.tracker = FitnessTracker(self.members, collector.components)
            report = self._loop()
        finally:
            collector.close()
        report["ray"] = ray_info
        return report

    def _loop(self) -> dict[str, Any]:
        start_steps = self.agent_steps
        report: dict[str, Any] = {"generation": self.generation, "generations": self.target}
        unreported: list[LineageEvent] = []
        try:
            while self.generation < self.target:
                fragment, stats = self.session.round(more=True)
                self._account(fragment, stats, start_steps)
                ready = self._ready()
                if not ready:
                    continue
                events = pbt_step(self.spec, self.members, self.tracker, ready, self.rng)
                for event in events:
                    self.lineage.append(event)
                unreported.extend(events)  # async: several steps make one generation
                generation = min(m.generation for m in self.members.values())
                if generation > self.generation:
                    self.generation = generation
                    self._save(generation)
                    summary = self._summary(unreported)
                    unreported = []
                    self._log("generations.jsonl", summary)
                    if self.on_generation:
                        self.on_generation(summary)
            self.session.finish()
        except KeyboardInterrupt:
            report["interrupted"] = True
        report.update(generation=self.generation, agent_steps=self.agent_steps,
                      elapsed_s=time.perf_counter() - self.started,
                      members={m: x.record() for m, x in self.members.items()},
                      best=self._best(), out=str(self.out),
                      dropped_batches=self.session.dropped_batches)
        return report

    def _ready(self) -> list[str]:
        per_gen = self.spec.steps_per_generation
        ready = [m for m, x in self.members.items() if x.steps_since_last_step() >= per_gen]
        if self.spec.pbt.mode == "sync" and len(ready) < len(self.members):
            return []
        return ready

    def _account(self, fragment: dict, stats: dict, start_steps: int) -> None:
        self.agent_steps += credit(self.members, fragment)[1]
        self.tracker.add(fragment)
        self.stats.add_learners(stats)
        self.stats.add_episodes(fragment["episodes"])
        self.window.add(fragment["episodes"])
        elapsed = time.perf_counter() - self.started
        report = {"generation": self.generation, "agent_steps": self.agent_steps,
                  "total_steps": self.config.steps, "elapsed_s": elapsed,
                  "agent_steps_per_s": (self.agent_steps - start_steps) / elapsed,
                  "episodes": self.window.count, "metrics": self.window.summary(),
                  "learners": stats, "dropped": fragment["dropped"],
                  "worker_restarts": self.session.collector.restarts,
                  "flags": {m: x.learner.flags for m, x in self.members.items() if x.learner.flags}}
        self._log("rounds.jsonl", report)
        if self.on_round:
            self.on_round(report)

    def _best(self) -> str | None:
        known = [m for m in self.members.values() if m.fitness is not None]
        return max(known, key=lambda m: m.fitness).id if known else None

    def _summary(self, events: list[LineageEvent]) -> dict[str, Any]:
        stats = {m: self.stats.of(m) for m in self.members}
        self.stats.reset()
        return {"generation": self.generation, "agent_steps": self.agent_steps,
                "elapsed_s": time.perf_counter() - self.started, "best": self._best(),
                "members": {m: {"fitness": x.fitness, "objectives": x.objectives, "values": x.values,
                                "parent": x.parent, "birth_generation": x.birth_generation,
                                "agent_steps": x.learner.agent_steps, "stats": stats[m]}
                            for m, x in self.members.items()},
                "events": [dataclasses.asdict(e) for e in events if e.kind != "keep"]}


def run(spec: PopulationSpec, config: TrainConfig, generations: int, *, resume: bool = False,
        on_round: Callable[[dict], Any] | None = None,
        on_generation: Callable[[dict], Any] | None = None,
        prepare: Callable[[dict[str, Member]], Any] | None = None) -> dict[str, Any]:
    """Runs (or resumes) PBT until `generations` generations are complete.

    `prepare(members)` is called once on a new run's members before training (e.g. to load
    pretrained weights into some of them)."""
    if config.out is None:
        raise BadInput("a PBT run needs an output folder (--out)")
    state = check_out(spec, Path(config.out), resume, generations)
    return Driver(spec, config, generations, state, on_round, on_generation, prepare).run()
