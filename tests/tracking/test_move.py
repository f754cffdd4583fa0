"""A run folder stays in its tracking store (popbased.tracking.move): `tracking sync`,
`resume` and `league resume` given another store are refused (one line, exit 2, nothing
written anywhere); with --move-to-store the runs are copied there (params, tags, metric
histories with their steps and timestamps, status, artifacts) and the folder is tracked there
from then on, and a following resume logs its next generation there. Artifacts of a store
given as sqlite:///X/mlflow.db land under X, never in ./mlruns of the folder a command runs
in, and MLflow's INFO lines stay off the terminal. Each test works on a copy of the session's
tiny league and of its store (the original is only read)."""

import json
import os
import shutil
from pathlib import Path

import pytest

from popbased.tracking import store

from conftest import invoke, popbased

RUNS = ["no_zap/m0", "no_zap/m1", "open/m0", "open/m1", "tiny"]


def _copy(work: Path, tmp_path: Path) -> tuple[Path, str]:
    """(a copy of the tiny league's folder, the URI of a copy of its store that it names)."""
    (tmp_path / "old").mkdir()
    shutil.copy(work / "mlflow.db", tmp_path / "old" / "mlflow.db")
    folder = Path(shutil.copytree(work / "runs" / "tiny", tmp_path / "runs" / "tiny"))
    old = f"sqlite:///{tmp_path / 'old' / 'mlflow.db'}"
    noted = json.loads((folder / store.RUNS).read_text())
    (folder / store.RUNS).write_text(json.dumps({**noted, "uri": old}, indent=1))
    return folder, old


def _env() -> dict:
    """The environment of a user who set nothing about MLflow."""
    return {k: v for k, v in os.environ.items()
            if k not in ("MLFLOW_LOGGING_LEVEL", "MLFLOW_TRACKING_URI")}


def _chatter(output: str) -> list[str]:
    """MLflow's and alembic's INFO lines (`Creating initial MLflow database tables...`)."""
    return [l for l in output.splitlines() if "INFO" in l and ("mlflow" in l or "alembic" in l)]


def _refused(result, text: str) -> None:
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and text in lines[0], result.stderr


def _runs(uri: str) -> dict:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("league-tiny")
    return {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}


def _files(client, run_id: str, path: str | None = None) -> list[tuple[str, int]]:
    found = []
    for item in client.list_artifacts(run_id, path):
        found += _files(client, run_id, item.path) if item.is_dir else [(item.path, item.file_size)]
    return sorted(found)


