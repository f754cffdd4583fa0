"""Training runs' settings (popbased.selfplay) and `train` itself: a tiny training run, the reward
weights it trains with, SIGTERM."""

import json

import pytest
import torch

from popbased.ppo import checkpoint
from popbased.ppo.learner import Learner
from popbased.population.run import train_config
from popbased.population.spec import load
from popbased.run.train import train
from popbased.selfplay import TrainConfig, validate
from popbased.substrates import resolve

from conftest import ROOT, train_argv


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


@pytest.mark.parametrize("given, expected", [
    (None, {"reward": 1.0}),
    ({"last_apples": -3}, {"reward": 1.0, "last_apples": -3.0}),
])
def test_given_shaping_adds_to_the_default_weights_in_the_learner_and_its_checkpoint(
        tmp_path, given, expected):
    config = TrainConfig("open", steps=280, env="fast", workers=1, envs_per_worker=2,
                         rollout_length=20, device="cpu", shaping=given, out=str(tmp_path))
    assert validate(config)[2] == expected
    report = train(config)
    assert report["agent_steps"] == 280
    learner, _ = checkpoint.load_learner(tmp_path / "m0.pt", device="cpu")
    assert learner.shaping == expected  # the harvest's weight survives a given weight
    assert learner.updates == 1


def test_shaping_genes_are_counted_not_weights(tmp_path):
    """A PBT run's TrainConfig names the components its genes weigh: the envs count apples in
    view for them, and the run's own weights stay the defaults."""
    spec = load(ROOT / "populations" / "study" / "no_zap.toml")
    config = train_config(spec, 1, env="fast", out=str(tmp_path))
    assert config.shaping is None and "apples_in_view" in config.weighed
    _, apples_in_view, weights = validate(config)
    assert apples_in_view is True and weights == {"reward": 1.0, "farmer": 1.0}
