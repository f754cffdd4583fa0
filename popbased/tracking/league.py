"""What a league records in MLflow (experiment `league-NAME`):

- the league run (named after the league folder): the league file's settings as params,
  the file itself as an artifact; per generation the league scores, every payoff cell's
  focal return, agent-steps and speed, and `lineage.jsonl`, `payoff.jsonl` and the lineage
  graph `lineage.png` as artifacts;
- one nested run per member: tags for member id, population, birth generation, parent and
  donors, and its checkpoint (file and SHA-256: referenced, not copied); per generation its
  fitness, objectives, hyperparameters and shaping weights (`hp/...`) and agent-steps.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from popbased.tracking.store import Store


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


class LeagueTracking:
    def __init__(self, uri: str, folder: Path, spec, opts: Mapping[str, Any]):
        self.folder = folder
        self.store = Store(uri, folder, f"league-{spec.name}", folder.resolve().name)
        if "league" not in self.store.runs["runs"]:
            self.store.log("league", params=_params(spec, opts),
                           tags={"popbased.folder": str(folder.resolve()), "popbased.kind": "league"},
                           artifacts=[str(Path(spec.source).resolve())])

    def generation(self, summary: Mapping[str, Any]) -> None:
        g = summary["generation"]
        state = json.loads((self.folder / "state.json").read_text())
        records = {r["id"]: r for rs in state["members"].values() for r in rs}
        metrics = {"agent_steps": summary["agent_steps"],
                   "agent_steps_per_s": summary["agent_steps"] / max(summary["elapsed_s"], 1e-9)}
        metrics.update({f"score/{p}": s for p, s in summary["scores"].items()})
        for r in summary["rows"]:
            cell = f"payoff/{r['focal']}/{r['background'].replace('@', '_at_')}/{r['mode']}"
            metrics[f"{cell}/return"] = r["return"]
            metrics[f"{cell}/episodes"] = r["episodes"]
        from popbased.population.family_plot import draw
        from popbased.population.lineage import LineageLog

        picture = draw(LineageLog(self.folder / "lineage.jsonl").events, self.folder / "lineage.png",
                       f"lineage of {self.folder.resolve().name}")
        self.store.log("league", metrics, step=g, artifacts=[str(self.folder / "lineage.jsonl"),
                                                             str(self.folder / "payoff.jsonl"),
                                                             str(picture)])
        for m, info in summary["members"].items():
            record = records[m]
            ckpt = state["checkpoints"][m]
            member_metrics = {"fitness": info["fitness"], "agent_steps": info["agent_steps"]}
            member_metrics.update({f"objective/{k}": v for k, v in (info["objectives"] or {}).items()})
            member_metrics.update({f"hp/{k}": v for k, v in info["values"].items()})
            self.store.log(m, member_metrics, step=g, tags={
                "popbased.member": m, "popbased.population": info["population"],
                "popbased.birth_generation": record["birth_generation"],
                "popbased.parent": record["parent"] or "", "popbased.donors": json.dumps(record["donors"]),
                "popbased.checkpoint": str((self.folder / ckpt["file"]).resolve()),
                "popbased.checkpoint_sha256": ckpt["sha256"]})

    def close(self, interrupted: bool = False) -> None:
        self.store.close("KILLED" if interrupted else "FINISHED")
