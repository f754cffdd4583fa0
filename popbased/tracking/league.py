"""What a league records in MLflow (experiment `league-NAME`, opened in the UI's training
view):

- the league run (named after the league folder), with a description saying what is where:
  the league file's settings as params (`member_fitness`: what PBT ranks members by), the
  file itself as an artifact; per generation (the step) `score/POPULATION` (the league score:
  0 = the worst, 1 = the best population in each scenario it shared, averaged), agent-steps
  and speed; the generation's payoff table as an MLflow table (`payoff/generation-NNNN.json`)
  with its heatmap and HTML page (`payoff/`, see league/payoff_view.py), `lineage.jsonl`,
  `payoff.jsonl` and the lineage graph `lineage.png`;
- one nested run per member (see `tracking.members`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from popbased.league import payoff_view
from popbased.population.reports import GenerationSummary
from popbased.tracking.members import RunTracking, arena_metrics, lineage_artifacts, log_members


def _params(spec, opts: Mapping[str, Any]) -> dict[str, Any]:
    return {"arena": spec.arena, "arena_params": json.dumps(dict(spec.arena_params)),
            **({"arenas": json.dumps({a.name: a.record() for a in spec.arenas})} if spec.arenas else {}),
            "populations": ",".join(f"{p.name}x{p.size}" for p in spec.populations),
            "steps_per_generation": spec.steps_per_generation, "episode_steps": spec.episode_steps,
            "member_draw": spec.member_draw,
            "modes": ",".join(f"{m.name}:{m.share:.3g}:{m.focal}" for m in spec.modes),
            "sources": ",".join(spec.sources), "matchmaking": f"{spec.train_matchmaking}/"
            f"{spec.evaluate_matchmaking}", "member_fitness": spec.fitness,
            "evaluation_episodes": spec.evaluation_episodes,
            "snapshots": f"every {spec.snapshot_every}, keep {spec.snapshot_keep}",
            **{f"option.{k}": v for k, v in opts.items() if k not in ("out", "league")}}


def description(spec) -> str:
    pops = ", ".join(f"{p.name} ({p.size} members)" for p in spec.populations)
    return (f"League **{spec.name}** on `{spec.arena}`: populations {pops}; "
            f"{spec.steps_per_generation:,} agent-steps per generation; modes "
            f"{', '.join(m.name for m in spec.modes)}; background {', '.join(spec.sources)}.\n\n"
            "Metrics (step = generation): `score/POPULATION` is the league score (each population's "
            "mean focal return in a scenario it shared with another, 0 = the worst there, 1 = the "
            "best, averaged over scenarios); `agent_steps`, `agent_steps_per_s`; across arenas, "
            "`arenas/NAME` (the training episodes that ended in each arena in the generation).\n\n"
            "Artifacts: `payoff/generation-NNNN.json` (the payoff table: focal x background x mode, "
            "per-capita return with 95% CI, Gini, depletion), its heatmap `.png` and page `.html`; "
            "`lineage.png` (who copied whom, when) and `lineage.jsonl`.\n\n"
            f"Members are the nested runs below this one: `fitness` (ranked by "
            f"{spec.fitness!r}), `hp/*` (each evolving hyperparameter and shaping weight, from its "
            "initial value at step 0), `episode/*`, `train/*`.")


class LeagueTracking(RunTracking):
    kind = "league"

    def __init__(self, uri: str, folder: Path, spec, opts: Mapping[str, Any]):
        super().__init__(uri, folder, spec, _params(spec, opts), description(spec))

    def _generation(self, summary: GenerationSummary) -> None:
        g = summary.generation
        metrics = {"agent_steps": summary.agent_steps,
                   "agent_steps_per_s": summary.agent_steps / max(summary.elapsed_s, 1e-9)}
        metrics.update({f"score/{p}": s for p, s in (summary.scores or {}).items()})
        metrics.update(arena_metrics(summary))
        name = self.folder.resolve().name
        table = payoff_view.write(self.folder, g, summary.rows or (), summary.scores or {}, name)
        artifacts = lineage_artifacts(self.folder, f"lineage of {name}")
        artifacts += [str(self.folder / "payoff.jsonl"), [str(table["png"]), payoff_view.FOLDER],
                      [str(table["html"]), payoff_view.FOLDER]]
        self.store.log("league", metrics, step=g, time_ms=summary.time_ms, artifacts=artifacts,
                       tables={f"{payoff_view.FOLDER}/{table['csv'].stem}.json": str(table["csv"])})
        log_members(self.store, self.folder, summary)
