"""What a league records in MLflow (experiment `league-NAME`):

- the league run (named after the league folder): the league file's settings as params,
  the file itself as an artifact; per generation the league scores, every payoff cell's
  focal return, agent-steps and speed, and `lineage.jsonl`, `payoff.jsonl` and the lineage
  graph `lineage.png` as artifacts;
- one nested run per member (see `tracking.members`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from popbased.population.reports import GenerationSummary
from popbased.tracking.members import RunTracking, lineage_artifacts, log_members


def _params(spec, opts: Mapping[str, Any]) -> dict[str, Any]:
    return {"arena": spec.arena, "arena_params": json.dumps(dict(spec.arena_params)),
            "populations": ",".join(f"{p.name}x{p.size}" for p in spec.populations),
            "steps_per_generation": spec.steps_per_generation, "episode_steps": spec.episode_steps,
            "member_draw": spec.member_draw,
            "modes": ",".join(f"{m.name}:{m.share:.3g}:{m.focal}" for m in spec.modes),
            "sources": ",".join(spec.sources), "matchmaking": f"{spec.train_matchmaking}/"
            f"{spec.evaluate_matchmaking}", "fitness": spec.fitness,
            "evaluation_episodes": spec.evaluation_episodes,
            "snapshots": f"every {spec.snapshot_every}, keep {spec.snapshot_keep}",
            **{f"option.{k}": v for k, v in opts.items() if k not in ("out", "league")}}


class LeagueTracking(RunTracking):
    kind = "league"

    def __init__(self, uri: str, folder: Path, spec, opts: Mapping[str, Any]):
        super().__init__(uri, folder, spec, _params(spec, opts))

    def _generation(self, summary: GenerationSummary) -> None:
        g = summary.generation
        metrics = {"agent_steps": summary.agent_steps,
                   "agent_steps_per_s": summary.agent_steps / max(summary.elapsed_s, 1e-9)}
        metrics.update({f"score/{p}": s for p, s in (summary.scores or {}).items()})
        for r in summary.rows or ():
            cell = f"payoff/{r['focal']}/{r['background'].replace('@', '_at_')}/{r['mode']}"
            metrics[f"{cell}/return"] = r["return"]
            metrics[f"{cell}/episodes"] = r["episodes"]
        artifacts = lineage_artifacts(self.folder, f"lineage of {self.folder.resolve().name}")
        self.store.log("league", metrics, step=g, time_ms=summary.time_ms,
                       artifacts=artifacts + [str(self.folder / "payoff.jsonl")])
        log_members(self.store, self.folder, summary)
