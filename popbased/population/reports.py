"""The messages a run sends up to its watchers: one RoundReport per round, one
GenerationSummary per completed generation.

Each is built once, with all its fields, where it is produced (round reports by the one loop,
popbased.run.loop, that self-play, PBT and leagues share; generation summaries by a run
folder's records, popbased.run.records) and handed on as is: written to its JSON-lines
file (rounds.jsonl / metrics.jsonl, generations.jsonl), then passed
to the `on_round` / `on_generation` callbacks (the CLI's progress display and lines, MLflow
tracking). `to_json()` gives exactly the record of the file (the format older run folders
hold too); `from_json()` reads one back (tracking logs a killed run's last generations on
resume). Fields that only one kind of run has default to None and are left out of its
records.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from popbased.population.lineage import LineageEvent


def _record(message) -> dict[str, Any]:
    """Fields in declaration order (the file's key order); a None that is the field's default
    (a field this kind of run does not have) is left out."""
    out = {}
    for f in fields(message):
        value = getattr(message, f.name)
        if value is None and f.default is None:
            continue
        out[f.name] = value
    return out


def _lists(value: Any) -> Any:
    """Tuples (immutable inside a message) as the lists of its JSON record."""
    if isinstance(value, tuple):
        return [_lists(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _lists(v) for k, v in value.items()}
    return value


@dataclass(frozen=True, kw_only=True)
class RoundReport:
    """One round: progress, speed, recent episodes' metrics, learner statistics."""

    round: int | None = None
    """Self-play (`popbased train`): the round's number, from 1."""
    generation: int | None = None
    """PBT and leagues: the last completed generation (this round belongs to the next)."""
    phase: str | None = None
    """PBT and leagues: 'train', or 'eval' (a league's evaluation rounds: nobody learns)."""
    agent_steps: int
    """Agent-steps collected so far (the whole run's, across resumes)."""
    total_steps: int
    """The agent-steps the run trains for."""
    elapsed_s: float
    """Seconds since the run (or this resume) started."""
    agent_steps_per_s: float
    """Collection speed since the run (or this resume) started."""
    round_agent_steps: int | None = None
    """Self-play: agent-steps one round collects."""
    episodes: int
    """Episodes ended so far."""
    metrics: Mapping[str, float]
    """Running means over the last episodes (per_capita_return, gini, depleted_fraction, ...)."""
    learners: Mapping[str, Mapping[str, float]]
    """member -> the statistics of its update this round (losses, entropy, KL, ...)."""
    dropped: tuple[str, ...] | None = None
    """PBT and leagues: members whose batch was not learned from this round."""
    timing: Mapping[str, float] | None = None
    """Self-play: seconds waiting for fragments, learning, stepping envs, in inference."""
    worker_restarts: int
    """Rollout workers restarted so far."""
    flags: Mapping[str, tuple[str, ...]]
    """member -> the updates it skipped so far (non-finite values), for members with any."""
    arenas: Mapping[str, int] | None = None
    """Training across arenas: the episodes of this round's fragment that ended in each arena."""

    def to_json(self) -> dict[str, Any]:
        return _lists(_record(self))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "RoundReport":
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        if values.get("dropped") is not None:
            values["dropped"] = tuple(values["dropped"])
        values["flags"] = {m: tuple(f) for m, f in (data.get("flags") or {}).items()}
        return cls(**values)


@dataclass(frozen=True)
class MemberSummary:
    """One member at the end of a generation."""

    population: str | None
    """Its population (None in the records of PBT runs from before it was written)."""
    fitness: float | None
    """Its fitness (None before it has any)."""
    objectives: Mapping[str, float] | None
    """Its fitness objectives (return rate, sustainability, equality, ...)."""
    values: Mapping[str, float]
    """Its hyperparameters and shaping weights."""
    parent: str | None
    """The member it was copied from last (None: never copied)."""
    birth_generation: int | None
    """The generation its current weights began in."""
    agent_steps: int
    """Agent-steps its learner has trained on."""
    stats: Mapping[str, float] = field(default_factory=dict)
    """The generation's means of its learner and episode statistics (train/..., episode/...)."""
    trained_values: Mapping[str, float] | None = None
    """The hyperparameters and shaping weights it trained with in this generation (the ones
    that produced its fitness; `values` are those after the generation's PBT step). None in
    records from before it was written."""

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if out["trained_values"] is None:
            del out["trained_values"]
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "MemberSummary":
        return cls(population=data.get("population"), fitness=data.get("fitness"),
                   objectives=data.get("objectives"), values=dict(data.get("values") or {}),
                   parent=data.get("parent"), birth_generation=data.get("birth_generation"),
                   agent_steps=int(data.get("agent_steps", 0)), stats=dict(data.get("stats") or {}),
                   trained_values=data.get("trained_values"))


@dataclass(frozen=True, kw_only=True)
class GenerationSummary:
    """One completed generation: its members, its PBT decisions, and (leagues) its payoff."""

    generation: int
    """The generation that completed (from 1)."""
    agent_steps: int
    """Agent-steps collected by its end (the whole run's)."""
    time_ms: int | None = None
    """When it completed (ms since the epoch): the time its MLflow metrics carry, so logging
    it again on resume adds nothing."""
    elapsed_s: float
    """Seconds since the run (or this resume) started."""
    best: str | None
    """The member with the highest fitness (None before any has one)."""
    scores: Mapping[str, float] | None = None
    """Leagues: population -> league score (0 = worst, 1 = best per scenario)."""
    rows: tuple[Mapping[str, Any], ...] | None = None
    """Leagues: the payoff table's rows (focal, background, mode, episodes, return, CI, ...)."""
    snapshots: tuple[str, ...] | None = None
    """Leagues: the frozen snapshots in the background pool after it."""
    members: Mapping[str, MemberSummary]
    """member -> its summary."""
    events: tuple[LineageEvent, ...]
    """Its lineage events (exploit, explore; not the keeps)."""
    inner_loop_s: float | None = None
    """Seconds inside the PPO inner loops (collect + update) so far."""
    worker_restarts: int | None = None
    """Rollout workers restarted so far."""
    timing: Mapping[str, float] | None = None
    """generation_s (the whole generation), end_of_generation_s (its PBT step, checkpoints
    and records)."""
    arenas: Mapping[str, int] | None = None
    """Runs across arenas: the training episodes that ended in each arena during the generation
    (the sum of its training rounds' `arenas`; a league's evaluation rounds not counted)."""

    def to_json(self) -> dict[str, Any]:
        out = _record(self)
        out["members"] = {m: s.to_json() for m, s in self.members.items()}
        out["events"] = [dataclasses.asdict(e) for e in self.events]
        return _lists(out)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "GenerationSummary":
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["members"] = {m: MemberSummary.from_json(s) for m, s in data["members"].items()}
        values["events"] = tuple(LineageEvent(**e) for e in data.get("events") or ())
        for name in ("rows", "snapshots"):
            if values.get(name) is not None:
                values[name] = tuple(values[name])
        values.setdefault("elapsed_s", 0.0)
        values.setdefault("best", None)
        return cls(**values)
