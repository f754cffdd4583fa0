"""Long leagues: snapshots retired from the pool while their matches still run, errors raised
in rollout workers, and SIGKILL at every commit point of a generation followed by resume."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from popbased.errors import BadInput, InternalError
from popbased.runs import state as files
from popbased.league.audit import audit
from popbased.league.run import Driver, train_config
from popbased.league.spec import load

ROOT = Path(__file__).resolve().parents[1]
POPS = ROOT / "populations"


def snapshot_league(tmp_path: Path, keep: int, every: int = 1, steps: int = 100,
                    sources: str = '"snapshots", "random"') -> Path:
    """2 populations x 2 members; episodes of 100 steps span generations (a generation is one
    to three rounds of 20 steps, not aligned with episodes), and most matches meet a snapshot."""
    path = tmp_path / f"long-{keep}-{every}.toml"
    path.write_text(f'''[league]
name = "long"
populations = ["{POPS / 'open.toml'}", "{POPS / 'no_zap.toml'}"]
arena = "open"
size = 2
steps_per_generation = {steps}
episode_steps = 100

[modes.self_play]
share = 0.1
[modes.resident]
share = 0.45
focal = 5
[modes.visitor]
share = 0.45
focal = 1

[background]
sources = [{sources}]

[snapshots]
every = {every}
keep = {keep}
''')
    return path


def check_consistent(out: Path, generations: int) -> dict:
    """Every file of a league folder that completed `generations`, field by field (the
    league audit), plus the MLflow records."""
    assert audit(out) == []
    state = files.read(out)
    assert state["generation"] == generations
    return {"state": state, "summaries": files.lines(out, "generations.jsonl"),
            "payoffs": files.lines(out, "payoff.jsonl")}


def retired_snapshot_played(payoffs: list[dict], summaries: list[dict]) -> bool:
    """Some episode of generation g was played against a snapshot that had already left the
    pool in which generation g's matches were drawn (the crash this file guards against)."""
    for p, before in zip(payoffs[1:], summaries[:-1]):
        for r in p["rows"]:
            if "@g" in r["background"] and r["background"] not in before["snapshots"]:
                return True
    return False


@pytest.mark.slow
@pytest.mark.parametrize("keep,backend,sources", [(1, "inline", '"snapshots", "random"'),
                                                  (2, "process", '"snapshots"')])
def test_long_league_plays_on_with_retired_snapshots(ray_local, tmp_path, keep, backend, sources):
    spec = load(snapshot_league(tmp_path, keep, sources=sources))
    out = tmp_path / "run"
    config = train_config(spec, 12, workers=1, envs_per_worker=2, rollout_length=20, out=str(out),
                          ray_address=ray_local["address"], env_backend=backend)
    result = Driver(spec, config, 12, None).run()
    assert result["generation"] == 12
    files_ = check_consistent(out, 12)
    assert retired_snapshot_played(files_["payoffs"], files_["summaries"])


def test_snapshot_pool_rule_with_every_2_and_snapshots_not_a_source(ray_local, tmp_path):
    spec = load(snapshot_league(tmp_path, keep=1, every=2, sources='"populations", "random"'))
    out = tmp_path / "run"
    config = train_config(spec, 4, workers=1, envs_per_worker=1, rollout_length=20, out=str(out),
                          ray_address=ray_local["address"])
    assert Driver(spec, config, 4, None).run()["generation"] == 4
    summaries = files.lines(out, "generations.jsonl")
    assert all(s["snapshots"] == [] for s in summaries)  # no snapshots: not a source
    assert [s["generation"] for s in summaries] == [1, 2, 3, 4]


# ---------------------------------------------------------------------- worker errors

def test_errors_inside_rollout_workers_reach_the_driver_as_one_line(ray_local):
    from popbased.ppo.learner import Learner
    from popbased.rollout.collector import Collector
    from popbased.substrates import resolve

    collector = Collector(resolve("open", {"players": 2}), workers=1, envs_per_worker=1,
                          env_backend="inline")
    try:
        with pytest.raises(BadInput) as bad:  # BadInput inside the worker: its message only
            collector.collect({}, [["random"] * 3], 5)
        assert str(bad.value) == "seat mapping has 3 entries; this worker has 2 seats"
        with pytest.raises(BadInput, match="^no weights published for member 'nobody'"):
            collector.collect({}, [["nobody", "random"]], 5)
        # a bug (here: weights of another shape than the network) is an internal error: one
        # line, the worker's traceback kept aside for the error log
        learner = Learner("m0", 11, collector.action_names, device="cpu")
        broken = learner.publication()
        name = next(iter(broken["weights"]))
        broken["weights"] = {**broken["weights"], name: np.zeros((3, 3), np.float32)}
        handles = collector.publish([broken])
        with pytest.raises(InternalError) as internal:
            collector.collect(handles, [["m0", "random"]], 5)
        message = str(internal.value)
        assert message.startswith("rollout worker 0 failed (RuntimeError: Error(s) in loading "
                                  "state_dict") and "\n" not in message
        detail = internal.value.detail
        assert 'worker.py", line' in detail and "in _publications" in detail and "\x1b" not in detail
        assert collector.collect({}, [["random", "random"]], 5).timing["steps"] == 5
    finally:
        collector.close()


