"""`popbased substrates validate` (popbased.env.fast.validate): bad input, and a small report."""

import json

import pytest
from click.testing import CliRunner

from popbased.cli import cli


def test_validate_refuses_bad_input(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["substrates", "validate", "clean_up", "-o", str(tmp_path / "a")])
    assert result.exit_code == 2 and "commons_harvest family" in result.output
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    result = runner.invoke(cli, ["substrates", "validate", "open", "-o", str(tmp_path / "full")])
    assert result.exit_code == 2 and "--force" in result.output
    result = runner.invoke(cli, ["substrates", "validate", "open", "--factors", "0,1", "-o", str(tmp_path / "b")])
    assert result.exit_code == 2


@pytest.mark.slow
def test_validate_writes_a_report(tmp_path):
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, ["substrates", "validate", "open", "-n", "2", "--max-episode-steps", "60",
                                      "--record-steps", "60", "--record-seeds", "1", "--factors", "1",
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["views"]["total_mismatches"] == 0 and report["views"]["states"] == 60
    assert report["transitions"]["mismatched_step_count"] == 0
    assert report["episodes"]["episodes"] == {"melting_pot": 2, "fast": 2}
    assert "welch_t_p_value" in report["episodes"]["metrics"]["per_capita_return"]
    for name in ("views.png", "regrowth.png", "episodes.png"):
        assert (out / name).stat().st_size > 1000
