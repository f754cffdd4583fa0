"""A new SQLite store opened by several processes at once (an experiment's parallel steps on a
fresh folder): MLflow creates and migrates its tables on first opening, and two processes doing
so together failed with `duplicate column name: step`. popbased.tracking.store.client makes the
first opening in each process one at a time."""

import multiprocessing

from popbased.tracking import store


def _open(uri, barrier, out):
    barrier.wait()
    try:
        client = store.client(uri)
        client.create_experiment(f"e{multiprocessing.current_process().pid}")
        out.put("ok")
    except Exception as err:  # noqa: BLE001 (the test reports it)
        out.put(f"{type(err).__name__}: {err}"[:300])


def test_processes_opening_a_new_sqlite_store_together_all_succeed(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    ctx = multiprocessing.get_context("spawn")
    n = 4
    barrier, out = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_open, args=(uri, barrier, out)) for _ in range(n)]
    for p in procs:
        p.start()
    results = [out.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(60)
    assert results == ["ok"] * n
    assert len(store.client(uri).search_experiments()) == n + 1  # theirs and Default


def _schema(path):
    import sqlite3

    with sqlite3.connect(path) as db:  # a table's lines as a set: MLflow's migrations do not
        rows = db.execute("SELECT type, name, sql FROM sqlite_master").fetchall()  # keep an order
    return sorted((kind, name, sorted(line.strip().rstrip(",") for line in (sql or "").splitlines()))
                  for kind, name, sql in rows)


def test_a_new_store_is_a_copy_of_one_mlflow_migrated_once_and_the_same_as_mlflows_own(
        tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = store.client(f"sqlite:///{tmp_path / 'a.db'}")
    [template] = (tmp_path / "cache" / "popbased").glob("mlflow-*-empty.db")
    made = template.stat().st_mtime_ns
    second = store.client(f"sqlite:///{tmp_path / 'b.db'}")
    assert template.stat().st_mtime_ns == made  # migrated once
    own = MlflowClient(f"sqlite:///{tmp_path / 'own.db'}")  # MLflow migrating a new store itself
    default = [(e.experiment_id, e.name, e.artifact_location) for e in own.search_experiments()]
    for path, client in (("a.db", first), ("b.db", second)):
        assert _schema(tmp_path / path) == _schema(tmp_path / "own.db")
        assert [(e.experiment_id, e.name, e.artifact_location) for e in client.search_experiments()] == default
        client.create_experiment("x")
        assert [e.experiment_id for e in client.search_experiments()] == ["1", "0"]


def test_a_cache_that_cannot_be_written_leaves_the_migration_to_mlflow(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a-file"))
    (tmp_path / "a-file").write_text("")
    client = store.client(f"sqlite:///{tmp_path / 'a.db'}")
    client.create_experiment("x")
    assert {e.name for e in client.search_experiments()} == {"x", "Default"}
