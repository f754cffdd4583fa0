"""What every tracked run (league or PBT) records about its members: one nested MLflow run
per member, with tags for member id, population, birth generation, parent, donors, the run
folder and its current checkpoint (file and SHA-256: referenced, not copied; `popbased
export champion` uploads the champions' checkpoints), and per generation its fitness,
objectives, hyperparameters and shaping weights (`hp/...`), agent-steps, the mean of its
learner statistics (`train/policy_loss`, `train/value_loss`, `train/entropy`, ...) and its
episode statistics (`episode/return`, `episode/zaps_fired`, `episode/zap_hits`,
`episode/gini`, `episode/depleted`, ...)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from popbased.population.reports import GenerationSummary
from popbased.runs.folder import open_run
from popbased.tracking.store import Store


class RunTracking:
    """The records of one run folder: its own MLflow run (created with `params`, the spec file
    as an artifact) and, through `log_members`, one nested run per member."""

    kind = "run"

    def __init__(self, uri: str, folder: Path, spec, params: Mapping[str, Any]):
        self.folder = folder
        self.store = Store(uri, folder, f"{self.kind}-{spec.name}", folder.resolve().name)
        self.store.start()  # RUNNING, also the runs a resume or a relaunch continues
        if "league" not in self.store.runs["runs"]:  # the run's own record (key kept from v1)
            self.store.log("league", params=params,
                           tags={"popbased.folder": str(folder.resolve()), "popbased.kind": self.kind},
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


def log_members(store: Store, folder: Path, summary: GenerationSummary) -> None:
    run = open_run(folder)
    g = summary.generation
    for m, info in summary.members.items():
        record = run.member(m)
        metrics = {"fitness": info.fitness, "agent_steps": info.agent_steps}
        metrics.update({f"objective/{k}": v for k, v in (info.objectives or {}).items()})
        metrics.update({f"hp/{k}": v for k, v in info.values.items()})
        metrics.update(info.stats)
        store.log(m, metrics, step=g, time_ms=summary.time_ms, tags={
            "popbased.member": m, "popbased.population": record.population,
            "popbased.variant": record.variant, "popbased.birth_generation": record.birth_generation,
            "popbased.parent": record.parent or "", "popbased.donors": json.dumps(list(record.donors)),
            "popbased.folder": str(folder.resolve()),
            "popbased.checkpoint": str(record.checkpoint.resolve()),
            "popbased.checkpoint_sha256": record.sha256 or ""})


def lineage_artifacts(folder: Path, title: str) -> list[str]:
    """lineage.jsonl and a fresh lineage.png of the run (the league/PBT run's artifacts)."""
    from popbased.population.family_plot import draw
    from popbased.population.lineage import LineageLog

    picture = draw(LineageLog(folder / "lineage.jsonl").events, folder / "lineage.png", title)
    return [str(folder / "lineage.jsonl"), str(picture)]
