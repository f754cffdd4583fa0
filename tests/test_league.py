"""A real league: real substrates, real local Ray, real checkpoints; kill and resume."""

import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from popbased.runs import state as files
from popbased.league.run import Driver, train_config
from popbased.league.spec import load
from popbased.population.lineage import LineageLog
from popbased.ppo import checkpoint

from conftest import tiny_league


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

    driver = Driver(spec, config, 2, None, on_round=on_round, prepare=poison_once)
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


def _cli(*args):
    return [sys.executable, "-m", "popbased.cli", "league", *map(str, args)]


def _wait_for(predicate, proc, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_sigkill_then_resume_keeps_everything_completed(ray_local, tmp_path):
    league = tiny_league(tmp_path)
    out = tmp_path / "run"
    common = ["--ray-address", ray_local["address"]]
    proc = subprocess.Popen(_cli("launch", league, "--generations", 2, "--workers", 1,
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

    status = subprocess.run(_cli("status", out), capture_output=True, text=True, timeout=120,
                            cwd=tmp_path)
    assert status.returncode == 0 and "generation 1" in status.stdout
    resumed = subprocess.run(_cli("resume", out, "--generations", 2, *common), capture_output=True,
                             text=True, timeout=600, cwd=tmp_path)
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


@pytest.mark.slow
def test_league_runs_on_a_ray_cluster_started_with_ray_start(tmp_path):
    """`ray start --head` on loopback plus a second node process; the league joins it."""
    ray_bin = Path(sys.executable).parent / "ray"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "RAY_ADDRESS": "", "RAY_AUTH_MODE": "disabled"}  # loopback only
    temp = tempfile.mkdtemp(prefix="rs", dir="/tmp")  # Ray's socket paths must stay short
    head = subprocess.run([ray_bin, "start", "--head", "--node-ip-address", "127.0.0.1",
                           "--port", str(port), "--num-cpus", "1", "--include-dashboard", "false",
                           "--temp-dir", temp, "--disable-usage-stats"],
                          capture_output=True, text=True, timeout=180, env=env)
    try:
        assert head.returncode == 0, head.stderr[-2000:]
        address = f"127.0.0.1:{port}"
        second = subprocess.run([ray_bin, "start", "--address", address, "--num-cpus", "1",
                                 "--node-ip-address", "127.0.0.1", "--disable-usage-stats"],
                                capture_output=True, text=True, timeout=180, env=env)
        assert second.returncode == 0, second.stderr[-2000:]
        out = tmp_path / "run"
        done = subprocess.run(_cli("launch", tiny_league(tmp_path, steps=700), "--generations", 1,
                                   "--workers", 2, "--envs-per-worker", 1, "--rollout-length", 50,
                                   "--out", out, "--ray-address", address, "--json"),
                              capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        report = json.loads(done.stdout)
        assert report["generation"] == 1 and report["ray"]["address"].endswith(str(port))
        assert report["ray"]["cpus"] == 2  # both nodes' CPUs
    finally:  # not `ray stop`: it stops every Ray on the machine, the test session's too
        _stop_cluster(f"127.0.0.1:{port}", temp)
        shutil.rmtree(temp, ignore_errors=True)


def _stop_cluster(address: str, temp: str) -> None:
    import psutil

    procs = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if (address in cmdline or temp in cmdline) and proc.pid != os.getpid():
            procs.append(proc)
    for proc in procs:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=30)
