"""One PBT step for the ready members: fitness -> exploit (copy a better member) -> explore
(mutate the copied values), each decision a lineage event. No Ray, no files: the driver
(`run.py`) calls it between training rounds.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from popbased.population import exploit, pb2
from popbased.population.explore import explore
from popbased.population.fitness import FitnessTracker, scores
from popbased.population.lineage import LineageEvent
from popbased.population.member import Member
from popbased.population.spec import PBTConfig, PopulationSpec


def _finite(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _changes(old: Mapping[str, float], new: Mapping[str, float], how: str) -> dict[str, list]:
    return {k: [old.get(k), v, how] for k, v in new.items() if old.get(k) != v}


def step(spec: PopulationSpec, members: Mapping[str, Member], tracker: FitnessTracker,
         ready: Sequence[str], rng: np.random.Generator,
         config: PBTConfig | None = None,
         history: Sequence[LineageEvent] = ()) -> list[LineageEvent]:
    """PBT step for `ready` members (all of them in sync mode); returns the lineage events.

    Fitness compares every member's samples since its own last step; a ready member in the
    bottom group (or losing its tournament) copies the donor's learner (or, with `[pbt]
    inherit = "genes"`, its genes only) only when the gap is meaningful (see
    fitness.better), then explores from the donor's values. `history`:
    the run's lineage so far, which PB2's explore learns from (`[pbt] explore = "pb2"`).
    """
    config = config or spec.pbt
    means = {m: tracker.means(m) for m in members}
    fitness = scores(means, config.fitness)
    decisions = exploit.choose(config, fitness, means, tracker.samples, ready, rng)
    events: list[LineageEvent] = []
    learns = config.explore == "pb2"  # PB2 reads the lineage and this step's fitness; Gaussian needs neither
    ends = {m: (x.learner.agent_steps, _finite(fitness[m])) for m, x in members.items()} if learns else None
    for decision in decisions:
        member = members[decision.member]
        steps = member.learner.agent_steps
        member.generation += 1
        generation = member.generation
        member.fitness = _finite(fitness[member.id])
        member.objectives = {k: _finite(v) for k, v in means[member.id].items()}
        if decision.donor is None:
            events.append(LineageEvent(member.id, generation, steps, "keep", dict(member.values),
                                       fitness=member.fitness, reason=decision.reason))
        else:
            events += replace(spec, members, member, members[decision.donor], fitness, rng,
                              decision.reason, config, [*history, *events] if learns else (), ends)
        member.steps_at_last_step = member.trained_steps
        tracker.reset(member.id)
    return events


def replace(spec: PopulationSpec, members: Mapping[str, Member], member: Member, donor: Member,
            fitness: Mapping[str, float], rng: np.random.Generator, reason: str,
            config: PBTConfig | None = None, history: Sequence[LineageEvent] = (),
            ends: Mapping[str, tuple[int, float | None]] | None = None,
            inherit: str | None = None) -> list[LineageEvent]:
    """Exploit + explore: `member` becomes a copy of `donor` (`inherit`, by default the
    config's: "weights", the learner and genes, an `exploit` event; "genes", the genes only,
    an `adopt` event), then mutates the copied values (with SBX against another top member
    when configured), or takes PB2's proposal from `history` (the lineage so far) and `ends`
    (every member's agent-step and fitness at this step, see pb2.intervals). Returns the two
    events."""
    config = config or spec.pbt
    inherit = inherit or config.inherit
    generation = member.generation
    old = dict(member.values)
    if inherit == "genes":
        member.adopt_genes(donor)
        # its own weights train on: an interval that starts from its own fitness (PB2)
        starts_at = fitness.get(member.id, math.nan)
    else:
        member.copy_from(donor, generation)
        starts_at = fitness.get(donor.id, math.nan)
    kind = "adopt" if inherit == "genes" else "exploit"
    events = [LineageEvent(member.id, generation, member.learner.agent_steps, kind,
                           dict(member.values), _changes(old, member.values, "copied"),
                           donor=donor.id, fitness=member.fitness,
                           donor_fitness=_finite(fitness.get(donor.id)), reason=reason)]
    partner = (exploit.crossover_partner(fitness, member.id, donor.id, rng)
               if config.crossover else None)
    seed = int(rng.integers(2**31))
    proposed = None
    if config.explore == "pb2":
        proposed = pb2.propose(spec.all_genes(), member.values, history,
                               now=member.learner.agent_steps,
                               donor_fitness=starts_at,
                               others=[m.values for k, m in members.items() if k != member.id],
                               seed=seed, ends=ends, radius=config.pb2_radius)
    if proposed is not None:
        new, changes = proposed, {k: (member.values[k], v, "pb2(gp-ucb)")
                                  for k, v in proposed.items() if v != member.values[k]}
    else:
        new, changes = explore(spec.all_genes(), member.values, seed=seed,
                               stdev=config.mutation_stdev,
                               resample_probability=config.resample_probability,
                               partner=members[partner].values if partner else None,
                               eta=config.crossover_eta)
    member.apply(new)
    why = (f"after copying {donor.id}" + (" (its genes only)" if kind == "adopt" else "")
           + (f"; cross-over with {partner}" if partner else ""))
    if config.explore == "pb2" and proposed is None:
        why += f"; gaussian: PB2 needs {pb2.MIN_INTERVALS} intervals with a fitness at both ends"
    events.append(LineageEvent(member.id, generation, member.learner.agent_steps, "explore",
                               dict(member.values), {k: list(v) for k, v in changes.items()},
                               fitness=member.fitness, reason=why))
    return events
