"""League runs (popbased.league.run) on real substrates, a real local Ray and real checkpoints:
a tiny league that quarantines a poisoned member and survives a killed worker; SIGKILL then
resume; long leagues whose snapshots retire while their matches still run; internal errors;
SIGKILL at every commit point of a generation followed by resume."""

import dataclasses
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from popbased.league.audit import audit
from popbased.league.run import League, make_loop, train_config
from popbased.league.spec import load
from popbased.population.lineage import LineageLog
from popbased.ppo import checkpoint
from popbased.runs import state as files

from conftest import POPS, popbased, popbased_argv, tiny_league

pytestmark = pytest.mark.slow  # every test here runs a real league


# ---------------------------------------------------------------------- a tiny league

def poison_once(members):
    """open/m1's first update gets non-finite rewards (as from a broken reward signal)."""
    learner = members["open/m1"].learner
    original = learner.update

    def update(batch):
        if not learner.flags and learner.updates == 0:
            batch = dataclasses.replace(batch, rewards=np.full_like(batch.rewards, np.nan))
        return original(batch)

    learner.update = update


def test_tiny_league_runs_quarantines_and_survives_a_killed_worker(ray_local, tmp_path):
    spec = load(tiny_league(tmp_path, evaluation=1))
    out = tmp_path / "run"
    config = train_config(spec, 2, workers=1, envs_per_worker=2, rollout_length=50, out=str(out),
                          ray_address=ray_local["address"])
    killed = []

    def on_round(report):
        if report.generation == 0 and not killed:
            pid = driver.session.collector.worker_pids()[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    driver = make_loop(spec, config, 2, on_round=on_round, prepare=poison_once)
    result = driver.run()
    assert result["generation"] == 2 and killed
    assert result["worker_restarts"] >= 1
    # the poisoned member was flagged, kept finite weights, and was replaced first
    log = LineageLog(out / "lineage.jsonl")
    exploit = [e for e in log.of("open/m1") if e.kind == "exploit"][0]
    assert exploit.generation == 1 and exploit.donor == "open/m0"
    assert exploit.reason.startswith("quarantined: update") and "non-finite rewards" in exploit.reason
    from click.testing import CliRunner

    from popbased.cli import cli

    tree = CliRunner().invoke(cli, ["lineage", "tree", str(out)])
    assert tree.exit_code == 0 and "open/m1 (gen 1-" in tree.output and "copied open/m0" in tree.output
    kept = [e for e in log.of("open/m0") if e.generation == 1]
    assert [e.kind for e in kept] == ["keep"] and kept[0].reason == "the only healthy member"
    for m in result["members"]:
        weights = checkpoint.read(out / "gen-0002" / f"{m}.pt")["weights"]
        assert all(torch.isfinite(w).all() for w in weights.values()), m
    # no_zap members keep their own action set (FIRE_ZAP masked in the open arena)
    assert "FIRE_ZAP" not in checkpoint.read(out / "gen-0002" / "no_zap" / "m0.pt")["action_names"]
    assert "FIRE_ZAP" in checkpoint.read(out / "gen-0002" / "open" / "m0.pt")["action_names"]
    # payoff tables, league scores and snapshots per generation
    payoffs = files.lines(out, "payoff.jsonl")
    assert [p["generation"] for p in payoffs] == [1, 2]
    assert sum(r["episodes"] for r in payoffs[0]["rows"]) >= 4
    modes = {r["mode"] for p in payoffs for r in p["rows"]}
    assert "self_play" in modes and modes & {"resident", "visitor"}
    # each generation also played one evaluation episode per env (2 envs), without learning
    phases = [p for pay in payoffs for c in pay["cells"].values() for p in c["phase"]]
    assert phases.count("eval") >= 4 and "train" in phases
    state = json.loads((out / "state.json").read_text())
    assert [s["id"] for s in state["snapshots"]] == ["open@g2", "no_zap@g2"]  # keep = 1
    assert {e.generation for e in log.events} == {0, 1, 2}


def _wait_for(predicate, proc, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        time.sleep(0.2)
    raise AssertionError("timed out")


def _check_readable_in_mlflow(client, experiment, runs, events, out):
    """What a researcher opening the store sees: the training view, descriptions, settings as
    params, the payoff table as a table artifact with its heatmap, and every gene from its
    initial value (step 0) at the generation whose fitness it produced."""
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    league = runs["run"]
    assert "score/POPULATION" in league.data.tags["mlflow.note.content"]
    assert league.data.params["member_fitness"] == "league" and "fitness" not in league.data.params
    assert not any(k.startswith("payoff/") for k in league.data.metrics)  # a table, not metrics
    league_run = league.info.run_id
    logged = {a.path for a in client.list_artifacts(league_run, "payoff")}
    assert {f"payoff/generation-000{g}.{kind}" for g in (1, 2) for kind in ("json", "png", "html")} <= logged
    # a table artifact as MLflow logs one (its UI shows these as tables); client.load_table
    # would search runs through the fluent API's default store, so it is read back directly
    tables = json.loads(client.get_run(league_run).data.tags["mlflow.loggedArtifacts"])
    assert {"path": "payoff/generation-0002.json", "type": "table"} in tables
    import pandas as pd

    saved = json.loads(Path(client.download_artifacts(league_run, "payoff/generation-0002.json",
                                                      str(out.parent))).read_text())
    table = pd.DataFrame(saved["data"], columns=saved["columns"])
    rows = files.lines(out, "payoff.jsonl")[1]["rows"]
    assert len(table) == len(rows) and set(table["focal"]) == {r["focal"] for r in rows}
    assert sorted(table["episodes"]) == sorted(r["episodes"] for r in rows)
    assert "NaN" not in (out / "payoff" / "generation-0002.html").read_text()
    for m, r in runs.items():
        if m == "run":
            continue
        assert f"Member **{m}**" in r.data.tags["mlflow.note.content"]
        mine = [e for e in events if e["member"] == m]
        initial = next(e["values"] for e in mine if e["kind"] == "init")
        after_g1 = [e["values"] for e in mine if e["generation"] <= 1][-1]  # trained in gen 2
        assert r.data.params["population"] == m.split("/")[0]
        for gene, value in initial.items():
            history = {h.step: h.value for h in client.get_metric_history(r.info.run_id, f"hp/{gene}")}
            assert sorted(history) == [0, 1, 2], (m, gene)
            assert history[0] == pytest.approx(value) and history[1] == pytest.approx(value)
            assert history[2] == pytest.approx(after_g1[gene]), (m, gene)
            assert float(r.data.params[f"initial.{gene}"]) == pytest.approx(value)
        copied = {h.step: h.value for h in client.get_metric_history(r.info.run_id, "pbt/copied")}
        assert copied == {g: float(any(e["kind"] == "exploit" and e["generation"] == g for e in mine))
                          for g in (1, 2)}


def test_sigkill_then_resume_keeps_everything_completed(ray_local, tmp_path):
    league = tiny_league(tmp_path)
    out = tmp_path / "run"
    common = ["--ray-address", ray_local["address"]]
    proc = subprocess.Popen(popbased_argv("league", "launch", league, "--generations", 2, "--workers", 1,
                                          "--rollout-length", 50, "--out", out, *common),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    rounds = out / "rounds.jsonl"
    # kill it in the middle of generation 2, after generation 1 completed
    _wait_for(lambda: rounds.is_file() and any(json.loads(l)["generation"] == 1 for l in
                                                rounds.read_text().splitlines()[-2:]), proc, 600)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = json.loads((out / "state.json").read_text())
    assert before["generation"] == 1
    events_before = (out / "lineage.jsonl").read_text().splitlines()[:before["lineage_events"]]
    gen1 = {m: checkpoint.read(out / c["file"]) for m, c in before["checkpoints"].items()}

    status = popbased(tmp_path, "league", "status", out, timeout=120)
    assert status.returncode == 0 and "generation 1" in status.stdout
    resumed = popbased(tmp_path, "resume", out, "--generations", 2, *common)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    after = json.loads((out / "state.json").read_text())
    assert after["generation"] == 2
    lines = (out / "lineage.jsonl").read_text().splitlines()
    assert lines[:len(events_before)] == events_before  # nothing completed was lost or changed
    events = [json.loads(l) for l in lines]
    for g in (0, 1, 2):  # exactly one init / keep / exploit per member and generation
        decided = [e["member"] for e in events if e["generation"] == g and e["kind"] != "explore"]
        assert sorted(decided) == sorted(gen1), (g, decided)
    assert [g["generation"] for g in files.lines(out, "generations.jsonl")] == [1, 2]
    assert [p["generation"] for p in files.lines(out, "payoff.jsonl")] == [1, 2]
    # MLflow (the default store, ./mlflow.db): one league run and one nested run per member,
    # continued by the resume, each generation logged once
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("league-tiny")
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {"run", *gen1}
    league_run = runs["run"].info.run_id
    assert [m.step for m in client.get_metric_history(league_run, "agent_steps")] == [1, 2]
    assert all(r.data.tags["mlflow.parentRunId"] == league_run for m, r in runs.items() if m != "run")
    assert runs["open/m0"].data.tags["popbased.checkpoint_sha256"] == after["checkpoints"]["open/m0"]["sha256"]
    assert not (out / "tracking-buffer.jsonl").exists()
    assert {a.path for a in client.list_artifacts(league_run)} >= {"lineage.jsonl", "payoff.jsonl",
                                                                    "lineage.png"}
    _check_readable_in_mlflow(client, experiment, runs, events, out)
    # generation 1's files are untouched, and they were what the resumed run started from
    for m, c in before["checkpoints"].items():
        again = checkpoint.read(out / c["file"])
        assert all(torch.equal(again["weights"][k], gen1[m]["weights"][k]) for k in again["weights"])
    # a corrupted newest checkpoint: the previous generation is used, with a warning
    victim = out / after["checkpoints"]["open/m0"]["file"]
    data = bytearray(victim.read_bytes())
    data[-10] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="content hash mismatch"):
        assert files.read(out)["generation"] == 1


# ---------------------------------------------------------------------- long leagues

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


@pytest.mark.parametrize("keep,backend,sources", [(1, "inline", '"snapshots", "random"'),
                                                  (2, "process", '"snapshots"')])
def test_long_league_plays_on_with_retired_snapshots(ray_local, tmp_path, keep, backend, sources):
    spec = load(snapshot_league(tmp_path, keep, sources=sources))
    out = tmp_path / "run"
    config = train_config(spec, 12, workers=1, envs_per_worker=2, rollout_length=20, out=str(out),
                          ray_address=ray_local["address"], env="meltingpot", env_backend=backend)
    result = make_loop(spec, config, 12).run()
    assert result["generation"] == 12
    files_ = check_consistent(out, 12)
    assert retired_snapshot_played(files_["payoffs"], files_["summaries"])


def test_snapshot_pool_rule_with_every_2_and_snapshots_not_a_source(ray_local, tmp_path):
    spec = load(snapshot_league(tmp_path, keep=1, every=2, sources='"populations", "random"'))
    out = tmp_path / "run"
    config = train_config(spec, 4, workers=1, envs_per_worker=1, rollout_length=20, out=str(out),
                          ray_address=ray_local["address"])
    assert make_loop(spec, config, 4).run()["generation"] == 4
    summaries = files.lines(out, "generations.jsonl")
    assert all(s["snapshots"] == [] for s in summaries)  # no snapshots: not a source
    assert [s["generation"] for s in summaries] == [1, 2, 3, 4]


# ---------------------------------------------------------------------- internal errors


def test_an_internal_error_says_so_and_where_its_traceback_went(ray_local, tmp_path, monkeypatch):
    from click.testing import CliRunner
    from mlflow.tracking import MlflowClient

    from popbased.cli import cli

    def broken(self, loop):
        raise KeyError("a bug at the end of a generation")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(League, "select", broken)
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
    return popbased(cwd, "league", *args, env=env)


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
    final = popbased(tmp_path, "resume", out, "--generations", 7,
                     *common)  # `popbased resume FOLDER`: PBT runs and leagues alike
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
