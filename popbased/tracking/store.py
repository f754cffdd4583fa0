"""The one MLflow writer: batched records, buffered to disk while the store does not answer.

Default store: MLflow's embedded SQLite (`mlflow.db` in the working folder);
`--tracking-uri` / MLFLOW_TRACKING_URI point elsewhere (e.g. http://host:5000). A record is
one `log_batch` for one run (the league's, or a member's, created on first use). Every
record goes to `tracking-buffer.jsonl` in the run folder first and leaves it once sent. When
the store does not answer, the records wait there, the user is told once, and the buffer is
retried at the end of every generation (`mark_logged`) and at the end (`close`): nothing is
lost, training never waits for the server, and `popbased tracking sync FOLDER` sends what
still waits at any time. A record the store refuses (a bad value, not an outage) is set aside
in `tracking-rejected.jsonl` so that it cannot hold back the rest.

`tracking.json` notes the store, the experiment, the runs' ids and the status the runs are to
have: RUNNING while a job writes (`start`), then FINISHED, FAILED (with the error as the
`popbased.error` tag and a line of the run's note) or KILLED (`close`). The status is applied
to every run once all records are sent, so a run whose store was away at its end ends when
the records finally arrive. Runs are found again by their `popbased.key` tag (folder::run):
a lost tracking.json, or a kill between creating a run and noting its id, opens no second run.

A run folder stays in the store its tracking.json names: another `--tracking-uri` is refused
unless the command is asked to move it (`--move-to-store`, see `tracking.move`). URIs are
compared as the stores they name (`same_store`: `sqlite:///./mlflow.db` and the absolute path
of that file are one store). An experiment popbased creates in a SQLite store keeps its
artifacts beside the database (`artifact_location`: DIR/mlartifacts/EXPERIMENT for
DIR/mlflow.db), never in `./mlruns` of whatever folder a command runs in; a server keeps them
in its own artifact store. MLflow's and alembic's INFO lines (a new database's tables, its
migrations) stay off the terminal (`quiet`); their warnings and errors do not.

MLflow (and pandas, for tables) is imported where a record is sent, not here: it is heavy,
and the modules that import this one also serve runs and commands that track nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import posixpath
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections import Counter
from pathlib import Path
from typing import Any, Mapping

from popbased.errors import BadInput
from popbased.ppo.checkpoint import write_atomic

BUFFER = "tracking-buffer.jsonl"
RUNS = "tracking.json"
REJECTED = "tracking-rejected.jsonl"
ERROR_TAG, NOTE_TAG, FAILED_MARK = "popbased.error", "mlflow.note.content", "**Failed:**"
ENDED = ("FINISHED", "FAILED", "KILLED")
REFUSED = ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST", "RESOURCE_ALREADY_EXISTS",
           "BAD_REQUEST", "INVALID_STATE", "MALFORMED_REQUEST")
"""MLflow error codes of a store that answered and refused a record (not an outage)."""
KIND_TAG, KIND = "mlflow.experimentKind", "custom_model_development"


class StoreAway(UserWarning):
    """The tracking store did not answer (records wait on disk), or answers again."""


def resolve_uri(uri: str | None) -> str:
    """The tracking URI to use (given, else MLFLOW_TRACKING_URI, else ./mlflow.db), a SQLite
    file's or file store's path made absolute: a folder notes a store that a command run from
    another folder finds again."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path('mlflow.db').resolve()}"
    if not uri.split(":", 1)[0] in ("sqlite", "http", "https", "file", "databricks", "postgresql",
                                    "mysql", "mssql"):
        raise BadInput(f"--tracking-uri {uri!r}: expected sqlite:///PATH, http(s)://HOST:PORT, "
                       f"file:///PATH or a database URI")
    return _local(uri, os.path.abspath)


def _local(uri: str, where) -> str:
    """`uri` with the path of a SQLite file or file store replaced by `where(path)` (the path
    relative to the working folder, `~` expanded); any other URI as given."""
    scheme, _, rest = uri.partition(":")
    if scheme.lower() == "sqlite" and rest.startswith("///") and \
            rest[3:].split("?")[0] not in ("", ":memory:"):
        path, _, query = rest[3:].partition("?")
        return f"sqlite:///{where(os.path.expanduser(path))}" + (f"?{query}" if query else "")
    if scheme.lower() == "file":
        path = urllib.parse.unquote(urllib.parse.urlparse(uri).path)
        return f"file://{where(os.path.expanduser(path))}"
    return uri


