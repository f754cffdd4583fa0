"""The tracking store (popbased.tracking.store): a tracking URI that does not answer; a real
`mlflow server` on loopback: records and the runs' end wait on disk while it is away and
`popbased tracking sync` sends them when it is back; runs found again by their key, changed
parameters, refused records, lost runs; FAILED with its error, then RUNNING again; a real
tiny league whose server is stopped after generation 1 and started again after generation 2
(the league goes on and its records arrive by themselves). Servers run in their own session
and are ended as a whole group: nothing of them is left, nothing listens afterwards."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from popbased.errors import BadInput
from popbased.tracking import store

from conftest import invoke, tiny_league


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVERS: list[subprocess.Popen] = []
"""Every mlflow server this module started (each is stopped, checked gone at the end)."""


def _serve(tmp_path: Path, port: int, jobs: bool = True) -> subprocess.Popen:
    """A real `mlflow server` on loopback, in its own session: its uvicorn worker and job
    runner are its process group, which `_stop` ends whole. `jobs=False`: without MLflow 3's
    job runner (a process less to start)."""
    mlflow = Path(sys.executable).parent / "mlflow"
    env = {**os.environ, **({} if jobs else {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})}
    proc = subprocess.Popen([mlflow, "server", "--host", "127.0.0.1", "--port", str(port),
                             "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
                             "--default-artifact-root", str(tmp_path / "artifacts"), "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)  # its uvicorn and job-runner children too
    proc.port = port
    SERVERS.append(proc)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).read()
            return proc
        except OSError:
            assert proc.poll() is None, "mlflow server exited"
            time.sleep(0.5)
    _stop(proc)
    raise AssertionError("mlflow server did not start")


def _processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, process group, state) of every process (Linux /proc)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[int(stat.parent.name)] = (int(fields[1]), int(fields[2]), fields[0])
    return found


def _left(proc: subprocess.Popen, family: set[int]) -> list[int]:
    """The server's processes still alive: its process group, and `family` (its descendants
    when it was stopped, in case one left the group)."""
    return [pid for pid, (_, group, state) in _processes().items()
            if state != "Z" and (group == proc.pid or pid in family)]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _stop(proc: subprocess.Popen) -> None:
    """Ends the server's whole process group (MLflow 3's workers outlive a killed parent) and
    any descendant that left it, then checks that none is left and nothing listens."""
    table, family, todo = _processes(), set(), [proc.pid]
    while todo:  # its descendants now (a job subprocess starts its own session)
        parent = todo.pop()
        children = [pid for pid, (ppid, _, _) in table.items() if ppid == parent]
        family.update(children)
        todo += children
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for pid in family:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 30
    while (_left(proc, family) or _listening(proc.port)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _left(proc, family), f"mlflow server processes left: {_left(proc, family)}"
    assert not _listening(proc.port), f"port {proc.port} still listens"


@pytest.fixture(autouse=True, scope="module")
def _no_server_left():
    """Whatever a test did, no server of this module outlives it."""
    yield
    for proc in SERVERS:
        if proc.poll() is None or _left(proc, set()):
            _stop(proc)


def test_a_tracking_uri_that_does_not_answer_is_one_clear_error():
    with pytest.raises(BadInput, match="does not answer"):
        store.check(f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(BadInput, match="expected sqlite:///PATH"):
        store.resolve_uri("gopher://x")


@pytest.mark.slow
def test_records_wait_on_disk_while_the_server_is_away_and_arrive_when_it_is_back(tmp_path):
    from mlflow.tracking import MlflowClient

    port = _free_port()
    uri = f"http://127.0.0.1:{port}"
    folder = tmp_path / "league"
    folder.mkdir()
    writer = store.Store(uri, folder, "league-test", "run")
    with pytest.warns(UserWarning, match="did not answer"):
        writer.log("league", {"score/a": 0.5}, step=1, params={"arena": "open"})
    writer.log("a/m0", {"fitness": 2.0}, step=1, tags={"popbased.parent": ""})
    writer.log("a/m0", {"fitness": 3.0}, step=2)
    assert writer.pending() == 3  # nothing lost, nothing sent
    assert not writer.close() and writer.unsettled == "FINISHED"  # the end waits with them
    away = invoke("tracking", "sync", folder)
    assert away.exit_code == 2 and len(away.stderr.strip().splitlines()) == 1
    assert f"{folder}'s tracking store {uri}: the tracking server does not answer" in away.stderr
    server = _serve(tmp_path, port)  # with MLflow 3's job runner: `_stop` ends it too
    try:
        synced = invoke("tracking", "sync", folder)
        assert synced.exit_code == 0, synced.output
        assert synced.stdout.splitlines() == [
            f"sent 3 records to MLflow at {uri}, experiment league-test: run 1, a/m0 2",
            "its 2 runs ended FINISHED"]
        assert not (folder / store.BUFFER).exists()
        again = invoke("tracking", "sync", folder, "--json")  # nothing twice
        assert again.exit_code == 0 and json.loads(again.stdout)["records"] == 0
        client = MlflowClient(uri)
        experiment = client.get_experiment_by_name("league-test")
        runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
        assert set(runs) == {"run", "a/m0"}
        league = runs["run"]
        assert league.data.params == {"arena": "open"} and league.data.metrics == {"score/a": 0.5}
        member = runs["a/m0"]
        assert member.data.tags["mlflow.parentRunId"] == league.info.run_id
        history = client.get_metric_history(member.info.run_id, "fitness")
        assert [(m.step, m.value) for m in history] == [(1, 2.0), (2, 3.0)]
        assert {r.info.status for r in runs.values()} == {"FINISHED"}
    finally:
        _stop(server)


# ---------------------------------------------------------------------- one store, real SQLite

@pytest.fixture(scope="module")
def sqlite_uri(tmp_path_factory) -> str:
    """One real MLflow SQLite store for this module's tests (each its own experiment)."""
    return f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"


