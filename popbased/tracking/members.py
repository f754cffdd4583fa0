"""What every tracked run (league or PBT) records about its members: one nested MLflow run
per member, with tags for member id, population, birth generation, parent, donors, the run
folder and its current checkpoint (file and SHA-256: referenced, not copied; `popbased
export champion` uploads the champions' checkpoints), and per generation its fitness,
objectives, the hyperparameters and shaping weights it trained with (`hp/...`, from their
initial values at step 0), whether PBT copied or mutated it (`pbt/...`), agent-steps, the mean of its
learner statistics (`train/policy_loss`, `train/value_loss`, `train/entropy`, ...) and its
episode statistics (`episode/return`, `episode/zaps_fired`, `episode/zap_hits`,
`episode/gini`, `episode/depleted`, ...)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from popbased.population.family_plot import draw
from popbased.population.lineage import LineageLog
from popbased.population.reports import GenerationSummary
from popbased.runs.folder import open_run
from popbased.tracking.store import Store


class RunTracking:
    """The records of one run folder: its own MLflow run (created with `params`, the spec file
    as an artifact) and, through `log_members`, one nested run per member."""

    kind = "run"

    def __init__(self, uri: str, folder: Path, spec, params: Mapping[str, Any],
                 description: str = ""):
        self.folder = folder
        self.store = Store(uri, folder, f"{self.kind}-{spec.name}", folder.resolve().name)
        self.store.start()  # RUNNING, also the runs a resume or a relaunch continues
        if "league" not in self.store.runs["runs"]:  # the run's own record (key kept from v1)
            self.store.log("league", params=params,
                           tags={"popbased.folder": str(folder.resolve()), "popbased.kind": self.kind,
                                 "mlflow.note.content": description},
                           artifacts=[str(Path(spec.source).resolve())])

    def generation(self, summary: GenerationSummary) -> None:
        """Logs one completed generation (idempotent: see Store.log's time_ms)."""
        self._generation(summary)
        self.store.mark_logged(summary.generation)

    def _generation(self, summary: GenerationSummary) -> None:
        raise NotImplementedError

    def catch_up(self, records: list[Mapping[str, Any]], completed: int) -> None:
        """On resume: logs the completed generations (`records`: generations.jsonl's) that a
        killed run had not logged yet (all of them when the folder was tracked in another store)."""
        for record in records:
            if self.store.logged_generation < record["generation"] <= completed:
                self.generation(GenerationSummary.from_json(record))

    def close(self, interrupted: bool = False, error: str | None = None) -> None:
        """Ends the run and every member run: FAILED with `error` (one line: the tag
        `popbased.error` and a line of each run's note), KILLED when `interrupted` (Ctrl-C,
        SIGTERM), else FINISHED; when the store is away, once the records reach it."""
        self.store.close("FAILED" if error is not None else "KILLED" if interrupted else "FINISHED",
                         error=error)


def arena_metrics(summary: GenerationSummary) -> dict[str, float]:
    """A run across arenas: `arenas/NAME`, the training episodes that ended in arena NAME during
    the generation (its draws: how the worlds were split between the arenas, as played)."""
    return {f"arenas/{name}": float(n) for name, n in (summary.arenas or {}).items()}


def log_members(store: Store, folder: Path, summary: GenerationSummary) -> None:
    """Each member's generation: at step g its fitness and the genes (`hp/...`) it trained with
    in generation g, i.e. the values that produced that fitness (a copy or mutation at the end of
    generation g shows from step g+1); `pbt/copied` and `pbt/explored` (1 at the generation whose
    PBT step copied / mutated it). A member's first record adds its initial genes at step 0 and
    its fixed facts as params (population, variant, initial gene values)."""
    run = open_run(folder)
    g = summary.generation
    kinds = {(e.member, e.kind) for e in summary.events}
    started = store.runs.setdefault("members_started", [])  # saved with the logged generation
    # the lineage is read only while some member still needs its starting point
    initial = _initial_values(folder) if set(summary.members) - set(started) else {}
    for m, info in summary.members.items():
        record = run.member(m)
        trained = info.trained_values if info.trained_values is not None else info.values
        metrics = {"fitness": info.fitness, "agent_steps": info.agent_steps,
                   "pbt/copied": float((m, "exploit") in kinds or (m, "adopt") in kinds),
                   "pbt/explored": float((m, "explore") in kinds)}
        metrics.update({f"objective/{k}": v for k, v in (info.objectives or {}).items()})
        metrics.update({f"hp/{k}": v for k, v in trained.items()})
        metrics.update(info.stats)
        params = None
        if m not in started:  # its first record: the starting point
            started.append(m)
            start = initial.get(m, trained if g == 1 else {})
            store.log(m, {f"hp/{k}": v for k, v in start.items()}, step=0,
                      time_ms=None if summary.time_ms is None else summary.time_ms - 1)
            params = {"member": m, "population": record.population, "variant": record.variant,
                      **{f"initial.{k}": v for k, v in start.items()}}
        store.log(m, metrics, step=g, time_ms=summary.time_ms, params=params, tags={
            "popbased.member": m, "popbased.population": record.population,
            "popbased.variant": record.variant, "popbased.birth_generation": record.birth_generation,
            "popbased.parent": record.parent or "", "popbased.donors": json.dumps(list(record.donors)),
            "popbased.folder": str(folder.resolve()),
            "popbased.checkpoint": str(record.checkpoint.resolve()),
            "popbased.checkpoint_sha256": record.sha256 or "",
            "mlflow.note.content": _member_note(m, record, info, g)})


def _initial_values(folder: Path) -> dict[str, dict[str, float]]:
    """member -> its genes at generation 0 (the lineage's init events)."""
    path = folder / "lineage.jsonl"
    if not path.is_file():
        return {}
    return {e.member: dict(e.values) for e in LineageLog(path).events
            if e.kind == "init" and e.generation == 0}


def _member_note(m: str, record, info, g: int) -> str:
    parent = f"; its weights were last copied from {record.parent}" if record.parent else ""
    return (f"Member **{m}** of population {record.population} (variant {record.variant}), "
            f"born at generation {record.birth_generation}{parent}. At generation {g}: fitness "
            f"{info.fitness if info.fitness is None else round(info.fitness, 4)}.\n\n"
            "Metrics (step = generation): `fitness`, `objective/*`, `hp/*` (the hyperparameters "
            "and shaping weights it trained with in that generation; step 0: its initial values), "
            "`pbt/copied` / `pbt/explored` (1 when that generation's PBT step copied a better "
            "member's weights and genes, or its genes only with `inherit = \"genes\"` / mutated "
            "its genes), `episode/*` (its episodes' unshaped "
            "statistics), `train/*` (its PPO updates). The tags `popbased.checkpoint*` name its "
            "current checkpoint.")


def lineage_artifacts(folder: Path, title: str) -> list[str]:
    """lineage.jsonl and a fresh lineage.png of the run (the league/PBT run's artifacts)."""
    picture = draw(LineageLog(folder / "lineage.jsonl").events, folder / "lineage.png", title)
    return [str(folder / "lineage.jsonl"), str(picture)]
