"""The study file (`populations/study/study.toml`): which runs train, with which share of the
budget, and which of their champions meet which of the study's evaluations.

A run is either a PBT population (`population = "open.toml"`, a population file beside the
study file) or plain PPO self-play with fixed shaping (`substrate` + `shaping`, one member:
the ablation). `--total-steps` agent-steps are split evenly over the runs; a PBT run spends its
share as generations x size x steps_per_generation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from popbased.errors import BadInput
from popbased.population import spec as population_spec
from popbased.ppo import shaping as shaping_rules
from popbased.substrates import resolve

EVALUATIONS = ("home", "scarcity", "private_property", "matrix", "regrowth_sweep", "cooldown_sweep")
"""home: each champion alone on open; scarcity / private_property: on those variants;
matrix: focal x background, resident and visitor; the two sweeps of the study."""


@dataclass(frozen=True)
class RunPlan:
    name: str
    kind: str
    """pbt or ppo."""
    population: Path | None = None
    """The population file (pbt)."""
    substrate: str = "open"
    shaping: Mapping[str, float] = field(default_factory=dict)
    """Fixed shaping weights (ppo), given to `popbased train --shaping`: each overrides the
    default weight of its component (reward 1) or adds one; 0 drops one."""
    size: int = 1
    """Members (pbt: the population's size; ppo: 1)."""


@dataclass(frozen=True)
class StudyPlan:
    name: str
    source: Path
    generations: int
    episodes: int
    runs: tuple[RunPlan, ...]
    evaluation: Mapping[str, tuple[str, ...]]

    def run(self, name: str) -> RunPlan:
        return next(r for r in self.runs if r.name == name)

    def share(self, budget: int) -> int:
        """Agent-steps each run trains for."""
        return budget // len(self.runs)

    def steps_per_generation(self, run: RunPlan, budget: int, generations: int) -> int:
        return max(1, self.share(budget) // (generations * run.size))


def _run(name: str, raw: Mapping[str, Any], folder: Path, where: str) -> RunPlan:
    if "population" in raw:
        extra = sorted(set(raw) - {"population"})
        if extra:
            raise BadInput(f"{where}: {extra[0]!r} does not go with population (a PBT run "
                           f"takes its settings from the population file)")
        path = folder / str(raw["population"])
        pop = population_spec.load(path)
        if pop.name != name:  # `export champion` names the champion's folder by population
            raise BadInput(f"{where}: the run is named {name!r} but its population "
                           f"{pop.name!r}; allowed: runs named after their population")
        if pop.env not in ("fast", "auto"):
            raise BadInput(f"{path}: population.env={pop.env!r}; the study trains on the fast env")
        return RunPlan(name, "pbt", population=path, substrate=pop.substrate, size=pop.size)
    unknown = sorted(set(raw) - {"substrate", "shaping"})
    if unknown:
        raise BadInput(f"{where}: unknown key {unknown[0]!r}; allowed: population, or "
                       f"substrate and shaping")
    substrate = str(raw.get("substrate", "open"))
    try:
        resolve(substrate, {})
    except BadInput as err:
        raise BadInput(f"{where}: {err}") from None
    weights = shaping_rules.validate(raw.get("shaping", {}), where=f"{where} shaping")
    return RunPlan(name, "ppo", substrate=substrate, shaping=weights, size=1)


def load(path: str | Path) -> StudyPlan:
    path, raw = population_spec.read_toml(path, "study")
    study = raw.get("study", {})
    runs_raw = raw.get("runs", {})
    if not runs_raw:
        raise BadInput(f"{path}: [runs] is empty; a study needs at least one run")
    runs = tuple(_run(n, r, path.parent, f"{path}: runs.{n}") for n, r in runs_raw.items())
    names = {r.name for r in runs}
    evaluation: dict[str, tuple[str, ...]] = {}
    for key, value in raw.get("evaluation", {}).items():
        if key not in EVALUATIONS:
            raise BadInput(f"{path}: evaluation.{key}: unknown; allowed: {', '.join(EVALUATIONS)}")
        missing = [v for v in value if v not in names]
        if missing:
            raise BadInput(f"{path}: evaluation.{key} names run {missing[0]!r}, which [runs] "
                           f"lacks; allowed: {', '.join(sorted(names))}")
        evaluation[key] = tuple(value)
    for key, default in (("generations", 8), ("episodes", 15)):
        value = study.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise BadInput(f"{path}: study.{key}={value!r}: must be an integer >= 1")
    return StudyPlan(name=str(study.get("name", path.stem)), source=path,
                     generations=int(study.get("generations", 8)),
                     episodes=int(study.get("episodes", 15)), runs=runs, evaluation=evaluation)
