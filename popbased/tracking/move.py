"""A run folder's MLflow runs stay in their store, or move to another one when asked.

A run folder is tracked in the store its tracking.json names. A command that writes to its
runs (`tracking sync`, `resume`, and its old spellings `pbt --resume` and `league resume`)
given another store with `--tracking-uri` is refused (`chosen_store`), unless
`--move-to-store` asks for the move:
then `move` copies what the old store holds of the folder, its own run and its members'
runs (params, tags, every metric's history with its steps and timestamps, the runs' status,
start and end, and their artifacts), into an experiment of the same name in the new store,
and tracking.json names the new store from then on. The old store keeps its copy. A move
cut short is finished by the next one: the runs it made are found again by their
`popbased.key` tag, and MLflow keeps one copy of a metric value logged twice.

    uri, old = chosen_store(folder, "sqlite:///elsewhere/mlflow.db", move=True)
    if old:
        report = move(folder, old, uri)   # runs, metrics, artifacts copied

MLflow is imported where runs are copied (see popbased.tracking.store's docstring).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from popbased.errors import BadInput
from popbased.ppo.checkpoint import write_atomic
from popbased.tracking import store

FLAG = "--move-to-store"
PARENT = "mlflow.parentRunId"


def chosen_store(folder: str | Path, tracking_uri: str | None,
                 move: bool = False) -> tuple[str, str | None]:
    """(the URI to track FOLDER in, the URI of the store its runs move from, or None).

    `tracking_uri` (None: the folder's own store) naming another store than FOLDER's
    tracking.json is refused, one line naming both and FLAG, unless `move`; with `move`, the
    old store must answer where the folder has runs in it (nothing is copied from a store that
    never got any). Same store spelled otherwise: the folder's own spelling is kept."""
    folder = Path(folder)
    stored = store.stored_uri(folder)
    if move and not tracking_uri:
        raise BadInput(f"{FLAG} needs --tracking-uri URI: the store to move {folder}'s MLflow runs to")
    uri = store.resolve_uri(tracking_uri or stored)
    if stored is None or store.same_store(uri, stored):
        return stored or uri, None
    if not move:
        raise BadInput(f"--tracking-uri {uri}: {folder} is tracked in {stored} (its {store.RUNS}); "
                       f"add {FLAG} to copy its MLflow runs into {uri} and track it there from "
                       f"now on, or leave --tracking-uri out")
    _reachable(folder, stored)
    return uri, stored


def _noted(folder: Path) -> dict[str, Any]:
    noted = json.loads((folder / store.RUNS).read_text())
    if not (isinstance(noted, dict) and noted.get("experiment") and isinstance(noted.get("runs", {}), dict)):
        raise BadInput(f"{folder / store.RUNS}: damaged (expected the JSON a tracked run writes: "
                       f"uri, experiment, run_name, runs)")
    return noted


def _reachable(folder: Path, old: str) -> None:
    """The old store answers, where it holds runs of the folder (else one line, exit 2)."""
    if not _noted(folder).get("runs"):
        return  # nothing reached it: the records wait in the buffer, nothing to copy
    flag = f"{FLAG}: {folder}'s tracking store "
    hint = (f"its runs cannot be copied from it: make it reachable and try again (or remove "
            f"{folder / store.RUNS} to leave them there and track the folder afresh)")
    database = store.sqlite_file(old)
    if old.startswith(("http://", "https://")):
        store.check(old, hint, flag=flag)
    elif database is not None and not database.is_file():
        raise BadInput(f"{flag}{old} cannot be reached (no file {database}); {hint}")
    elif old.startswith("file:") and not Path(store.normalised(old)[len("file://"):]).is_dir():
        raise BadInput(f"{flag}{old} cannot be reached (no such folder); {hint}")


def move(folder: str | Path, old: str, new: str) -> dict[str, Any]:
    """Copies FOLDER's runs from the store at `old` into the one at `new`, then notes `new` in
    its tracking.json (under the folder's lock: one writer at a time).

    Returns: from, to, experiment, runs (copied: the folder's and its members'), metrics
    (values copied), artifacts (files copied), missing (runs tracking.json names that the old
    store no longer has: they are made again in the new store as records arrive)."""
    folder = Path(folder)
    with store.locked(folder):
        noted = _noted(folder)
        report = {"from": old, "to": new, "experiment": noted["experiment"], "runs": 0,
                  "metrics": 0, "artifacts": 0, "missing": []}
        if store.same_store(noted.get("uri"), new):
            return report  # moved already (by another command meanwhile)
        runs = noted.get("runs") or {}
        ids: dict[str, str] = {}
        experiment_id = None
        if runs:
            store.quiet()
            from mlflow.tracking import MlflowClient  # deferred (see the module's docstring)

            source, target = MlflowClient(old), MlflowClient(new)
            experiment_id = _experiment(source, target, new, noted)
            copied: dict[str, str] = {}  # old run id -> new
            for name in sorted(runs, key=lambda n: n != "league"):  # parents first
                run = _run(source, runs[name])
                if run is None:
                    report["missing"].append(name)
                    continue
                copied[run.info.run_id] = ids[name] = _copy(source, target, run, experiment_id,
                                                            copied, report)
        noted.update(uri=new, experiment_id=experiment_id, runs=ids)
        if noted.get("status"):  # a run gone from the old store waits for its status again
            noted["status"]["applied"] = [r for r in noted["status"].get("applied", []) if r in ids]
        write_atomic(folder / store.RUNS, json.dumps(noted, indent=1).encode())
    return report


def _run(source, run_id: str):
    from mlflow.exceptions import MlflowException  # deferred (see the module's docstring)

    try:
        return source.get_run(run_id)
    except MlflowException as err:
        if err.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise


def _experiment(source, target, uri: str, noted: dict[str, Any]) -> str:
    """The new store's experiment of the folder's name (made, with the old one's tags, when it
    has none)."""
    name = noted["experiment"]
    found = target.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            target.restore_experiment(found.experiment_id)
        return found.experiment_id
    old = source.get_experiment_by_name(name)
    return store.new_experiment(target, uri, name, dict(old.tags) if old else None)


def _copy(source, target, run, experiment_id: str, copied: dict[str, str], report: dict) -> str:
    """Copies one run into `experiment_id` of `target` (`copied`: the old ids of runs copied
    before -> their new ids, for a member's parent); its new id."""
    from mlflow.entities import Metric, Param, RunTag  # deferred (see the module's docstring)

    tags = dict(run.data.tags)
    if PARENT in tags:
        parent = copied.get(tags.pop(PARENT))
        if parent:
            tags[PARENT] = parent
    key = tags.get("popbased.key")
    found = target.search_runs([experiment_id], max_results=1, filter_string=(
        f"tags.`popbased.key` = '{key}'")) if key and "'" not in key else []
    if found:  # made by a move cut short
        new_id, have = found[0].info.run_id, found[0].data.params
    else:
        new_id = target.create_run(experiment_id, start_time=run.info.start_time,
                                   run_name=run.info.run_name).info.run_id
        have = {}
    params = [Param(k, v) for k, v in run.data.params.items() if k not in have]
    tag_list = [RunTag(k, v) for k, v in tags.items()]
    for i in range(0, max(len(params), len(tag_list)), 100):  # MLflow's batch limits
        target.log_batch(new_id, params=params[i:i + 100], tags=tag_list[i:i + 100])
    metrics = [Metric(m.key, m.value, m.timestamp, m.step) for key in run.data.metrics
               for m in source.get_metric_history(run.info.run_id, key)]
    for i in range(0, len(metrics), 1000):
        target.log_batch(new_id, metrics=metrics[i:i + 1000])
    report["metrics"] += len(metrics)
    report["artifacts"] += _artifacts(source, target, run.info.run_id, new_id)
    status = run.info.status
    if status in store.ENDED:
        target.set_terminated(new_id, status, end_time=run.info.end_time)
    elif status != "RUNNING":
        target.update_run(new_id, status=status)
    report["runs"] += 1
    return new_id


def _artifacts(source, target, old_id: str, new_id: str) -> int:
    """Copies a run's artifacts; how many files."""
    if not source.list_artifacts(old_id):
        return 0
    with tempfile.TemporaryDirectory(prefix="popbased-move-") as tmp:
        local = Path(source.download_artifacts(old_id, "", tmp))
        target.log_artifacts(new_id, str(local))
        return sum(1 for p in local.rglob("*") if p.is_file())
