"""`popbased train`: a tiny run whose checkpoint then plays; bad input is one line."""

import json

import pytest
from click.testing import CliRunner

from popbased.cli import cli


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
