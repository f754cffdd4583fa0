"""An evaluation's results folder and its MLflow run.

The folder: `evaluation.json` (what was played, and each policy's source), the tables (CSV
and Parquet; `points.csv` maps each step to its sweep point), the figures, and `report.html`
(the same as `popbased evaluate report`).

The MLflow run (experiment `evaluate-SUBSTRATE`, named after the folder, created when the
evaluation ends with the evaluation's own start time, ended FINISHED, or FAILED with the error
in the tag `popbased.error`) holds:

- params: the settings (substrate, policies, axes, fixed parameters, episodes, seed, ...);
- metrics, as curves over the sweep: `POLICY/MEASURE` (e.g. `no_zap_m1_champion/per_capita_return`,
  the policy's label with every run of other characters than letters, digits, `_`, `.` and
  `-` made one `_`; scenario evaluations name their metrics the same way), one value per point, the point's index as the step. Points are in grid order:
  every combination of the axes, the last axis changing fastest (one axis: its values in the
  order given). `point/AXIS` holds each numeric axis's value at each step, so a one-axis sweep
  is one curve per measure with its x values beside it, a two-axis grid one flattened curve
  whose `point/A` and `point/B` say where each step lies, and an evaluation without axes one
  value at step 0. In a matrix (`evaluate matrix`), `FOCAL/MODE/MEASURE` at step = the index of
  the background policy in the evaluation's policy list. `points.json` (an MLflow table) maps
  every step to its point;
- `summary.json`: the summary table as an MLflow table artifact (the UI shows it as a table);
- tags naming each policy's source (`popbased.policy.K.FIELD`: ref, label, checkpoint and its
  SHA-256, export folder, run folder, member, generation, the MLflow runs of that member and
  of its league or PBT run, the model version; a population's members as
  `popbased.policy.K.members.I.FIELD`) and a description linking them; a model version
  that is an MLflow 3 logged model is also the run's model input;
- every file of the results folder as an artifact (tables, figures, report, evaluation.json).
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path
from typing import Any, Mapping

from popbased.errors import BadInput
from popbased.evaluation import plots, report, tables
from popbased.runs.claim import claim
from popbased.tracking.store import Store, stored_uri

INFO = "evaluation.json"
POINTS = "points.csv"
REPORT = "report.html"
MEASURES = ("per_capita_return", "ci_low", "ci_high", "gini", "depleted_fraction", "proxy_depleted_fraction",
            "depletion_step", "apples_eaten_per_capita", "zaps_fired_per_capita", "zap_hits_per_capita",
            "episodes", "focal_return", "focal_ci_low", "focal_ci_high", "background_return")
KEEP_OUT = ("tracking.json", "tracking-buffer.jsonl", "tracking-buffer.tmp", "tracking-rejected.jsonl")


def check_out(output: str | Path, force: bool) -> Path:
    """The results folder, free: a folder holding anything is refused, or with `force` moved
    aside to OUTPUT.old-TIME (`popbased.runs.claim`)."""
    return claim(output, "evaluation", force=force, option="-o")


def write(out: Path, info: Mapping[str, Any], results: list[dict[str, Any]]) -> dict[str, Any]:
    """Writes everything into `out` (replacing it), the report included; returns the tables."""
    staging = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    made = tables.frames(results, list(info["axes"]))
    tables.write(made, staging)
    steps(made["summary"], info).to_csv(staging / POINTS, index=False)
    plots.draw_all(made, staging, info["title"])
    (staging / INFO).write_text(json.dumps(dict(info), indent=1))
    report.write(staging, info, made, staging / REPORT)
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


# ---------------------------------------------------------------------- metric names and steps
def metric_name(label: str) -> str:
    """A policy label as a metric prefix: `no_zap/m1 (champion)` -> `no_zap_m1_champion`."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_") or "policy"


def metric_names(labels: list[str]) -> dict[str, str]:
    """Each label's metric prefix, distinct (a clash gets _2, _3, ...)."""
    out: dict[str, str] = {}
    for label in labels:
        name, k = metric_name(label), 2
        while name in out.values():
            name, k = f"{metric_name(label)}_{k}", k + 1
        out[label] = name
    return out