def test_an_internal_error_says_so_and_where_its_traceback_went(ray_local, tmp_path, monkeypatch):
    from click.testing import CliRunner
    from mlflow.tracking import MlflowClient

    from popbased.cli import cli

    def broken(self):
        raise KeyError("a bug at the end of a generation")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(Driver, "end_generation", broken)
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["league", "launch", str(snapshot_league(tmp_path, 1)),
                                      "--generations", "2", "--workers", "1", "--envs-per-worker", "1",
                                      "--rollout-length", "20", "--out", str(out),
                                      "--ray-address", ray_local["address"]])
    assert result.exit_code == 1
    lines = [l for l in result.stderr.splitlines() if l.startswith("popbased:")]
    assert lines == [f"popbased: internal error: KeyError: 'a bug at the end of a generation' "
                     f"(a bug in popbased; the full traceback is in {out / 'error.log'})"]
    log = (out / "error.log").read_text()
    assert "Traceback" in log and "in broken" in log
    assert files.read(out)["generation"] == 0  # the committed start is intact and resumable
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("league-long").experiment_id])
    league_run = [r for r in runs if r.info.run_name == "run"][0]
    assert league_run.info.status == "FAILED"
    assert "KeyError" in league_run.data.tags["popbased.error"]


# ---------------------------------------------------------------------- kill and resume

POINTS = [("train", 2, 1), ("pbt", 3, 2), ("checkpoints", 4, 3), ("state", 5, 4),
          ("committed", 6, 6)]
"""(crash point, generation it is reached in, the generation a resume continues from)."""


def _league(args, cwd, crash=None):
    env = {k: v for k, v in os.environ.items() if k != "POPBASED_CRASH_AT"}
    if crash:
        env["POPBASED_CRASH_AT"] = crash
    return subprocess.run([sys.executable, "-m", "popbased.cli", "league", *map(str, args)],
                          capture_output=True, text=True, timeout=600, cwd=cwd, env=env)


@pytest.mark.slow
def test_sigkill_at_every_commit_point_then_resume_loses_and_repeats_nothing(ray_local, tmp_path):
    league = snapshot_league(tmp_path, keep=2)
    out = tmp_path / "run"
    common = ["--workers", 1, "--ray-address", ray_local["address"]]
    launch = ["--envs-per-worker", 2, "--rollout-length", 20]  # resume keeps them
    committed_lineage: list[str] = []
    for i, (point, generation, resumes_from) in enumerate(POINTS):
        args = (["launch", league, "--out", out, *launch] if i == 0 else ["resume", out]) + \
            ["--generations", 7, *common]
        run = _league(args, tmp_path, crash=f"{point}:{generation}")
        assert run.returncode == -signal.SIGKILL, (point, run.stderr[-3000:])
        state = files.read(out)
        assert state["generation"] == resumes_from, point
        lines = (out / "lineage.jsonl").read_text().splitlines()
        assert lines[:len(committed_lineage)] == committed_lineage  # never rewritten
        committed_lineage = lines[:state["lineage_events"]]
    final = subprocess.run([sys.executable, "-m", "popbased.cli", "resume", str(out), "--generations",
                            "7", *map(str, common)], capture_output=True, text=True, timeout=600,
                           cwd=tmp_path)  # `popbased resume FOLDER`: PBT runs and leagues alike
    assert final.returncode == 0, final.stderr[-3000:]
    assert (out / "lineage.jsonl").read_text().splitlines()[:len(committed_lineage)] == committed_lineage
    found = check_consistent(out, 7)
    # MLflow: one league run and one run per member (resumes continued them), each
    # generation's metrics exactly once, all runs FINISHED, nothing left in the buffer
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("league-long").experiment_id])
    names = sorted(r.info.run_name for r in runs)
    assert names == sorted(["run", *found["state"]["checkpoints"]])
    assert {r.info.status for r in runs} == {"FINISHED"}
    league_run = [r for r in runs if r.info.run_name == "run"][0].info.run_id
    steps = [m.step for m in client.get_metric_history(league_run, "agent_steps")]
    assert sorted(steps) == list(range(1, 8))
    agent_steps = {m.step: m.value for m in client.get_metric_history(league_run, "agent_steps")}
    assert agent_steps == {s["generation"]: s["agent_steps"] for s in found["summaries"]}
    for r in runs:
        if r.info.run_name != "run":
            history = client.get_metric_history(r.info.run_id, "agent_steps")
            assert sorted(m.step for m in history) == list(range(1, 8)), r.info.run_name
    assert not (out / "tracking-buffer.jsonl").exists()
    assert json.loads((out / "tracking.json").read_text())["generation"] == 7
    checked = _league(["status", out, "--check"], tmp_path)
    assert checked.returncode == 0 and checked.stdout.strip() == f"{out}: consistent (generation 7)"
    # the audit itself sees what a broken resume would leave
    summaries = (out / "generations.jsonl").read_text().splitlines()
    (out / "generations.jsonl").write_text("\n".join(summaries + summaries[-1:]) + "\n")
    lineage = (out / "lineage.jsonl").read_text().splitlines()
    (out / "lineage.jsonl").write_text("\n".join(lineage[:-1]) + "\n")
    found = audit(out, mlflow=False)
    assert found[0].startswith("generations.jsonl: generations [1, 2, 3, 4, 5, 6, 7, 7] "
                               "(duplicated [7], missing []")
    assert f"lineage.jsonl: {len(lineage) - 1} events, state.json counts {len(lineage)}" in found
    checked = _league(["status", out, "--check"], tmp_path)
    assert checked.returncode == 1 and checked.stdout.splitlines()[0] == found[0]
