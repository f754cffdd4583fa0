"""Member runs in MLflow (popbased.tracking.members): a real tiny league's member runs record
losses and zaps; how a league's run and its member runs end (RunTracking.close through
popbased.runs.launch): KILLED on SIGTERM or on Ctrl-C before training starts, FAILED with the
error, FINISHED; resumes continue the same runs, also when tracking.json is lost."""

import json
import os
import signal
import subprocess
import time

import pytest

from conftest import invoke, mlflow_client, popbased_argv, tiny_league

MEMBERS = ["no_zap/m0", "no_zap/m1", "open/m0", "open/m1"]


@pytest.mark.slow
def test_league_member_runs_record_losses_and_zaps(tiny_league_run):
    client = mlflow_client(tiny_league_run)
    experiment = client.get_experiment_by_name("league-tiny")
    runs = client.search_runs([experiment.experiment_id])
    members = {r.data.tags["popbased.member"]: r for r in runs if "popbased.member" in r.data.tags
               and r.data.tags.get("popbased.kind") != "export"}
    assert sorted(members) == ["no_zap/m0", "no_zap/m1", "open/m0", "open/m1"]
    for m, r in members.items():
        metrics = r.data.metrics
        assert metrics["train/value_loss"] > 0 and "train/policy_loss" in metrics
        assert "episode/gini" in metrics and metrics["episode/seats"] > 0
        if m.startswith("no_zap"):
            assert metrics["episode/zaps_fired"] == 0  # masked in the open arena
        assert r.data.tags["popbased.folder"].endswith("runs/tiny")


def _fast(tmp_path, out) -> dict:
    """The options of a tiny league (open and no_zap, 2 members each) on the fast env."""
    return {"league": str(tiny_league(tmp_path, steps=500)), "out": str(out), "seed": 0,
            "device": "cpu", "workers": 1, "envs_per_worker": 2, "rollout_length": 50, "lstm": 0,
            "env": "fast", "steps_per_generation": None, "episode_steps": None}


def _runs(work) -> dict:
    """run name -> run of experiment league-tiny in WORK/mlflow.db (one run per name)."""
    client = mlflow_client(work)
    found = client.search_runs([client.get_experiment_by_name("league-tiny").experiment_id])
    names = [r.info.run_name for r in found]
    assert len(names) == len(set(names)), names
    return {r.info.run_name: r for r in found}


@pytest.fixture
def sigterm_kept():
    """Commands run in this process install a SIGTERM handler (stop like Ctrl-C): undo it."""
    kept = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, kept)


def test_ctrl_c_before_training_starts_ends_the_run_killed(tmp_path, monkeypatch):
    from popbased.run.plan import RunPlan
    from popbased.runs import launch

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    prepared = launch.prepare_league(_fast(tmp_path, tmp_path / "stopped"), 1,
                                     tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")

    def interrupted(*args, **kwargs):  # e.g. SIGTERM while Ray starts: its handler exits
        raise KeyboardInterrupt

    monkeypatch.setattr(RunPlan, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        prepared.run()
    runs = _runs(tmp_path)
    assert list(runs) == ["stopped"] and runs["stopped"].info.status == "KILLED"


@pytest.mark.slow
def test_sigterm_kills_every_run_a_crash_fails_them_and_resumes_continue_the_same_runs(
        tmp_path, monkeypatch, sigterm_kept):
    from popbased.league.run import League
    from popbased.runs import state as files

    monkeypatch.delenv("RAY_ADDRESS", raising=False)  # the fast env without Ray
    monkeypatch.chdir(tmp_path)  # ./mlflow.db, as a user runs it
    out = tmp_path / "runs" / "status"
    opts = _fast(tmp_path, out)
    proc = subprocess.Popen(popbased_argv(
        "league", "launch", opts["league"], "--env", "fast", "--device", "cpu", "--generations", 5,
        "--workers", 1, "--envs-per-worker", 2, "--rollout-length", 50, "--out", out),
        cwd=tmp_path, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tracking = out / "tracking.json"
    deadline = time.monotonic() + 300
    while not (tracking.is_file() and json.loads(tracking.read_text()).get("generation", 0) >= 1):
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        assert time.monotonic() < deadline, "no generation logged"
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)  # as a scheduler stops a job
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0 and "interrupted after generation" in err, err[-3000:]
    runs = _runs(tmp_path)
    assert sorted(runs) == MEMBERS + ["status"]
    assert {r.info.status for r in runs.values()} == {"KILLED"}  # the league's and every member's
    ids = {name: r.info.run_id for name, r in runs.items()}
    done = files.read(out)["generation"]

    def broken(self, loop):
        raise KeyError("a bug at the end of a generation")

    with monkeypatch.context() as patched:
        patched.setattr(League, "select", broken)
        failed = invoke("resume", out, "--generations", done + 1)
    assert failed.exit_code == 1 and "internal error: KeyError" in failed.stderr, failed.output
    runs = _runs(tmp_path)
    assert {name: r.info.run_id for name, r in runs.items()} == ids  # continued, not opened again
    assert {r.info.status for r in runs.values()} == {"FAILED"}
    error = "KeyError: 'a bug at the end of a generation'"
    assert {r.data.tags["popbased.error"] for r in runs.values()} == {error}
    assert runs["status"].data.tags["mlflow.note.content"].endswith(f"**Failed:** {error}")

    tracking.unlink()  # lost: the runs are found again by their popbased.key tag
    resumed = invoke("resume", out, "--generations", done + 1, "--workers", 2)
    assert resumed.exit_code == 0, resumed.output
    runs = _runs(tmp_path)
    assert {name: r.info.run_id for name, r in runs.items()} == ids
    assert {r.info.status for r in runs.values()} == {"FINISHED"}
    assert not any("popbased.error" in r.data.tags for r in runs.values())
    assert "**Failed:**" not in runs["status"].data.tags.get("mlflow.note.content", "")
    changed = json.loads(runs["status"].data.tags["popbased.changed_params"])
    assert changed["option.workers"] == ["1", "2"]  # MLflow keeps the first; the change is noted
    client = mlflow_client(tmp_path)
    for name, r in runs.items():  # every generation once, after a kill, a crash and a lost file
        steps = sorted(m.step for m in client.get_metric_history(r.info.run_id, "agent_steps"))
        assert steps == list(range(1, done + 2)), name