def _is_matrix(summary) -> bool:
    return "focal_return" in summary.columns


def steps(summary, info: Mapping[str, Any]):
    """The step of every point: [step, point, AXIS...] (a matrix: [step, background])."""
    import pandas as pd  # deferred: heavy, only where tables are made (not for `read`, `describe`)

    if _is_matrix(summary):
        return pd.DataFrame({"step": range(len(info["policies"])), "background": info["policies"]})
    points = list(dict.fromkeys(summary["point"]))
    rows = summary.drop_duplicates("point").set_index("point").reindex(points)
    frame = pd.DataFrame({"step": range(len(points)), "point": points})
    for axis in info["axes"]:
        frame[axis] = rows[axis].to_numpy()
    return frame


def curves(summary, info: Mapping[str, Any]) -> dict[int, dict[str, float]]:
    """{step: {metric: value}}: the summary as one curve per policy (x mode) and measure."""
    names = metric_names(list(info["policies"]))
    out: dict[int, dict[str, float]] = {}
    if _is_matrix(summary):
        for row in summary.to_dict("records"):
            step = list(info["policies"]).index(row["background"])
            prefix = f"{names[row['policy']]}/{row['mode']}"
            out.setdefault(step, {}).update(_measures(row, prefix))
        return out
    table = steps(summary, info)
    step_of = dict(zip(table["point"], table["step"]))
    for row in table.to_dict("records"):
        for axis in info["axes"]:
            if isinstance(row[axis], (int, float)) and not isinstance(row[axis], bool):
                out.setdefault(int(row["step"]), {})[f"point/{axis}"] = float(row[axis])
    for row in summary.to_dict("records"):
        out.setdefault(int(step_of[row["point"]]), {}).update(_measures(row, names[row["policy"]]))
    return out


def _measures(row: Mapping[str, Any], prefix: str) -> dict[str, float]:
    out = {}
    for key in MEASURES:
        value = row.get(key)
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            out[f"{prefix}/{key}"] = float(value)
    return out


# ---------------------------------------------------------------------- MLflow
SOURCE_FIELDS = ("ref", "kind", "checkpoint", "sha256", "export", "format", "run_folder", "run_kind",
                 "run_name", "member", "population", "generation", "member_mlflow_id", "run_mlflow_id",
                 "tracking_uri", "model", "model_alias", "model_id", "seats")
MEMBER_FIELDS = ("member", "checkpoint", "sha256")
"""A population's members, tagged popbased.policy.K.members.I.FIELD."""


def source_tags(sources: list[Mapping[str, Any]]) -> dict[str, str]:
    tags = {}
    for k, source in enumerate(sources):
        tags[f"popbased.policy.{k}.label"] = source.get("label", "")
        for field in SOURCE_FIELDS:
            if source.get(field) is not None:
                tags[f"popbased.policy.{k}.{field}"] = str(source[field])
        for i, member in enumerate(source.get("members") or []):
            for field in MEMBER_FIELDS:
                if member.get(field) is not None:
                    tags[f"popbased.policy.{k}.members.{i}.{field}"] = str(member[field])
    return tags


def describe(info: Mapping[str, Any], uri: str) -> str:
    """The run's description (Markdown): what was played, each policy's source with links to the
    MLflow runs and model versions it came from (where they are in this store)."""
    axes = ", ".join(f"{k} = {', '.join(v)}" for k, v in info["axes"].items()) or "no sweep"
    lines = [f"**{info['title']}**: {info['episodes']} episodes per policy and point on {info['substrate']} "
             f"({axes}; engine {info.get('env', 'meltingpot')}). Metrics `POLICY/MEASURE` are curves over "
             f"the points (step = point index, see `points.json`); `summary.json` is the summary table.", "",
             "Evaluated:"]
    for source in info.get("sources") or [{"label": p} for p in info["policies"]]:
        lines.append(f"- **{source.get('label')}**: {report.describe_source(source, uri)}")
    return "\n".join(lines)


