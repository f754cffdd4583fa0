"""Self-play training (popbased.selfplay): balanced seating, a tiny training run, SIGTERM."""

import json

import numpy as np
import pytest
import torch

from popbased.ppo import checkpoint
from popbased.ppo.learner import Learner
from popbased.selfplay import TrainConfig, seating, train
from popbased.substrates import resolve

from conftest import train_argv


def test_seating_is_balanced():
    rng = np.random.default_rng(0)
    seats = seating(rng, ["a", "b", "c"], workers=2, seats=14)
    flat = [m for w in seats for m in w]
    assert len(seats) == 2 and all(len(w) == 14 for w in seats)
    assert sorted(flat.count(m) for m in "abc") == [9, 9, 10]


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
def test_sigterm_writes_checkpoints_then_stops(ray_local, tmp_path):
    import subprocess
    import time

    out = tmp_path / "stopped"
    cmd = train_argv(ray_local["address"], out, steps=100_000_000)
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
