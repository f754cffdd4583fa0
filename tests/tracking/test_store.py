"""The tracking store (popbased.tracking.store): a tracking URI that does not answer; a real
`mlflow server` on loopback, records buffered on disk while it is away."""

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(tmp_path: Path, port: int) -> subprocess.Popen:
    mlflow = Path(sys.executable).parent / "mlflow"
    proc = subprocess.Popen([mlflow, "server", "--host", "127.0.0.1", "--port", str(port),
                             "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
                             "--default-artifact-root", str(tmp_path / "artifacts"), "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # its uvicorn and job-runner children too
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


def _stop(proc: subprocess.Popen) -> None:
    """Ends the server's whole process group (MLflow 3's workers outlive a killed parent)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


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
    assert writer.pending() == 2  # nothing lost, nothing sent
    server = _serve(tmp_path, port)
    try:
        with pytest.warns(UserWarning, match="answers again"):
            writer.log("a/m0", {"fitness": 3.0}, step=2)
        assert writer.pending() == 0
        writer.close()
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
        assert member.info.status == "FINISHED"
    finally:
        _stop(server)
