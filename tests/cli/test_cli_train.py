"""`popbased train`: a tiny run whose checkpoint then plays; bad input is one line; the reward
weights a run trains with are printed first and recorded in its options.json."""

import json

import pytest
from click.testing import CliRunner

from popbased.cli import cli


@pytest.mark.slow
def test_train_cli_then_play_the_checkpoint(ray_local, tmp_path):
    out = tmp_path / "run"
    runner = CliRunner()
    result = runner.invoke(cli, ["train", "no_zap", "--total-steps", "400", "--envs-per-worker", "1",
                                 "--rollout-length", "40", "--lstm", "8", "--ppo", "bptt=20",
                                 "--shaping", "zapped=-0.5", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["agent_steps"] >= 400 and (out / "m0.pt").exists()
    played = runner.invoke(cli, ["substrates", "run", "open", "--policy", str(out / "m0.pt"),
                                 "--max-episode-steps", "30", "--json"])
    assert played.exit_code == 0, played.output
    assert json.loads(played.stdout)["summary"]["episodes"] == 1


def test_train_cli_bad_input_is_one_line(tmp_path):
    runner = CliRunner()
    for args, expected in ((["train", "nosuch"], "unknown substrate"),
                           (["train", "open", "--ppo", "clip=-1"], "clip must be > 0"),
                           (["train", "open", "--ppo", "lr=abc"], "--ppo lr=abc: lr needs a number"),
                           (["train", "open", "--shaping", "apples=1"], "unknown reward component"),
                           (["train", "open", "--shaping", "reward=x"], "not a number"),
                           (["train", "open", "--device", "tpu"], "--device"),
                           (["train", "open", "--lstm", "8", "--rollout-length", "33"], "bptt")):
        result = runner.invoke(cli, args + ["--total-steps", "100", "--out", str(tmp_path / "x")])
        assert result.exit_code == 2, (args, result.output)
        assert expected in result.output and result.output.count("\n") <= 2, result.output
    assert not (tmp_path / "x").exists()


TINY_FAST = ["--env", "fast", "--total-steps", "280", "--workers", "1", "--envs-per-worker", "2",
             "--rollout-length", "20", "--device", "cpu"]


def test_train_cli_prints_and_records_the_effective_weights(tmp_path):
    runner = CliRunner()
    out = tmp_path / "given"
    result = runner.invoke(cli, ["train", "open", *TINY_FAST, "--shaping", "last_apples=-3",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    weights = "reward weights: reward=1 last_apples=-3 (given: last_apples=-3; defaults: reward=1)"
    assert lines[0].startswith("training on the fast commons_harvest") and weights in lines
    assert not any("agent-steps" in line for line in lines[:lines.index(weights)])  # at the start
    options = json.loads((out / "options.json").read_text())
    assert options["shaping"] == {"reward": 1.0, "last_apples": -3.0}
    assert options["shaping_given"] == {"last_apples": -3}
    assert options["substrate"] == "open" and options["env"] == "fast"

    out = tmp_path / "defaults"
    result = runner.invoke(cli, ["train", "open", *TINY_FAST, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert "reward weights: reward=1 (defaults: reward=1)" in result.stderr.splitlines()
    assert json.loads(result.stdout)["shaping"] == {"reward": 1.0}
    assert json.loads((out / "options.json").read_text())["shaping"] == {"reward": 1.0}
