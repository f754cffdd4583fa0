"""`popbased tracking sync RUN_FOLDER`: what a run folder's tracking buffer holds, sent now.

A league, PBT run or evaluation whose tracking store was away keeps its records in
RUN_FOLDER/tracking-buffer.jsonl and the status its MLflow runs are to end with in
tracking.json (see `tracking.store`). `sync` sends them, in order, to the store the folder was
tracked in, applies the status (FINISHED, FAILED with its error, KILLED), and trains nothing.
It is safe beside a running job (one writer at a time holds the folder) and safe to repeat (a
record is sent once; a status is applied to each run once). Another store (`tracking_uri`)
is refused unless `move` asks to move the folder's runs there first (see `tracking.move`).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from popbased.errors import BadInput
from popbased.runs.folder import is_run, open_run
from popbased.tracking.move import FLAG, chosen_store, move as move_runs
from popbased.tracking.store import BUFFER, REJECTED, RUNS, Store, check, resolve_uri

EVALUATION = "evaluation.json"  # popbased.evaluation.results.INFO (not imported: it is heavy)


def _saved(folder: Path) -> dict[str, Any] | None:
    path = folder / RUNS
    if not path.is_file():
        return None
    try:
        saved = json.loads(path.read_text())
        assert isinstance(saved, dict) and saved.get("experiment") and saved.get("run_name")
        return saved
    except (json.JSONDecodeError, AssertionError):
        raise BadInput(f"{path}: damaged (expected the JSON a tracked run writes: uri, experiment, "
                       f"run_name, runs)") from None


def _identity(folder: Path) -> tuple[str, str]:
    """(experiment, run name) of a folder whose tracking.json is gone, from its own files."""
    if is_run(folder):
        run = open_run(folder)
        return f"{run.kind}-{run.name}", folder.resolve().name
    if (folder / EVALUATION).is_file():
        try:
            return f"evaluate-{json.loads((folder / EVALUATION).read_text())['substrate']}", \
                folder.resolve().name
        except (json.JSONDecodeError, KeyError, TypeError):
            raise BadInput(f"{folder / EVALUATION}: damaged (no substrate)") from None
    raise BadInput(f"{folder}: has {BUFFER} but neither {RUNS} nor a league, PBT or evaluation "
                   f"run's files to tell its experiment")


def sync(folder: str | Path, tracking_uri: str | None = None, move: bool = False) -> dict[str, Any]:
    """Sends what waits in FOLDER's tracking buffer and applies the runs' pending status, in
    the store its tracking.json names; `tracking_uri` naming another store is refused (BadInput)
    unless `move`, which copies the folder's runs there first (`tracking.move`).

    Returns: folder, uri, moved (what the move copied: tracking.move.move's report, or None),
    experiment, records (sent), runs ({run name: records sent}),
    run_ids ({run name: MLflow run id}), status (the runs' status, or None when no job ever
    set one), error (a FAILED run's), applied (whether every run has it now), waiting
    (records still in the buffer: the store stopped answering midway), rejected (records the store refused, in
    tracking-rejected.jsonl), notes (what else the store said: refused records, changed
    parameters, files gone)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInput(f"{folder}: no such run folder")
    saved = _saved(folder)
    if saved is None and not (folder / BUFFER).is_file():
        raise BadInput(f"{folder}: not a tracked run folder (no {RUNS} or {BUFFER}; leagues, PBT "
                       f"runs and evaluation results folders have them)")
    uri, moving_from = (chosen_store(folder, tracking_uri, move) if saved else
                        (resolve_uri(tracking_uri), None))
    check(uri, f"start it, or move the folder's runs to another store: --tracking-uri URI {FLAG}",
          flag="--tracking-uri " if tracking_uri else f"{folder}'s tracking store ")
    experiment, name = (saved["experiment"], saved["run_name"]) if saved else _identity(folder)
    moved = move_runs(folder, moving_from, uri) if moving_from else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store = Store(uri, folder, experiment, name)
        store.flush()
    want = store.runs.get("status") or {}
    named = {"league": name}  # the folder's own run, under its MLflow name
    return {"folder": str(folder), "uri": uri, "moved": moved, "experiment": experiment,
            "records": sum(store.sent.values()),
            "runs": {named.get(k, k): n for k, n in store.sent.items()},
            "run_ids": {named.get(k, k): v for k, v in store.runs["runs"].items()},
            "status": want.get("status"),
            "error": want.get("error"), "applied": bool(want) and store.unsettled is None,
            "waiting": store.pending(), "rejected": store.rejected,
            "rejected_file": str(folder / REJECTED) if store.rejected else None,
            "notes": [str(w.message) for w in caught if w.category is UserWarning]}
