"""An evaluation's results folder: `evaluation.json` (what was played), the tables (CSV and
Parquet), the figures, and a record in MLflow (experiment `evaluate-SUBSTRATE`: settings as
params, per policy x point metrics, every file as an artifact)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any, Mapping

from popbased.errors import BadInput
from popbased.evaluation import plots, tables

INFO = "evaluation.json"


def check_out(output: str | Path, force: bool) -> Path:
    out = Path(output)
    taken = out.is_file() or (out.is_dir() and any(out.iterdir()))
    if taken and not force:
        raise BadInput(f"-o {output} exists; add --force to replace it")
    return out


def write(out: Path, info: Mapping[str, Any], results: list[dict[str, Any]]) -> dict[str, Any]:
    """Writes everything into `out` (replacing it); returns the tables."""
    staging = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    made = tables.frames(results, list(info["axes"]))
    tables.write(made, staging)
    plots.draw_all(made, staging, info["title"])
    (staging / INFO).write_text(json.dumps(dict(info), indent=1))
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    staging.rename(out)
    return made


def read(folder: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    folder = Path(folder)
    if not (folder / INFO).is_file():
        raise BadInput(f"{folder}: not an evaluation results folder (no {INFO}; make one with "
                       f"`popbased evaluate run` or `evaluate sweep`)")
    try:
        info = json.loads((folder / INFO).read_text())
        return info, tables.read(folder)
    except (json.JSONDecodeError, OSError, ValueError) as err:
        raise BadInput(f"{folder}: damaged evaluation results ({type(err).__name__}: {err})") from None


def _metric_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_./ -]", "_", text)


def track(out: Path, info: Mapping[str, Any], made: Mapping[str, Any], uri: str) -> str:
    from popbased.tracking.store import Store

    store = Store(uri, out, f"evaluate-{info['substrate']}", out.resolve().name)
    metrics = {}
    for row in made["summary"].to_dict("records"):
        prefix = _metric_name(f"{row['policy']}/{row['point']}")
        for key in ("per_capita_return", "ci_low", "ci_high", "gini", "depleted_fraction",
                    "proxy_depleted_fraction", "depletion_step", "zaps_fired_per_capita"):
            metrics[f"{prefix}/{key}"] = row[key]
    params = {"substrate": info["substrate"], "policies": ",".join(info["policies"]),
              "axes": json.dumps(info["axes"]), "fixed": json.dumps(info["fixed"]),
              "episodes": info["episodes"], "seed": info["seed"], "max_steps": info["max_steps"]}
    store.log("league", metrics, params=params, tags={"popbased.kind": "evaluation",
                                                      "popbased.folder": str(out.resolve())},
              artifacts=[str(p) for p in sorted(out.iterdir()) if p.is_file() and p.name != "tracking.json"])
    store.close()
    return store.runs["runs"]["league"]
