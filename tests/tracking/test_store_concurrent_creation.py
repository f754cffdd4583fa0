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
