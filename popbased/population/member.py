"""A member of a population: one seat-slot (`m0`, `m1`, ...) whose learner PBT evolves.

The learner holds the weights, optimizer state, PPO hyperparameters and shaping weights;
`values` are the member's gene values (PPO fields by name, shaping weights as
'shaping.<component>'), always the ones the learner uses (`apply`). `copy_from` is
PBT's exploit: the donor's weights, optimizer state (deep-copied: Adam's moments are
tensors the two must not share), hyperparameters, shaping and counters, under a new
learner uid so rollouts collected by the replaced weights are never learned from.
"""

from __future__ import annotations

import copy
import dataclasses
import secrets
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from popbased.population.explore import grid_value, sample_initial
from popbased.ppo import shaping
from popbased.ppo.learner import Learner

SHAPING = "shaping."
SOCIAL = "social."


def split_values(values: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """(PPO fields, shaping weights) from a member's gene values (social parameters: `social_of`)."""
    ppo = {k: v for k, v in values.items() if not k.startswith((SHAPING, SOCIAL))}
    weights = {k[len(SHAPING):]: v for k, v in values.items() if k.startswith(SHAPING)}
    return ppo, weights


def social_of(values: dict[str, float]) -> dict[str, float] | None:
    """The member's own social parameters (inequity_decay, svo_angle in degrees), None if none."""
    out = {k[len(SOCIAL):]: v for k, v in values.items() if k.startswith(SOCIAL)}
    return out or None


@dataclass
class Member:
    id: str
    variant: str
    learner: Learner
    values: dict[str, float]
    birth_generation: int = 0
    """Generation its current weights line started (0, or its last exploit)."""
    parent: str | None = None
    """The member it last copied (None: its own line since initialisation)."""
    donors: list[tuple[int, str]] = field(default_factory=list)
    """(generation, donor) for every exploit, oldest first."""
    generation: int = 0
    """PBT steps taken."""
    steps_at_last_step: int = 0
    """The slot's trained agent-steps when it last took a PBT step."""
    trained_steps: int = 0
    """Agent-steps this slot trained (its own compute, copies excluded)."""
    fitness: float | None = None
    """Fitness at its last PBT step."""
    objectives: dict[str, float] = field(default_factory=dict)
    """All objectives' values at its last PBT step."""

    def apply(self, values: dict[str, float] | None = None) -> None:
        """Makes the learner use `values` (or the member's own): the perturbed values are the
        ones trained with."""
        if values is not None:
            self.values = dict(values)
        ppo, weights = split_values(self.values)
        learner = self.learner
        integer = {f.name for f in dataclasses.fields(learner.config) if f.type in ("int", int)}
        ppo = {k: int(round(v)) if k in integer else v for k, v in ppo.items()}
        learner.set_config(dataclasses.replace(learner.config, **ppo))
        learner.shaping = shaping.effective_weights(weights, base=learner.shaping)
        learner.social = social_of(self.values)

    def copy_from(self, donor: "Member", generation: int) -> None:
        """Exploit: become a copy of `donor` (weights, optimizer, hyperparameters, shaping)."""
        mine, theirs = self.learner, donor.learner
        mine.policy.load_state_dict(theirs.policy.state_dict())
        mine.optimizer.load_state_dict(copy.deepcopy(theirs.optimizer.state_dict()))
        mine.set_config(theirs.config)
        mine.shaping = dict(theirs.shaping)
        mine.agent_steps, mine.updates = theirs.agent_steps, theirs.updates
        mine.flags = []
        mine.uid, mine.version = secrets.token_hex(6), 0
        self.values = dict(donor.values)
        self.birth_generation = generation
        self.parent = donor.id
        self.donors.append((generation, donor.id))

    def adopt_genes(self, donor: "Member") -> None:
        """Exploit with `[pbt] inherit = "genes"`: take the donor's gene values only; the
        learner (weights, optimizer state, counters, uid) stays the member's own, and its line
        of weights (`birth_generation`, `parent`, `donors`) goes on. The caller applies the
        (explored) values."""
        self.values = dict(donor.values)

    def steps_since_last_step(self) -> int:
        return self.trained_steps - self.steps_at_last_step

    def record(self) -> dict[str, Any]:
        """JSON-ready metadata (the learner itself goes to its checkpoint)."""
        return {"id": self.id, "variant": self.variant, "values": self.values,
                "birth_generation": self.birth_generation, "parent": self.parent,
                "donors": [list(d) for d in self.donors], "generation": self.generation,
                "steps_at_last_step": self.steps_at_last_step, "trained_steps": self.trained_steps,
                "fitness": self.fitness, "objectives": self.objectives,
                "agent_steps": self.learner.agent_steps}

    @classmethod
    def from_record(cls, record: dict[str, Any], learner: Learner) -> "Member":
        member = cls(record["id"], record["variant"], learner, dict(record["values"]),
                     birth_generation=record["birth_generation"], parent=record["parent"],
                     donors=[(int(g), str(d)) for g, d in record["donors"]],
                     generation=record["generation"],
                     steps_at_last_step=record["steps_at_last_step"],
                     trained_steps=record["trained_steps"], fitness=record["fitness"],
                     objectives=dict(record["objectives"]))
        learner.social = social_of(member.values)  # not in the checkpoint: the genes say it
        return member


def initial_members(spec, action_names, weights: dict[str, float], *, obs_size: int, net, device: str,
                    rng: np.random.Generator, seed: int, prefix: str = "") -> dict[str, "Member"]:
    """A new population: gene values drawn from their initial ranges (or on a grid across
    them, for `grid` genes: member i at i/(size-1) of the way), fresh learners
    (member i seeded with `seed + i`), ids `<prefix>m<i>`. `weights` are the population's
    base reward weights (the defaults, or its weights in a league's arena); each member's
    shaping genes override them per component (shaping.effective_weights)."""
    members = {}
    for i in range(spec.size):
        values = {g.name: grid_value(g, i, spec.size) if g.grid else sample_initial(g, rng)
                  for g in spec.all_genes()}
        ppo, shaped = split_values(values)
        member_id = f"{prefix}m{i}"
        learner = Learner(member_id, obs_size, action_names, net=net,
                          config=dataclasses.replace(spec.ppo, **ppo),
                          shaping_weights=shaping.effective_weights(shaped, base=weights),
                          device=device, seed=seed + i)
        member = Member(member_id, spec.name, learner, values)
        member.apply()
        members[member_id] = member
    return members


def credit(members: dict[str, "Member"], fragment) -> tuple[int, int]:
    """Credits each member with the agent-steps it trained on in a gathered fragment (not
    its dropped batches); returns (trained, collected) agent-steps."""
    trained = collected = 0
    for m, batch in fragment.batches.items():
        collected += batch.agent_steps
        if m not in fragment.dropped:
            members[m].trained_steps += batch.agent_steps
            trained += batch.agent_steps
    return trained, collected
