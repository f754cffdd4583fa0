"""The one MLflow writer: batched records, buffered to disk while the store does not answer.

Default store: MLflow's embedded SQLite (`mlflow.db` in the working folder);
`--tracking-uri` / MLFLOW_TRACKING_URI point elsewhere (e.g. http://host:5000). A record is
one `log_batch` for one run (the league's, or a member's, created on first use). When a
write fails, the record (and every later one) goes to `tracking-buffer.jsonl` in the run
folder, the user is told once, and each later write first retries the buffer: nothing is
lost, training never waits for the server.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path
from typing import Any, Mapping

from popbased.errors import BadInput

BUFFER = "tracking-buffer.jsonl"
RUNS = "tracking.json"


def resolve_uri(uri: str | None) -> str:
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path('mlflow.db').resolve()}"
    if not uri.split(":", 1)[0] in ("sqlite", "http", "https", "file", "databricks", "postgresql",
                                    "mysql", "mssql"):
        raise BadInput(f"--tracking-uri {uri!r}: expected sqlite:///PATH, http(s)://HOST:PORT, "
                       f"file:///PATH or a database URI")
    return uri


def stored_uri(folder: Path) -> str | None:
    """The tracking URI a run folder was started with (resume keeps writing there)."""
    path = Path(folder) / RUNS
    return json.loads(path.read_text()).get("uri") if path.is_file() else None


def check(uri: str) -> None:
    """A server URI that does not answer is one clear error before anything starts."""
    if not uri.startswith(("http://", "https://")):
        return
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5).read()
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise BadInput(f"--tracking-uri {uri}: the tracking server does not answer ({reason}); start "
                       f"it (`mlflow server`), or leave the flag out for the local mlflow.db") from None


class Store:
    def __init__(self, uri: str, folder: Path, experiment: str, run_name: str):
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")  # buffer, do not hang
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "15")
        from mlflow.tracking import MlflowClient

        self.uri, self.folder = uri, folder
        self.client = MlflowClient(uri)
        self.warned = False
        path = folder / RUNS
        self.runs: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {
            "uri": uri, "experiment": experiment, "run_name": run_name, "experiment_id": None,
            "runs": {}}

    # ------------------------------------------------------------------ records
    def log(self, run: str, metrics: Mapping[str, float] | None = None, step: int = 0,
            params: Mapping[str, Any] | None = None, tags: Mapping[str, Any] | None = None,
            artifacts: list[str] | None = None, time_ms: int | None = None) -> None:
        """One batch for `run` ('league' or a member id); buffered when the store fails.

        time_ms: the metrics' timestamp (default: now). A generation's records carry the
        generation's own time, so that logging them again (after a kill, on resume) adds
        nothing: MLflow keeps one copy of a metric with the same key, value, step and time."""
        record = {"run": run, "step": step, "time": int(time.time() * 1000) if time_ms is None else time_ms,
                  "metrics": {k: float(v) for k, v in (metrics or {}).items()
                              if v is not None and v == v},
                  "params": {k: str(v)[:6000] for k, v in (params or {}).items()},
                  "tags": {k: str(v) for k, v in (tags or {}).items()},
                  "artifacts": list(artifacts or [])}
        self._buffer(record)
        self.flush()

    def _buffer(self, record: dict) -> None:
        with (self.folder / BUFFER).open("a") as f:
            f.write(json.dumps(record) + "\n")

    def pending(self) -> int:
        path = self.folder / BUFFER
        return len(path.read_text().splitlines()) if path.is_file() else 0

    def flush(self) -> bool:
        """Sends the buffered records in order; True when all went out."""
        path = self.folder / BUFFER
        if not path.is_file():
            return True
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        sent = 0
        try:
            for record in records:
                self._send(record)
                sent += 1
        except Exception as err:  # the store is away: keep the rest, say so once
            if not self.warned:
                warnings.warn(f"MLflow at {self.uri} did not answer ({type(err).__name__}); training "
                              f"goes on, records are kept in {path} and sent when it is back",
                              stacklevel=3)
                self.warned = True
        rest = records[sent:]
        if rest:
            tmp = path.with_suffix(".tmp")
            tmp.write_text("".join(json.dumps(r) + "\n" for r in rest))
            os.replace(tmp, path)
            return False
        path.unlink()
        if self.warned:
            warnings.warn(f"MLflow at {self.uri} answers again; all buffered records sent", stacklevel=3)
            self.warned = False
        return True

    def _run_id(self, run: str) -> str:
        runs = self.runs
        if runs["experiment_id"] is None:
            found = self.client.get_experiment_by_name(runs["experiment"])
            runs["experiment_id"] = (found.experiment_id if found else
                                     self.client.create_experiment(runs["experiment"]))
        if run not in runs["runs"]:
            key = f"{self.folder.resolve()}::{run}"
            found = self.client.search_runs([runs["experiment_id"]], max_results=1,
                                            filter_string=f"tags.`popbased.key` = '{key}'")
            if found:  # created by a run killed before it could note the id
                runs["runs"][run] = found[0].info.run_id
            else:
                tags = {"mlflow.runName": runs["run_name"] if run == "league" else run,
                        "popbased.key": key}
                if run != "league":
                    tags["mlflow.parentRunId"] = self._run_id("league")
                runs["runs"][run] = self.client.create_run(runs["experiment_id"], tags=tags).info.run_id
            self._write_runs()
        return runs["runs"][run]

    def _write_runs(self) -> None:
        from popbased.ppo.checkpoint import write_atomic

        write_atomic(self.folder / RUNS, json.dumps(self.runs, indent=1).encode())

    @property
    def logged_generation(self) -> int:
        """The last generation whose records were all logged (sent or buffered)."""
        return int(self.runs.get("generation", 0))

    def mark_logged(self, generation: int) -> None:
        self.runs["generation"] = generation
        self._write_runs()

    def reopen(self) -> None:
        """A resumed run: its MLflow runs are RUNNING again (nothing new is created)."""
        try:
            for run_id in self.runs["runs"].values():
                self.client.update_run(run_id, status="RUNNING")
        except Exception:  # the store is away: the records wait in the buffer anyway
            pass

    def _send(self, record: dict) -> None:
        from mlflow.entities import Metric, Param, RunTag

        run_id = self._run_id(record["run"])
        metrics = [Metric(k, v, record["time"], record["step"]) for k, v in record["metrics"].items()]
        params = [Param(k, v) for k, v in record["params"].items()]
        tags = [RunTag(k, v) for k, v in record["tags"].items()]
        for i in range(0, max(len(metrics), 1), 1000):  # MLflow's batch limit
            self.client.log_batch(run_id, metrics=metrics[i:i + 1000],
                                  params=params if i == 0 else [], tags=tags if i == 0 else [])
        for artifact in record["artifacts"]:
            self.client.log_artifact(run_id, artifact)

    def close(self, status: str = "FINISHED") -> None:
        if self.flush():
            for run_id in self.runs["runs"].values():
                self.client.set_terminated(run_id, status)