def test_uris_are_compared_as_the_stores_they_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert store.same_store("sqlite:///./mlflow.db", f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert store.same_store("http://Host:5000/", "http://host:5000")
    assert not store.same_store("sqlite:///a.db", "sqlite:///b.db")
    assert store.resolve_uri("sqlite:///x/../mlflow.db") == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert store.artifact_location("sqlite:///mlflow.db", "league-a b") == \
        str(tmp_path / "mlartifacts" / "league-a_b")
    assert store.artifact_location(f"sqlite:///{tmp_path}/study.db", "pbt-x") == \
        str(tmp_path / "study-mlartifacts" / "pbt-x")
    assert store.artifact_location("http://host:5000", "pbt-x") is None  # the server's own
    assert store.artifact_location("file:///tmp/mlruns", "pbt-x") is None  # kept in the store


def test_another_store_is_refused_without_move_to_store(tiny_league_run, tmp_path):
    folder, old = _copy(tiny_league_run, tmp_path)
    before = (folder / store.RUNS).read_bytes()
    other = f"sqlite:///{tmp_path / 'other' / 'mlflow.db'}"
    for command in (("tracking", "sync"), ("resume",), ("league", "resume")):
        _refused(invoke(*command, folder, "--tracking-uri", other),
                 f"--tracking-uri {other}: {folder} is tracked in {old} (its tracking.json); add "
                 f"--move-to-store to copy its MLflow runs into {other}")
    assert (folder / store.RUNS).read_bytes() == before
    assert not (tmp_path / "other").exists()  # nothing written to the other store
    # the same store spelled otherwise is the folder's own
    same = invoke("tracking", "sync", folder, "--tracking-uri",
                  f"sqlite:///{os.path.relpath(tmp_path / 'old' / 'mlflow.db')}")
    assert same.exit_code == 0, same.output
    assert (folder / store.RUNS).read_bytes() == before


def test_move_to_store_copies_the_runs_with_their_artifacts_beside_the_new_store(tiny_league_run,
                                                                                 tmp_path):
    from mlflow.tracking import MlflowClient

    folder, old = _copy(tiny_league_run, tmp_path)
    before = json.loads((folder / store.RUNS).read_text())
    elsewhere = tmp_path / "elsewhere"  # the folder the command runs in
    elsewhere.mkdir()
    (tmp_path / "new").mkdir()
    new = f"sqlite:///{tmp_path / 'new' / 'mlflow.db'}"  # a fresh database
    moved = popbased(elsewhere, "tracking", "sync", folder, "--tracking-uri", new, "--move-to-store",
                     env=_env())
    assert moved.returncode == 0, moved.stderr[-3000:]
    assert moved.stdout.splitlines()[0].startswith(
        f"moved {folder}'s MLflow runs from {old} to {new}: copied 5 runs (")
    assert not _chatter(moved.stderr + moved.stdout), moved.stderr
    after = json.loads((folder / store.RUNS).read_text())
    assert after["uri"] == new and sorted(after["runs"]) == sorted(before["runs"])
    assert not set(after["runs"].values()) & set(before["runs"].values())
    assert after["generation"] == before["generation"] == 1
    source, target = MlflowClient(old), MlflowClient(new)
    was, now = _runs(old), _runs(new)
    assert sorted(now) == sorted(was) == RUNS
    assert {r.info.run_id for r in now.values()} == set(after["runs"].values())
    league = now["tiny"].info.run_id
    for name, run in now.items():
        copy = was[name]
        assert (run.info.status, run.info.start_time, run.info.end_time) == \
            (copy.info.status, copy.info.start_time, copy.info.end_time) and run.info.status == "FINISHED"
        assert run.data.params == copy.data.params and run.data.metrics == copy.data.metrics
        tags = dict(copy.data.tags)
        if name != "tiny":  # members name the new league run their parent
            assert run.data.tags.pop("mlflow.parentRunId") == league
            tags.pop("mlflow.parentRunId")
        assert run.data.tags == tags
        for key in copy.data.metrics:
            assert [(m.step, m.timestamp, m.value) for m in target.get_metric_history(run.info.run_id, key)] == \
                [(m.step, m.timestamp, m.value) for m in source.get_metric_history(copy.info.run_id, key)]
        assert _files(target, run.info.run_id) == _files(source, copy.info.run_id)
    files = dict(_files(target, league))
    assert "lineage.png" in files and any(p.startswith("payoff/") for p in files)
    # the artifacts are beside the new database, none where the command ran
    location = target.get_experiment_by_name("league-tiny").artifact_location
    assert location.removeprefix("file://") == str(tmp_path / "new" / "mlartifacts" / "league-tiny")
    assert (tmp_path / "new" / "mlartifacts" / "league-tiny" / league / "artifacts" / "lineage.png").is_file()
    assert list(elsewhere.iterdir()) == []
    # from now on the folder's store is the new one: a sync sends nothing and copies nothing
    again = invoke("tracking", "sync", folder, "--json")
    assert again.exit_code == 0, again.output
    report = json.loads(again.stdout)
    assert report["uri"] == new and report["records"] == 0 and report["moved"] is None
    assert len(_runs(new)) == 5 and len(_runs(old)) == 5


@pytest.mark.slow
def test_a_resume_moved_to_another_store_logs_its_next_generation_there(tiny_league_run, ray_local,
                                                                         tmp_path):
    from mlflow.tracking import MlflowClient

    folder, old = _copy(tiny_league_run, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "new").mkdir()
    new = f"sqlite:///{tmp_path / 'new' / 'mlflow.db'}"
    resumed = popbased(elsewhere, "resume", folder, "--tracking-uri", new, "--move-to-store",
                       "--ray-address", ray_local["address"], env=_env())
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"moved {folder}'s MLflow runs from {old} to {new}: copied 5 runs" in resumed.stderr
    assert not _chatter(resumed.stderr + resumed.stdout), resumed.stderr
    assert json.loads((folder / store.RUNS).read_text())["uri"] == new
    now, was = _runs(new), _runs(old)
    assert sorted(now) == RUNS and {r.info.status for r in now.values()} == {"FINISHED"}
    target, source = MlflowClient(new), MlflowClient(old)
    for name in RUNS:  # generation 2 went to the new store, the old one kept what it had
        assert sorted(m.step for m in target.get_metric_history(now[name].info.run_id, "agent_steps")) == [1, 2]
        assert [m.step for m in source.get_metric_history(was[name].info.run_id, "agent_steps")] == [1]
    league = now["tiny"].info.run_id
    assert (tmp_path / "new" / "mlartifacts" / "league-tiny" / league / "artifacts" / "lineage.png").is_file()
    assert list(elsewhere.iterdir()) == []