def _runs(uri: str, experiment: str) -> dict:
    """run name -> run of `experiment`; asserts there is one run per name."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    found = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    names = [r.info.run_name for r in found]
    assert len(names) == len(set(names)), names
    return {r.info.run_name: r for r in found}


def test_runs_are_found_again_by_their_key_and_a_changed_parameter_is_noted(sqlite_uri, tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    first = store.Store(sqlite_uri, folder, "pbt-found", "run")
    first.log("league", params={"workers": 1}, tags={"mlflow.note.content": "what this run is"})
    first.log("m0", {"fitness": 1.0}, step=1)
    ids = dict(first.runs["runs"])
    (folder / store.RUNS).unlink()  # lost (or a kill before the ids were noted)
    again = store.Store(sqlite_uri, folder, "pbt-found", "run")
    with pytest.warns(UserWarning, match="workers of league changed since"):
        again.log("league", params={"workers": 2, "seed": 0})  # a relaunch with other options
    again.log("m0", {"fitness": 2.0}, step=2)
    assert again.runs["runs"] == ids and again.pending() == 0
    runs = _runs(sqlite_uri, "pbt-found")
    assert sorted(runs) == ["m0", "run"]
    league = runs["run"]
    assert league.data.params == {"workers": "1", "seed": "0"}  # MLflow keeps the first value
    assert json.loads(league.data.tags["popbased.changed_params"]) == {"workers": ["1", "2"]}
    assert runs["m0"].data.metrics == {"fitness": 2.0}


def test_a_run_the_store_lost_is_made_again_and_a_refused_record_holds_back_nothing(sqlite_uri,
                                                                                   tmp_path):
    from mlflow.tracking import MlflowClient

    folder = tmp_path / "run"
    folder.mkdir()
    writer = store.Store(sqlite_uri, folder, "pbt-refused", "run")
    writer.log("m0", {"fitness": 1.0}, step=1)
    real = writer.runs["runs"]["m0"]
    writer.runs["runs"]["m0"] = "f" * 32  # an id the store does not know (a wiped store)
    writer.log("m0", {"fitness": 2.0}, step=2)
    assert writer.runs["runs"]["m0"] == real  # found again by its popbased.key
    with pytest.warns(UserWarning, match="refused a record of m0"):
        writer.log("m0", {"bad name!": 1.0}, step=3)
    with pytest.warns(UserWarning, match="are gone; the record is sent without them"):
        writer.log("m0", {"fitness": 3.0}, step=3, artifacts=[str(folder / "gone.png")])
    assert writer.pending() == 0 and writer.rejected == 1
    rejected = [json.loads(l) for l in (folder / store.REJECTED).read_text().splitlines()]
    assert [r["metrics"] for r in rejected] == [{"bad name!": 1.0}]
    assert rejected[0]["error"].startswith("MlflowException: Invalid value \"bad name!\"")
    history = MlflowClient(sqlite_uri).get_metric_history(real, "fitness")
    assert [(m.step, m.value) for m in history] == [(1, 1.0), (2, 2.0), (3, 3.0)]


def test_a_failed_run_keeps_its_description_and_a_resumed_one_drops_the_error(sqlite_uri, tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    writer = store.Store(sqlite_uri, folder, "league-failed", "run")
    writer.start()
    writer.log("league", tags={"mlflow.note.content": "League **tiny**."})
    writer.log("a/m0", {"fitness": 1.0}, step=1)
    assert writer.close("FAILED", error="KeyError: 'x'\n  the rest of a message")
    runs = _runs(sqlite_uri, "league-failed")
    assert {r.info.status for r in runs.values()} == {"FAILED"}
    assert {r.data.tags["popbased.error"] for r in runs.values()} == {"KeyError: 'x'"}
    assert runs["run"].data.tags["mlflow.note.content"] == "League **tiny**.\n\n**Failed:** KeyError: 'x'"
    assert runs["a/m0"].data.tags["mlflow.note.content"] == "**Failed:** KeyError: 'x'"
    assert writer.close("FAILED", error="KeyError: 'x'")  # said once, however often it is sent
    assert _runs(sqlite_uri, "league-failed")["run"].data.tags["mlflow.note.content"].count("Failed") == 1
    resumed = store.Store(sqlite_uri, folder, "league-failed", "run")
    resumed.start()
    runs = _runs(sqlite_uri, "league-failed")
    assert {r.info.status for r in runs.values()} == {"RUNNING"}
    assert not any("popbased.error" in r.data.tags for r in runs.values())
    assert runs["run"].data.tags["mlflow.note.content"] == "League **tiny**."
    assert "mlflow.note.content" not in runs["a/m0"].data.tags
    assert resumed.close("KILLED") and resumed.unsettled is None
    runs = _runs(sqlite_uri, "league-failed")
    assert {r.info.status for r in runs.values()} == {"KILLED"}
    assert all(r.info.end_time for r in runs.values())


# ---------------------------------------------------------------------- an outage mid-league

def _fast_league(tmp_path: Path, out: Path) -> dict:
    """The options of a tiny league (open and no_zap, 2 members each) on the fast env."""
    return {"league": str(tiny_league(tmp_path, steps=500)), "out": str(out), "seed": 0,
            "device": "cpu", "workers": 1, "envs_per_worker": 2, "rollout_length": 50, "lstm": 0,
            "env": "fast", "steps_per_generation": None, "episode_steps": None}


@pytest.mark.slow
def test_a_league_outlives_an_outage_and_heals_by_itself(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    from popbased.runs import launch

    monkeypatch.delenv("RAY_ADDRESS", raising=False)  # the fast env in this process, no Ray
    port = _free_port()
    uri = f"http://127.0.0.1:{port}"
    out = tmp_path / "outage"
    server = [_serve(tmp_path, port, jobs=False)]
    waiting = {}

    def on_generation(summary):
        waiting[summary.generation] = prepared.tracking.store.pending()
        if summary.generation == 1:  # stopped after generation 1 ...
            _stop(server[0])
        elif summary.generation == 2:  # ... started again after generation 2
            server[0] = _serve(tmp_path, port, jobs=False)

    try:
        prepared = launch.prepare_league(_fast_league(tmp_path, out), 3, tracking_uri=uri)
        with pytest.warns(UserWarning, match="did not answer"):
            result = prepared.run(on_generation=on_generation)
        assert result["generation"] == 3
        # generation 2's records waited; the end of generation 3 sent them with its own
        assert waiting == {1: 0, 2: waiting[2], 3: 0} and waiting[2] > 0
        assert not (out / store.BUFFER).exists() and prepared.tracking.store.unsettled is None
        runs = _runs(uri, "league-tiny")
        assert sorted(runs) == ["no_zap/m0", "no_zap/m1", "open/m0", "open/m1", "outage"]
        assert {r.info.status for r in runs.values()} == {"FINISHED"}
        client = MlflowClient(uri)
        for name, r in runs.items():  # every generation once, nothing lost, nothing twice
            steps = sorted(m.step for m in client.get_metric_history(r.info.run_id, "agent_steps"))
            assert steps == [1, 2, 3], name
    finally:
        _stop(server[0])
