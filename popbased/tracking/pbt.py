"""What a PBT run (`popbased pbt`) records in MLflow (experiment `pbt-NAME`, opened in the UI's
training view): a run named after its folder, with a description, the population file's
settings as params (`member_fitness`: what PBT ranks members by) and the file as an artifact;
per generation (the step) the best fitness, agent-steps and speed, across arenas the episodes
played in each (`arenas/NAME`), `lineage.jsonl` and
`lineage.png`; and one nested run per member (see `tracking.members`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from popbased.population.reports import GenerationSummary
from popbased.tracking.members import RunTracking, arena_metrics, lineage_artifacts, log_members


def _params(spec, opts: Mapping[str, Any]) -> dict[str, Any]:
    return {"substrate": spec.substrate, "params": json.dumps({k: str(v) for k, v in spec.params.items()}),
            "size": spec.size, "steps_per_generation": spec.steps_per_generation,
            "pbt_mode": spec.pbt.mode, "member_fitness": spec.pbt.fitness,
            "pbt_seating": spec.pbt.seating, "fitness_samples": spec.pbt.samples,
            "pbt_explore": spec.pbt.explore + (f" (radius {spec.pbt.pb2_radius:g})"
                                               if spec.pbt.explore == "pb2" else ""),
            "pbt_inherit": spec.pbt.inherit,
            **({"arenas": json.dumps({a.name: a.record() for a in spec.arenas})} if spec.arenas else {}),
            **{f"option.{k}": v for k, v in opts.items() if k not in ("out", "population")}}


def description(spec) -> str:
    return (f"PBT population **{spec.name}** on `{spec.substrate}`: {spec.size} members, "
            f"{spec.steps_per_generation:,} agent-steps per generation, {spec.pbt.mode} PBT ranked "
            f"by {spec.pbt.fitness!r}.\n\nMetrics (step = generation): `best_fitness`, "
            "`agent_steps`, `agent_steps_per_s`, and across arenas `arenas/NAME` (the training episodes that "
            "ended in each arena in the generation). Artifacts: `lineage.png` (who copied whom, when) "
            "and `lineage.jsonl`.\n\nMembers are the nested runs below this one: `fitness`, "
            "`hp/*` (each evolving hyperparameter and shaping weight, from its initial value at "
            "step 0), `episode/*`, `train/*`.")


class PbtTracking(RunTracking):
    kind = "pbt"

    def __init__(self, uri: str, folder: Path, spec, opts: Mapping[str, Any]):
        super().__init__(uri, folder, spec, _params(spec, opts), description(spec))

    def _generation(self, summary: GenerationSummary) -> None:
        fitness = [m.fitness for m in summary.members.values() if m.fitness is not None]
        metrics = {"agent_steps": summary.agent_steps,
                   "agent_steps_per_s": summary.agent_steps / max(summary.elapsed_s, 1e-9),
                   "best_fitness": max(fitness) if fitness else None}
        metrics.update(arena_metrics(summary))
        artifacts = lineage_artifacts(self.folder, f"lineage of {self.folder.resolve().name}")
        self.store.log("league", metrics, step=summary.generation, time_ms=summary.time_ms,
                       artifacts=artifacts)
        log_members(self.store, self.folder, summary)
