"""Reading a finished (or stopped) PBT run or league from its folder: its members, their
fitness and checkpoints, the arena they played, and the MLflow runs that tracked it.

A league folder's state.json has a `league` entry; a PBT folder's a `spec` entry. Member ids
are `POP/mK` in leagues and `mK` in PBT runs (whose one population is the spec's name).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

from popbased import textio
from popbased.errors import BadInput

STATE = "state.json"
LINEAGE = "lineage.jsonl"


@dataclasses.dataclass(frozen=True)
class MemberInfo:
    id: str
    population: str
    variant: str
    checkpoint: Path
    sha256: str | None
    fitness: float | None
    objectives: dict[str, Any]
    values: dict[str, float]
    birth_generation: int
    parent: str | None
    donors: tuple[str, ...]
    agent_steps: int


@dataclasses.dataclass(frozen=True)
class RunFolder:
    path: Path
    kind: str  # "league" | "pbt"
    name: str
    generation: int
    arena: str
    arena_params: dict[str, str]
    members: tuple[MemberInfo, ...]
    scores: dict[str, float]

    @property
    def populations(self) -> list[str]:
        return list(dict.fromkeys(m.population for m in self.members))

    def member(self, member_id: str) -> MemberInfo:
        for m in self.members:
            if m.id == member_id:
                return m
        raise BadInput(f"{self.path}: no member {member_id!r}; members: "
                       f"{', '.join(m.id for m in self.members)}")

    def tracking(self) -> dict[str, Any] | None:
        path = self.path / "tracking.json"
        return json.loads(path.read_text()) if path.is_file() else None


def is_run(path: Path) -> bool:
    return (path / STATE).is_file() and (path / LINEAGE).is_file()


def _number(value) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def open_run(path: str | Path) -> RunFolder:
    path = Path(path)
    if not is_run(path):
        raise BadInput(f"{path}: not a league or PBT run folder (no {STATE} and {LINEAGE})")
    try:
        state = json.loads((path / STATE).read_text())
    except json.JSONDecodeError as err:
        raise BadInput(f"{path / STATE}: not valid JSON ({err})") from None
    if "league" in state:
        league = state["league"]
        kind, name, arena, params = "league", league["name"], league["arena"], league["arena_params"]
        records = [r for rs in state["members"].values() for r in rs]
        population_of = lambda r: r["id"].split("/")[0]  # noqa: E731
    elif "spec" in state:
        spec = state["spec"]
        kind, name, arena, params = "pbt", spec["name"], spec["substrate"], spec["params"]
        records = list(state["members"])
        population_of = lambda r: spec["name"]  # noqa: E731
    else:
        raise BadInput(f"{path / STATE}: neither a league nor a PBT state")
    members = []
    for r in records:
        ckpt = state["checkpoints"][r["id"]]
        file, digest = (ckpt["file"], ckpt.get("sha256")) if isinstance(ckpt, dict) else (ckpt, None)
        members.append(MemberInfo(
            id=r["id"], population=population_of(r), variant=r["variant"], checkpoint=path / file,
            sha256=digest, fitness=_number(r.get("fitness")), objectives=dict(r.get("objectives") or {}),
            values=dict(r["values"]), birth_generation=int(r["birth_generation"]), parent=r["parent"],
            donors=tuple(r.get("donors") or ()), agent_steps=int(r.get("agent_steps", 0))))
    return RunFolder(path=path, kind=kind, name=name, generation=int(state["generation"]), arena=arena,
                     arena_params={k: str(v) for k, v in params.items()}, members=tuple(members),
                     scores=_last_scores(path))


def _last_scores(path: Path) -> dict[str, float]:
    """League scores of the last completed generation ({} for PBT runs or a torn log)."""
    try:
        records = textio.read(path / "generations.jsonl")
    except json.JSONDecodeError:
        return {}
    scores = records[-1].get("scores") if records else None
    return {k: v for k, v in (scores or {}).items() if v is not None}