def _release(store, experiment: str, key: str, started_ms: int | None) -> None:
    """An older run of the same results folder (replaced with --force) keeps its records but no
    longer answers to the folder's key: this evaluation gets a run of its own."""
    try:
        found = store.client.get_experiment_by_name(experiment)
        if found is None:
            return
        for run in store.client.search_runs([found.experiment_id], filter_string=f"tags.`popbased.key` = '{key}'"):
            store.client.set_tag(run.info.run_id, "popbased.key", f"{key}::replaced-{started_ms}")
    except Exception:  # noqa: BLE001 - the store is away: the records wait in the buffer anyway
        pass


def track(out: Path, info: Mapping[str, Any], made: Mapping[str, Any], uri: str,
          started_ms: int | None = None) -> tuple[str | None, int]:
    """Logs the evaluation (after every file is written) into one MLflow run, started at
    `started_ms`, ended FINISHED (FAILED, with the error as `popbased.error`, if logging itself
    fails). Returns (run id or None, records still waiting in the folder's buffer)."""
    experiment = f"evaluate-{info['substrate']}"
    store = Store(uri, out, experiment, out.resolve().name, started_ms=started_ms)
    _release(store, experiment, f"{out.resolve()}::league", started_ms)
    try:
        params = {"substrate": info["substrate"], "policies": ", ".join(info["policies"]),
                  "policy_refs": " ".join(info.get("policy_refs") or []), "axes": json.dumps(info["axes"]),
                  "fixed": json.dumps(info["fixed"]), "modes": json.dumps(info.get("modes")),
                  "episodes": info["episodes"], "seed": info["seed"], "max_steps": info["max_steps"],
                  "env": info.get("env", "meltingpot"),
                  "step": "background policy index" if info.get("modes") else "sweep point index (points.json)"}
        tags = {"popbased.kind": "evaluation", "popbased.folder": str(out.resolve()),
                "popbased.substrate": info["substrate"], "mlflow.note.content": describe(info, uri),
                **source_tags(info.get("sources") or [])}
        store.log("league", params=params, tags=tags)
        for step, metrics in sorted(curves(made["summary"], info).items()):
            store.log("league", metrics, step=step)
        files = [str(p) for p in sorted(out.iterdir()) if p.is_file() and p.name not in KEEP_OUT]
        store.log("league", artifacts=files,
                  tables={"summary.json": str(out / "summary.csv"), "points.json": str(out / POINTS)})
    except BaseException as err:
        store.log("league", tags={"popbased.error": f"{type(err).__name__}: {err}".splitlines()[0][:5000]})
        store.close("KILLED" if isinstance(err, KeyboardInterrupt) else "FAILED")
        raise
    store.close("FINISHED")
    run_id = store.runs["runs"].get("league")
    _link_models(store, run_id, info.get("sources") or [])
    return run_id, store.pending()


def _link_models(store, run_id: str | None, sources: list[Mapping[str, Any]]) -> None:
    """Registered versions that are MLflow 3 logged models become the run's model inputs (the
    UI links them both ways). Best effort: the tags name them anyway."""
    models = list(dict.fromkeys(s["model_id"] for s in sources if s.get("model_id")))
    if not run_id or not models:
        return
    try:
        from mlflow.entities import LoggedModelInput  # deferred: heavy, only when tracked

        store.client.log_inputs(run_id, models=[LoggedModelInput(m) for m in models])
    except Exception:  # noqa: BLE001 - the store is away or does not know logged models
        pass


def log_late(folder: Path, files: list[Path]) -> tuple[str | None, int] | None:
    """Files written into a tracked results folder's story after its run ended (a report):
    logged to the same run. None where the folder was not tracked."""
    uri = stored_uri(folder)
    if uri is None:
        return None
    tracked = json.loads((folder / "tracking.json").read_text())
    store = Store(uri, folder, tracked["experiment"], tracked["run_name"])
    store.log("league", artifacts=[str(p.resolve()) for p in files])
    return store.runs["runs"].get("league"), store.pending()
