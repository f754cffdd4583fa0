"""The end-to-end PPO benchmark (popbased.bench.train), as a smoke test: the fast env alone
(--no-raw), a population of two updated jointly, the device collector's synchronised split."""

import json

from click.testing import CliRunner

from popbased.bench.train import main
from popbased.rollout.device import SYNC_TIMINGS_ENV


def test_bench_train_without_raw_melting_pot(tmp_path, monkeypatch):
    monkeypatch.setenv(SYNC_TIMINGS_ENV, "0")  # main sets it; restored after the test
    out = tmp_path / "train.json"
    result = CliRunner().invoke(main, ["--env", "fast", "--no-raw", "--fast-batches", "700",
                                       "--members", "2", "--joint-update", "--workers", "1",
                                       "--device", "cpu", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "raw Melting Pot" not in result.output
    data = json.loads(out.read_text())
    assert data["raw_agent_steps_per_s"] is None and data["settings"]["sync_timings"]
    (run,) = data["runs"]
    assert run["members"] == 2 and run["joint_update"] and run["ratio_to_raw"] is None
    assert run["round_agent_steps"] == 700 and run["agent_steps_per_s"] > 0
    assert run["split_per_round_s"]["collection: env stepping"] > 0