def normalised(uri: str) -> str:
    """The store `uri` names, spelled one way: a SQLite file's or a file store's path made
    absolute (relative to the working folder) with its links resolved, a server's scheme and
    host in lower case without a trailing slash; any other URI as given."""
    scheme = uri.partition(":")[0].lower()
    if scheme in ("sqlite", "file"):
        return _local(uri, lambda path: str(Path(path).resolve()))
    if scheme in ("http", "https"):
        parsed = urllib.parse.urlparse(uri)
        return parsed._replace(scheme=scheme, netloc=parsed.netloc.lower(),
                               path=parsed.path.rstrip("/")).geturl()
    return uri


def same_store(a: str | None, b: str | None) -> bool:
    """Whether two tracking URIs name one store (`normalised`)."""
    return a is not None and b is not None and normalised(a) == normalised(b)


def sqlite_file(uri: str) -> Path | None:
    """The database file of a SQLite store's URI (None for any other store, or in memory)."""
    name = normalised(uri)  # a file's path is absolute: sqlite:////PATH
    return Path(name[len("sqlite:///"):].split("?")[0]) if name.startswith("sqlite:////") else None


def artifact_location(uri: str, experiment: str) -> str | None:
    """Where a new experiment of the store at `uri` keeps its artifacts: beside a SQLite
    database, DIR/mlartifacts/EXPERIMENT for DIR/mlflow.db (DIR/NAME-mlartifacts/EXPERIMENT
    for DIR/NAME.db, so that two databases in one folder keep theirs apart). None (the store's
    own choice) elsewhere: a server keeps its artifact store, a file store keeps artifacts in
    itself, another database MLflow's default."""
    database = sqlite_file(uri)
    if database is None:
        return None
    folder = "mlartifacts" if database.stem == "mlflow" else f"{database.stem}-mlartifacts"
    return str(database.parent / folder / (re.sub(r"[^A-Za-z0-9._-]+", "_", experiment) or "_"))


def new_experiment(client, uri: str, name: str, tags: Mapping[str, str] | None = None) -> str:
    """Creates experiment `name` in the store at `uri` (client: its MlflowClient), opened in
    the UI's model-training view, its artifacts where `artifact_location` says; its id."""
    return client.create_experiment(name, artifact_location=artifact_location(uri, name),
                                    tags={KIND_TAG: KIND, **(tags or {})})


def quiet() -> None:
    """MLflow's and alembic's INFO lines (`Creating initial MLflow database tables...`, schema
    migrations) stay off the terminal; warnings and errors still show. A MLFLOW_LOGGING_LEVEL
    the user set decides instead; where none is set, it is set to WARNING (MLflow reads it when
    it is imported, and so do the processes popbased starts)."""
    level = os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING").upper()
    if not isinstance(logging.getLevelName(level), int):
        level = "WARNING"
    logging.getLogger("mlflow").setLevel(level)
    logging.getLogger("alembic").setLevel(level if level in ("ERROR", "CRITICAL") else "WARNING")


def ui_hint(uri: str, experiment_id: str | None) -> str:
    """Where to see an experiment in MLflow's UI, in its model-training view (MLflow 3 opens
    experiments in its GenAI view unless the URL or the sidebar's switch says otherwise)."""
    page = f"#/experiments/{experiment_id}?workflowType=machine_learning" if experiment_id else ""
    if uri.startswith(("http://", "https://")):
        return f"{uri.rstrip('/')}/{page}"
    return f"`mlflow ui --backend-store-uri {uri}`, then http://127.0.0.1:5000/{page}"


def stored_uri(folder: Path) -> str | None:
    """The tracking URI a run folder was started with (resume keeps writing there)."""
    path = Path(folder) / RUNS
    if not path.is_file():
        return None
    try:
        noted = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        noted = None
    if not isinstance(noted, dict):
        raise BadInput(f"{path}: damaged (expected the JSON a tracked run writes: uri, experiment, "
                       f"run_name, runs)")
    return noted.get("uri")


