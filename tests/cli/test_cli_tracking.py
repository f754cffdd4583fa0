"""`popbased tracking sync RUN_FOLDER`: the records a folder kept while its store was away
reach MLflow (here: another store, named with --tracking-uri and --move-to-store, since the
folder's own never got a record) and its runs end with the status they waited for; bad
folders and URIs are one line and exit 2. (A real league and a real `mlflow server` going away
and coming back: tests/tracking/test_store.py; moving runs between stores:
tests/tracking/test_move.py.)"""

import json
import socket

import pytest

from popbased.tracking import store

from conftest import invoke


def _dead_uri() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def _one_line(result, text):
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and text in lines[0], result.stderr


def test_tracking_sync_sends_what_waits_and_ends_the_runs(tmp_path):
    from mlflow.tracking import MlflowClient

    folder = tmp_path / "sweep"
    folder.mkdir()
    (folder / "evaluation.json").write_text('{"substrate": "open"}')
    dead = _dead_uri()
    writer = store.Store(dead, folder, "evaluate-open", "sweep")
    with pytest.warns(UserWarning, match="did not answer"):
        writer.log("league", {"per_capita_return": 30.0}, params={"episodes": 2},
                   artifacts=[str(folder / "evaluation.json")])
    writer.log("league", {"per_capita_return": 31.0}, step=1)
    assert not writer.close("KILLED")  # Ctrl-C while the store was away: KILLED waits
    assert writer.pending() == 2 and writer.unsettled == "KILLED"
    _one_line(invoke("tracking", "sync", folder),
              f"{folder}'s tracking store {dead}: the tracking server does not answer")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    _one_line(invoke("tracking", "sync", folder, "--tracking-uri", uri),  # another store: asked for
              f"--tracking-uri {uri}: {folder} is tracked in {dead} (its tracking.json); add "
              f"--move-to-store")
    assert not (tmp_path / "mlflow.db").exists()
    sent = invoke("tracking", "sync", folder, "--tracking-uri", uri, "--move-to-store")
    assert sent.exit_code == 0, sent.output
    assert sent.stdout.splitlines() == [
        f"moved {folder}'s MLflow runs from {dead} to {uri}: no runs were there to copy; it is "
        f"tracked in {uri} from now on",
        f"sent 2 records to MLflow at {uri}, experiment evaluate-open: sweep 2",
        "its 1 runs ended KILLED"]
    assert not (folder / store.BUFFER).exists()
    client = MlflowClient(uri)
    [run] = client.search_runs([client.get_experiment_by_name("evaluate-open").experiment_id])
    assert run.info.run_name == "sweep" and run.info.status == "KILLED" and run.info.end_time
    assert run.data.params == {"episodes": "2"}
    history = client.get_metric_history(run.info.run_id, "per_capita_return")
    assert [(m.step, m.value) for m in history] == [(0, 30.0), (1, 31.0)]
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["evaluation.json"]
    # the folder now names that store; a second sync sends nothing and opens no second run
    assert json.loads((folder / store.RUNS).read_text())["uri"] == uri
    again = invoke("tracking", "sync", folder, "--json")
    assert again.exit_code == 0, again.output
    report = json.loads(again.stdout)
    assert report["records"] == 0 and report["status"] == "KILLED" and report["applied"]
    assert report["run_ids"] == {"sweep": run.info.run_id}
    assert len(client.search_runs([run.info.experiment_id])) == 1


def test_tracking_sync_of_a_bad_folder_or_uri_is_one_line_exit_2(tmp_path):
    _one_line(invoke("tracking", "sync", tmp_path / "nowhere"), "no such run folder")
    _one_line(invoke("tracking", "sync", tmp_path), "not a tracked run folder (no tracking.json")
    (tmp_path / store.RUNS).write_text("{torn")
    _one_line(invoke("tracking", "sync", tmp_path), "tracking.json: damaged")
    (tmp_path / store.RUNS).write_text(json.dumps({"uri": "sqlite:///x.db", "experiment": "e",
                                                   "run_name": "r", "runs": {}}))
    _one_line(invoke("tracking", "sync", tmp_path, "--tracking-uri", "gopher://x"),
              "expected sqlite:///PATH")
    dead = _dead_uri()
    _one_line(invoke("tracking", "sync", tmp_path, "--tracking-uri", dead, "--move-to-store"),
              f"--tracking-uri {dead}: the tracking server does not answer")
    _one_line(invoke("tracking", "sync", tmp_path, "--move-to-store"),
              "--move-to-store needs --tracking-uri URI")
    assert "RUN_FOLDER" in invoke("tracking", "sync", "--help").output
