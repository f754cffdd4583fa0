"""PBT of one population: the selection that the one loop (popbased.run.loop) runs in a run
folder (popbased.run.records.FolderRecords): self-play rounds, a PBT step whenever members
are ready, a checkpoint of the whole population after every generation, and resume.

Output folder (see popbased.runs.state):
    state.json          the last completed generation: members, RNG states, the SHA-256 of
                        every checkpoint (also gen-NNNN/state.json)
    gen-NNNN/mK.pt      every member's learner at the end of generation NNNN (0 = initial)
    lineage.jsonl       every init / keep / exploit / adopt / explore event
    generations.jsonl   per generation: each member's fitness, objectives and values
    rounds.jsonl        per training round: speed, episode metrics, learner statistics

A generation ends when every member has taken that many PBT steps (sync mode: all at once,
when each has trained `steps_per_generation` agent-steps since its last step; async: each
member on its own). Checkpoints are written (atomically, one file per member, then the
generation's records, then state.json) only for completed generations, so `resume`
continues from the last one and redoes at most the unfinished generation; a torn
checkpoint falls back to the newest intact generation. Earlier checkpoints are kept.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np

from popbased.errors import BadInput
from popbased.population.fitness import FitnessTracker
from popbased.population.lineage import LineageEvent
from popbased.population.member import Member, initial_members
from popbased.population.pbt import step as pbt_step
from popbased.population.reports import GenerationSummary, RoundReport
from popbased.population.spec import PopulationSpec
from popbased.ppo import shaping
from popbased.runs import state as files
from popbased.run.loop import Loop, folder_loop
from popbased.run.session import SelfPlaySeats
from popbased.selfplay import TrainConfig, validate

STATE = files.STATE


def train_config(spec: PopulationSpec, generations: int, **options) -> TrainConfig:
    """The self-play settings of a PBT run: the spec's substrate, size and PPO settings; the
    components its shaping genes weigh (each member's weights are the defaults overridden by
    its genes, population/member.py)."""
    env = options.pop("env", "auto")
    return TrainConfig(spec.substrate, dict(spec.params), members=spec.size,
                       steps=generations * spec.size * spec.steps_per_generation, ppo=spec.ppo,
                       weighed=tuple(g.name for g in spec.shaping), arenas=spec.arenas,
                       env=spec.env if env == "auto" else env, **options)


def _identity(spec: PopulationSpec) -> dict[str, Any]:
    return {"name": spec.name, "substrate": spec.substrate,
            "params": {k: str(v) for k, v in spec.params.items()}, "size": spec.size}


def read_state(out: Path) -> dict[str, Any]:
    """The newest intact PBT state of `out` (see popbased.runs.state.read)."""
    try:
        return files.read(out, "PBT")
    except BadInput as err:
        raise BadInput(f"--resume: {err}") from None


def check_out(spec: PopulationSpec, out: Path, resume: bool, generations: int) -> dict[str, Any] | None:
    """Before anything starts: a new run needs a fresh folder; a resumed one its own state."""
    if not resume:
        if (out / STATE).exists():
            try:
                generation = json.loads((out / STATE).read_text()).get("generation", "?")
            except (json.JSONDecodeError, AttributeError):
                generation = "unreadable state"
            raise BadInput(f"--out {out} already holds a PBT run (generation {generation}); "
                           f"continue it with `popbased resume {out}`, or choose another --out")
        return None
    state = read_state(out)
    if state.get("spec") != _identity(spec):
        raise BadInput(f"--resume: {out} was run with population {state.get('spec')}, not "
                       f"{_identity(spec)} from {spec.source}")
    if state["generation"] >= generations:
        raise BadInput(f"--resume: {out} already completed generation {state['generation']}; "
                       f"ask for more with --generations N (N > {state['generation']})")
    return state


class PBT:
    """The selection of a PBT run (popbased.run.loop.Selection): one population in self-play
    seating; a PBT step whenever members are ready (sync: all at once; async: each on its
    own); a generation completes when every member has taken that many steps."""

    name = "PBT"

    def __init__(self, spec: PopulationSpec, config: TrainConfig):
        self.spec, self.config = spec, config
        self.pending: list[LineageEvent] = []  # async: several steps make one generation

    def arena(self, config: TrainConfig) -> tuple:
        substrate, apples_in_view, _ = validate(config)
        return substrate, apples_in_view

    # ------------------------------------------------------------------ members
    def new_members(self, loop, collector) -> dict[str, Member]:
        return self.initial_members(collector.action_names, shaping.default_weights(collector.components))

    def initial_members(self, action_names, weights) -> dict[str, Member]:
        config = self.config
        return initial_members(self.spec, action_names, weights, obs_size=config.obs_size,
                               net=config.net, device=config.device,
                               rng=np.random.default_rng([config.seed, 2]), seed=config.seed * 1000)

    def load_options(self, collector) -> dict[str, Any]:
        return {"expect_actions": collector.action_names}

    def seats(self) -> SelfPlaySeats:
        return SelfPlaySeats(per_world=self.spec.pbt.seating == "world")

    def begin(self, loop, state: dict | None) -> None:
        """Nothing beyond the members."""

    def tracker(self, members, components) -> FitnessTracker:
        return FitnessTracker(members, components, unit=self.spec.pbt.samples,
                              uid=lambda m: members[m].learner.uid)

    # ------------------------------------------------------------------ rounds
    def begin_generation(self, loop) -> None:
        """Rounds until the slowest member takes its next PBT step."""

    def trained(self, loop) -> bool:
        return min(m.generation for m in loop.members.values()) > loop.generation

    def more(self, loop) -> bool:
        return True

    def after_round(self, loop, fragment) -> None:
        ready = self.ready(loop.members)
        if not ready:
            return
        events = pbt_step(self.spec, loop.members, loop.tracker, ready, loop.rng,
                          history=loop.lineage.events)
        for event in events:
            loop.lineage.append(event)
        self.pending.extend(events)

    def on_fragment(self, fragment) -> None:
        """No payoff table."""

    def evaluate(self, loop) -> None:
        """No evaluation rounds."""

    def select(self, loop) -> list[LineageEvent]:
        events, self.pending = self.pending, []
        return events

    def ready(self, members: dict[str, Member]) -> list[str]:
        per_gen = self.spec.steps_per_generation
        ready = [m for m, x in members.items() if x.steps_since_last_step() >= per_gen]
        if self.spec.pbt.mode == "sync" and len(ready) < len(members):
            return []
        return ready

    # ------------------------------------------------------------------ records
    def checkpoint_extra(self, member: Member) -> dict[str, Any]:
        return {"substrate": self.spec.substrate, "params": _identity(self.spec)["params"],
                "population": self.spec.name}

    def state_fields(self, loop, ckpts: dict[str, dict[str, str]]) -> dict[str, Any]:
        return {"spec": _identity(self.spec), "source": self.spec.source,
                "members": [m.record() for m in loop.members.values()]}

    def summary_fields(self) -> dict[str, Any]:
        return {}

    def write_records(self, loop, summary: GenerationSummary) -> None:
        """generations.jsonl says it all."""

    def report_fields(self, loop) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        """Nothing beyond the collector."""


def run(spec: PopulationSpec, config: TrainConfig, generations: int, *, resume: bool = False,
        on_round: Callable[[RoundReport], Any] | None = None,
        on_generation: Callable[[GenerationSummary], Any] | None = None,
        prepare: Callable[[dict[str, Member]], Any] | None = None) -> dict[str, Any]:
    """Runs (or resumes) PBT until `generations` generations are complete.

    `prepare(members)` is called once on a new run's members before training (e.g. to load
    pretrained weights into some of them)."""
    if config.out is None:
        raise BadInput("a PBT run needs an output folder (--out)")
    state = check_out(spec, Path(config.out), resume, generations)
    return make_loop(spec, config, generations, state, on_round, on_generation, prepare).run()


def make_loop(spec, config: TrainConfig, generations: int, state: dict | None = None,
              on_round: Callable[[RoundReport], Any] | None = None,
              on_generation: Callable[[GenerationSummary], Any] | None = None,
              prepare: Callable[[dict[str, Member]], Any] | None = None) -> Loop:
    """The PBT run's loop, not yet started (`state`: the run folder's last commit, to resume;
    `run` checks the folder first)."""
    return folder_loop(config, PBT(spec, config), generations, state, on_round, on_generation,
                       prepare)
