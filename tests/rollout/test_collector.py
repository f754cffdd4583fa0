"""Rollout workers as real Ray actors on real substrates: seating, masks, recovery, training."""

import json
import os
import signal

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from popbased.cli import cli
from popbased.ppo import checkpoint
from popbased.ppo.learner import Learner
from popbased.rollout.collector import Collector
from popbased.selfplay import TrainConfig, seating, train
from popbased.substrates import resolve


def test_seating_is_balanced():
    rng = np.random.default_rng(0)
    seats = seating(rng, ["a", "b", "c"], workers=2, seats=14)
    flat = [m for w in seats for m in w]
    assert len(seats) == 2 and all(len(w) == 14 for w in seats)
    assert sorted(flat.count(m) for m in "abc") == [9, 9, 10]


def test_members_and_masks_in_a_mixed_arena(ray_local):
    """An open arena with a no_zap member (7 actions) and an open member (8 actions)."""
    spec = resolve("open")
    collector = Collector(spec, workers=1, envs_per_worker=2, seed=1, max_episode_steps=40)
    try:
        zapper = Learner("zapper", 11, collector.action_names, device="cpu", seed=1)
        pacifist = Learner("pacifist", 11, resolve("no_zap").action_names, device="cpu", seed=2)
        with torch.no_grad():  # make both want FIRE_ZAP (pacifist: its last output, TURN_RIGHT)
            zapper.policy.actor.bias[zapper.policy.action_names.index("FIRE_ZAP")] = 5.0
        handles = collector.publish([zapper.publication(), pacifist.publication()])
        seats = [["zapper", "pacifist"] * 7]
        result = collector.collect(handles, seats, length=60)
        batches = result.batches
        assert set(batches) == {"zapper", "pacifist"}
        z, p = batches["zapper"], batches["pacifist"]
        assert z.obs.shape == (60, 7, 11, 11, 3) and p.obs.shape == (60, 7, 11, 11, 3)
        assert p.masks.shape[-1] == 7 and "FIRE_ZAP" not in pacifist.policy.action_names
        assert (z.actions == zapper.policy.action_names.index("FIRE_ZAP")).mean() > 0.5
        for b in (z, p):
            taken = np.take_along_axis(b.masks, b.actions[..., None], -1)
            assert taken.all()
            assert np.isfinite(b.logp).all() and (b.logp <= 0).all()
        assert z.rewards.shape[-1] == len(collector.components)
        # episodes are cut at 40 steps: each env ended one, seats listed by member
        assert len(result.episodes) == 2
        assert result.episodes[0]["members"] == ["zapper", "pacifist"] * 3 + ["zapper"]
        assert z.dones.sum() == 7 and z.dones[39].all() and z.starts[40].all()
        # the arena forbids FIRE_ZAP for the zapper's seats: the member mask follows
        arena_no_zap = Collector(resolve("no_zap"), workers=1, envs_per_worker=1, seed=2)
        try:
            handles = arena_no_zap.publish([zapper.publication()])
            b = arena_no_zap.collect(handles, [["zapper"] * 7], length=30).batches["zapper"]
            assert not b.masks[..., zapper.policy.action_names.index("FIRE_ZAP")].any()
            assert (b.actions != zapper.policy.action_names.index("FIRE_ZAP")).all()
        finally:
            arena_no_zap.close()
    finally:
        collector.close()


def test_killed_worker_is_restarted_and_its_fragment_recollected(ray_local):
    spec = resolve("open")
    collector = Collector(spec, workers=1, envs_per_worker=1, seed=3)
    try:
        learner = Learner("m0", 11, collector.action_names, device="cpu")
        handles = collector.publish([learner.publication()])
        first_pid = collector.worker_pids()[0]
        collector.submit(handles, [["m0"] * 7], length=200)
        os.kill(first_pid, signal.SIGKILL)  # dies with the fragment submitted
        result = collector.gather()
        assert collector.restarts >= 1
        assert result.batches["m0"].obs.shape[:2] == (200, 7)
        assert collector.worker_pids()[0] != first_pid
    finally:
        collector.close()