@contextlib.contextmanager
def locked(folder: Path):
    """One writer at a time in a run folder (a running job, `popbased tracking sync`, a move)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def check(uri: str, hint: str = "start it (`mlflow server`), or leave the flag out for the "
                                 "local mlflow.db", flag: str = "--tracking-uri ") -> None:
    """A server URI that does not answer is one clear error before anything starts (and
    MLflow's INFO lines are kept off the terminal from here on: `quiet`)."""
    quiet()
    if not uri.startswith(("http://", "https://")):
        return
    try:
        urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5).read()
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise BadInput(f"{flag}{uri}: the tracking server does not answer ({reason}); {hint}") from None


def _new_database(database: Path) -> None:
    """A new SQLite store begins as a copy of an empty one that MLflow created and migrated once
    per MLflow version (kept in the user's cache, without MLflow's default experiment, which
    MLflow adds to each copy when it opens it, with that store's own artifact root): running
    MLflow's migrations took 3-4 s of every new store's first opening (a run folder's first
    command, each test). Where the cache cannot be written, MLflow migrates the new store itself."""
    import shutil
    import sqlite3

    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient
    from sqlalchemy.exc import SQLAlchemyError

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "popbased"
    template = cache / f"mlflow-{mlflow.__version__}-empty.db"
    try:
        if not template.is_file():
            cache.mkdir(parents=True, exist_ok=True)
            draft = cache / f".{template.name}.{os.getpid()}"
            draft.unlink(missing_ok=True)
            MlflowClient(f"sqlite:///{draft}").search_experiments(max_results=1)
            with contextlib.closing(sqlite3.connect(draft)) as db, db:
                db.execute("DELETE FROM experiments")
            os.replace(draft, template)  # whole or not at all, for processes starting together
        shutil.copyfile(template, database)
    except (OSError, sqlite3.Error, SQLAlchemyError, MlflowException):  # MLflow's own way then
        database.unlink(missing_ok=True)