@pytest.mark.slow
def test_tiny_training_run_changes_weights_and_writes_checkpoints(ray_local, tmp_path):
    config = TrainConfig("open", steps=2 * 14 * 30 * 3, members=2, workers=1, envs_per_worker=2,
                         rollout_length=30, max_episode_steps=50, device="cpu", seed=4,
                         out=str(tmp_path))
    initial = Learner("m0", 11, resolve("open").action_names, device="cpu", seed=4000)
    rounds = []
    report = train(config, rounds.append)
    assert len(rounds) == 6 and report["agent_steps"] == 2 * 14 * 30 * 3
    assert report["episodes"] >= 6 and report["metrics"]["per_capita_return"] >= 0
    assert set(report["checkpoints"]) == {"m0", "m1"}
    trained, extra = checkpoint.load_learner(tmp_path / "m0.pt", device="cpu")
    assert extra["substrate"] == "open" and trained.updates == 6
    changed = any(not torch.equal(a, b) for a, b in zip(initial.policy.parameters(),
                                                         trained.policy.parameters()))
    assert changed
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 6 and json.loads(lines[-1])["agent_steps"] == report["agent_steps"]


@pytest.mark.slow
def test_train_cli_then_play_the_checkpoint(ray_local, tmp_path):
    out = tmp_path / "run"
    runner = CliRunner()
    result = runner.invoke(cli, ["train", "no_zap", "--steps", "400", "--envs-per-worker", "1",
                                 "--rollout-length", "40", "--lstm", "8", "--ppo", "bptt=20",
                                 "--shaping", "zapped=-0.5", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["agent_steps"] >= 400 and (out / "m0.pt").exists()
    played = runner.invoke(cli, ["substrates", "run", "open", "--policy", str(out / "m0.pt"),
                                 "--steps", "30", "--json"])
    assert played.exit_code == 0, played.output
    assert json.loads(played.stdout)["summary"]["episodes"] == 1


def test_train_cli_bad_input_is_one_line(tmp_path):
    runner = CliRunner()
    for args, expected in ((["train", "nosuch"], "unknown substrate"),
                           (["train", "open", "--ppo", "clip=-1"], "clip must be > 0"),
                           (["train", "open", "--shaping", "apples=1"], "unknown reward component"),
                           (["train", "open", "--shaping", "reward=x"], "not a number"),
                           (["train", "open", "--device", "tpu"], "--device"),
                           (["train", "open", "--lstm", "8", "--rollout-length", "33"], "bptt")):
        result = runner.invoke(cli, args + ["--steps", "100", "--out", str(tmp_path / "x")])
        assert result.exit_code == 2, (args, result.output)
        assert expected in result.output and result.output.count("\n") <= 2, result.output
    assert not (tmp_path / "x").exists()


def _train_in_subprocess(address: str, out, steps: int) -> list[str]:
    """`popbased train` in another process, joining the session's Ray (one small worker)."""
    import sys

    return [sys.executable, "-m", "popbased.cli", "train", "open", "--steps", str(steps),
            "--workers", "1", "--envs-per-worker", "1", "--rollout-length", "40",
            "--ray-address", address, "--out", str(out)]


@pytest.mark.slow
def test_train_joins_an_existing_ray_cluster(ray_local, tmp_path):
    """`popbased train --ray-address` from another process joins the session's Ray."""
    import subprocess

    out = tmp_path / "joined"
    cmd = _train_in_subprocess(ray_local["address"], out, steps=280) + ["--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["ray"]["started"] is False and report["ray"]["address"] == ray_local["address"]
    assert (out / "m0.pt").exists()


def test_unreachable_ray_address_is_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["train", "open", "--ray-address", "127.0.0.1:1",
                                      "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "cannot reach Ray at 127.0.0.1:1" in result.output
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_sigterm_writes_checkpoints_then_stops(ray_local, tmp_path):
    import subprocess
    import time

    out = tmp_path / "stopped"
    cmd = _train_in_subprocess(ray_local["address"], out, steps=100_000_000)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = out / "metrics.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and not (metrics.exists() and metrics.read_text().count("\n") >= 2):
        time.sleep(0.5)
    proc.terminate()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    assert "interrupted" in err
    learner, _ = checkpoint.load_learner(out / "m0.pt", device="cpu")
    assert learner.updates >= 2