def client(uri: str, **kwargs):
    """An MlflowClient of `uri` whose SQLite database (if it is one) has its tables: MLflow
    creates and migrates them when a process first opens a database, and two processes starting
    together on a new one (an experiment's parallel steps) raced (`duplicate column name: step`);
    here the first opening in each process holds a lock file beside the database. A database
    that does not exist yet begins as a copy of an empty migrated one (`_new_database`)."""
    from mlflow.tracking import MlflowClient  # deferred (see the module's docstring)

    database = sqlite_file(uri)
    if database is None or not database.parent.is_dir():
        return MlflowClient(uri, **kwargs)
    fd = os.open(database.parent / f".{database.name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if not database.exists() or database.stat().st_size == 0:
            _new_database(database)
        out = MlflowClient(uri, **kwargs)
        out.search_experiments(max_results=1)  # creates the tables; the engine is cached per URI
    finally:
        os.close(fd)
    return out


class Store:
    def __init__(self, uri: str, folder: Path, experiment: str, run_name: str,
                 started_ms: int | None = None):
        """started_ms: when the work began (ms since the epoch): the run ('league') is created
        with it as its start time, so that a run logged after the work shows its real duration."""
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")  # buffer, do not hang
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "15")
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # a line per run
        quiet()
        self.uri, self.folder = uri, folder
        self.client = client(uri)
        self.warned = False
        path = folder / RUNS
        self.runs: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {
            "uri": uri, "experiment": experiment, "run_name": run_name, "experiment_id": None,
            "runs": {}}
        if started_ms is not None:
            self.runs.setdefault("started_ms", int(started_ms))
        self.away = False  # the store did not answer the last try: `log` only buffers
        self.sent: Counter = Counter()  # records this Store sent, per run
        self.rejected = 0  # records the store refused (set aside in tracking-rejected.jsonl)
        moved = not same_store(self.runs.get("uri"), uri)
        if moved:  # another store than the folder's: its runs are found or made there
            self._another_store()
        if moved or not path.is_file():  # `tracking sync` reads the experiment from it
            with self._locked():
                self._write_runs()

    # ------------------------------------------------------------------ records
    def log(self, run: str, metrics: Mapping[str, float] | None = None, step: int = 0,
            params: Mapping[str, Any] | None = None, tags: Mapping[str, Any] | None = None,
            artifacts: list[str] | None = None, time_ms: int | None = None,
            tables: Mapping[str, str] | None = None) -> None:
        """One batch for `run` ('league' or a member id); buffered when the store fails.

        artifacts: local files, each a path or (path, folder in the run's artifacts).
        tables: {artifact file: local CSV} logged as MLflow table artifacts (log_table), which
        the UI shows as tables.

        time_ms: the metrics' timestamp (default: now). A generation's records carry the
        generation's own time, so that logging them again (after a kill, on resume) adds
        nothing: MLflow keeps one copy of a metric with the same key, value, step and time."""
        record = {"run": run, "step": step, "time": int(time.time() * 1000) if time_ms is None else time_ms,
                  "metrics": {k: float(v) for k, v in (metrics or {}).items()
                              if v is not None and v == v},
                  "params": {k: str(v)[:6000] for k, v in (params or {}).items()},
                  "tags": {k: str(v) for k, v in (tags or {}).items()},
                  "artifacts": list(artifacts or []), "tables": dict(tables or {})}
        self._buffer(record)
        if not self.away:  # while it is away, the end of the generation tries again
            self.flush()

    def _buffer(self, record: dict) -> None:
        with self._locked(), (self.folder / BUFFER).open("a") as f:
            f.write(json.dumps(record) + "\n")

    def _locked(self):
        """One writer at a time in the folder (`locked`)."""
        return locked(self.folder)

    def pending(self) -> int:
        path = self.folder / BUFFER
        return len(path.read_text().splitlines()) if path.is_file() else 0

    def flush(self) -> bool:
        """Sends the buffered records in order, then gives the runs the status they wait for;
        True when all of it went out. When the store does not answer, the rest waits for the
        next try (said once); a record it refuses is set aside (`_deliver`)."""
        with self._locked():
            path = self.folder / BUFFER
            self._merge_ids()
            records = []
            for line in path.read_text().splitlines() if path.is_file() else ():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:  # torn by a kill while it was written: that
                    pass  # generation was not marked logged, a resume logs it again
            sent, done = 0, False
            try:
                for record in records:
                    self._deliver(record)
                    sent += 1
                self._settle()
                done = True
            except Exception as err:  # the store is away: keep the rest, say so once
                self.away = True
                if not self.warned:
                    warnings.warn(f"MLflow at {self.uri} did not answer ({type(err).__name__}); "
                                  f"training goes on, records are kept in {path}, tried again "
                                  f"every generation (or send them: `popbased tracking sync "
                                  f"{self.folder}`)", StoreAway, stacklevel=3)
                    self.warned = True
            rest = records[sent:]
            if rest:
                tmp = path.with_suffix(".tmp")
                tmp.write_text("".join(json.dumps(r) + "\n" for r in rest))
                os.replace(tmp, path)
            elif path.is_file():
                path.unlink()
            if done:
                self.away = False
                if self.warned:
                    warnings.warn(f"MLflow at {self.uri} answers again; all buffered records sent",
                                  StoreAway, stacklevel=3)
                    self.warned = False
            return done

    def _deliver(self, record: dict) -> None:
        """Sends one record. A store that answers but does not know the folder's runs (another
        or a new store) gets them found or made again; a parameter a run already has with
        another value (MLflow keeps the first) is noted in the tag `popbased.changed_params`
        instead; a record refused for any other reason goes to tracking-rejected.jsonl."""
        from mlflow.exceptions import MlflowException  # deferred (see the module's docstring)

        record = self._present(record)
        for attempt in range(3):
            try:
                self._send(record)
                self.sent[record["run"]] += 1
                return
            except MlflowException as err:
                code = err.error_code
                if code not in REFUSED:
                    raise  # not answered (or failing): the record waits
                if code == "RESOURCE_DOES_NOT_EXIST" and attempt == 0:
                    self._forget()
                    continue
                if code == "INVALID_PARAMETER_VALUE" and record["params"] and attempt < 2:
                    changed = self._without_changed_params(record)
                    if changed is not None:
                        record = changed
                        continue
                self._reject(record, err)
                return

    def _present(self, record: dict) -> dict:
        """The record without the local files that are gone (they cannot be sent any more)."""
        def exists(artifact) -> bool:
            return Path(artifact if isinstance(artifact, str) else artifact[0]).is_file()

        listed, tabled = record.get("artifacts") or [], record.get("tables") or {}
        artifacts = [a for a in listed if exists(a)]
        tables = {k: v for k, v in tabled.items() if Path(v).is_file()}
        if len(artifacts) == len(listed) and len(tables) == len(tabled):
            return record
        warnings.warn(f"{self.folder}: files named in a tracking record are gone; the record is "
                      f"sent without them", stacklevel=4)
        return {**record, "artifacts": artifacts, "tables": tables}

    def _without_changed_params(self, record: dict) -> dict | None:
        logged = self.client.get_run(self._run_id(record["run"])).data.params
        changed = {k: [logged[k], v] for k, v in record["params"].items()
                   if k in logged and logged[k] != v}
        if not changed:
            return None
        warnings.warn(f"MLflow keeps a run's first parameters: {', '.join(sorted(changed))} of "
                      f"{record['run']} changed since; the new values are in the tag "
                      f"popbased.changed_params", stacklevel=4)
        return {**record, "params": {k: v for k, v in record["params"].items() if k not in changed},
                "tags": {**record["tags"], "popbased.changed_params": json.dumps(changed)[:8000]}}

    def _reject(self, record: dict, err: Exception) -> None:
        first = (str(err).strip().splitlines() or [""])[0][:500]
        with (self.folder / REJECTED).open("a") as f:
            f.write(json.dumps({**record, "error": f"{type(err).__name__}: {first}"}) + "\n")
        self.rejected += 1
        warnings.warn(f"MLflow at {self.uri} refused a record of {record['run']} ({first}); it is "
                      f"kept in {self.folder / REJECTED}, the rest goes on", stacklevel=4)

    def _forget(self) -> None:
        """The store does not know the noted experiment or runs: find or make them again."""
        self.runs.update(experiment_id=None, runs={})
        if self.runs.get("status"):
            self.runs["status"]["applied"] = []

    def _another_store(self) -> None:
        """The folder was tracked elsewhere: nothing noted about that store holds here."""
        old = self.runs
        self.runs = {k: v for k, v in old.items()
                     if k not in ("experiment_id", "runs", "generation", "members_started")}
        self.runs.update(uri=self.uri, experiment_id=None, runs={})
        if self.runs.get("status"):
            self.runs["status"] = {**self.runs["status"], "applied": []}

    def _merge_ids(self) -> None:
        """Ids another writer (a `tracking sync` beside a job) noted since this one read them."""
        path = self.folder / RUNS
        try:
            disk = json.loads(path.read_text()) if path.is_file() else {}
        except json.JSONDecodeError:
            return
        if not same_store(disk.get("uri"), self.uri):
            return
        if self.runs.get("experiment_id") is None:
            self.runs["experiment_id"] = disk.get("experiment_id")
        for name, run_id in (disk.get("runs") or {}).items():
            self.runs["runs"].setdefault(name, run_id)

    def _run_id(self, run: str) -> str:
        runs = self.runs
        if runs["experiment_id"] is None:
            found = self.client.get_experiment_by_name(runs["experiment"])
            runs["experiment_id"] = (found.experiment_id if found else
                                     new_experiment(self.client, self.uri, runs["experiment"]))
            if found is not None and found.tags.get(KIND_TAG) != KIND:
                # opens in the UI's model-training view (runs, charts), not the GenAI one
                self.client.set_experiment_tag(runs["experiment_id"], KIND_TAG, KIND)
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
                start = runs.get("started_ms") if run == "league" else None
                runs["runs"][run] = self.client.create_run(runs["experiment_id"], start_time=start,
                                                             tags=tags).info.run_id
            self._write_runs()
        return runs["runs"][run]

    def _write_runs(self) -> None:
        write_atomic(self.folder / RUNS, json.dumps(self.runs, indent=1).encode())

    @property
    def logged_generation(self) -> int:
        """The last generation whose records were all logged (sent or buffered)."""
        return int(self.runs.get("generation", 0))

    def mark_logged(self, generation: int) -> None:
        """The generation's records are all logged; the buffer is tried again (once a generation
        while the store is away)."""
        self.runs["generation"] = generation
        with self._locked():
            self._write_runs()
        self.flush()

    # ------------------------------------------------------------------ status
    def start(self) -> None:
        """A job writes to the folder's runs from now on: they are RUNNING (runs a resume or a
        relaunch continues are set RUNNING again, their error tag and note line dropped)."""
        self._want("RUNNING")
        self.flush()

    def close(self, status: str = "FINISHED", error: str | None = None) -> bool:
        """Ends every run of the folder with `status` (FINISHED, FAILED or KILLED; `error`: one
        line, tagged `popbased.error` and added to the runs' notes) once all records are sent:
        now, or, when the store is away, when they are (`tracking sync`, a resume). True when
        it is done."""
        assert status in ENDED, status
        self._want(status, (error.strip().splitlines() or [""])[0][:5000] if error else None)
        return self.flush()

    @property
    def unsettled(self) -> str | None:
        """The status the runs wait for, when it is not applied to all of them yet."""
        want = self.runs.get("status")
        if want and (not want.get("done") or set(self.runs["runs"]) - set(want["applied"])):
            return want["status"]
        return None

    def _want(self, status: str, error: str | None = None) -> None:
        self.runs["status"] = {"status": status, "error": error, "time_ms": int(time.time() * 1000),
                               "applied": []}
        with self._locked():
            self._write_runs()

    def _settle(self) -> None:
        """Gives every run the status it waits for (each run once; safe to repeat)."""
        want = self.runs.get("status")
        if not want:
            return
        from mlflow.exceptions import MlflowException  # deferred (see the module's docstring)

        todo = [name for name in self.runs["runs"] if name not in want["applied"]]
        for name in todo:
            run_id = self.runs["runs"][name]
            try:
                if want["status"] == "RUNNING":
                    self._reopen(run_id)
                else:
                    self._end(run_id, want)
            except MlflowException as err:
                if err.error_code not in REFUSED:
                    raise
                warnings.warn(f"MLflow at {self.uri} refused to set run {name} {want['status']} "
                              f"({(str(err).splitlines() or [''])[0][:300]})", stacklevel=4)
            want["applied"].append(name)
        if todo or not want.get("done"):
            want["done"] = True
            self._write_runs()

    def _reopen(self, run_id: str) -> None:
        from mlflow.entities import RunTag  # deferred (see the module's docstring)

        run = self.client.get_run(run_id)
        if run.info.status != "RUNNING":
            self.client.update_run(run_id, status="RUNNING")
        if ERROR_TAG in run.data.tags:
            self.client.delete_tag(run_id, ERROR_TAG)
        note = run.data.tags.get(NOTE_TAG, "")
        if FAILED_MARK in note:
            kept = "\n\n".join(p for p in note.split("\n\n") if not p.startswith(FAILED_MARK))
            if kept:
                self.client.log_batch(run_id, tags=[RunTag(NOTE_TAG, kept)])
            else:
                self.client.delete_tag(run_id, NOTE_TAG)

    def _end(self, run_id: str, want: dict) -> None:
        from mlflow.entities import RunTag  # deferred (see the module's docstring)

        if want.get("error"):
            note = self.client.get_run(run_id).data.tags.get(NOTE_TAG, "")
            line = f"{FAILED_MARK} {want['error']}"
            if line not in note:  # the description (if any) stays, the error is added below
                note = f"{note[:7990 - len(line)]}\n\n{line}" if note else line
            self.client.log_batch(run_id, tags=[RunTag(ERROR_TAG, want["error"]),
                                                RunTag(NOTE_TAG, note[:8000])])
        self.client.set_terminated(run_id, want["status"], end_time=want["time_ms"])

    def _send(self, record: dict) -> None:
        from mlflow.entities import Metric, Param, RunTag  # deferred (see the module's docstring)

        run_id = self._run_id(record["run"])
        metrics = [Metric(k, v, record["time"], record["step"]) for k, v in record["metrics"].items()]
        params = [Param(k, v) for k, v in record["params"].items()]
        tags = [RunTag(k, v) for k, v in record["tags"].items()]
        for i in range(0, max(len(metrics), 1), 1000):  # MLflow's batch limit
            self.client.log_batch(run_id, metrics=metrics[i:i + 1000],
                                  params=params if i == 0 else [], tags=tags if i == 0 else [])
        for artifact in record["artifacts"]:  # a path, or [path, folder in the run's artifacts]
            path, folder = (artifact, None) if isinstance(artifact, str) else artifact
            self.client.log_artifact(run_id, path, folder)
        for artifact_file, csv in (record.get("tables") or {}).items():
            import pandas as pd  # deferred (see the module's docstring)

            folder = posixpath.dirname(artifact_file) or None
            if artifact_file in {f.path for f in self.client.list_artifacts(run_id, folder)}:
                continue  # sent before (log_table would append the rows again)
            self.client.log_table(run_id, data=pd.read_csv(csv), artifact_file=artifact_file)
