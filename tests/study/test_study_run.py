"""scripts/study end to end on a tiny study: a PBT population and a plain-PPO run trained on
the fast env, the champion exported to ONNX, both evaluated on real Melting Pot with random
play, and the report written from those evaluations (real Ray, real MLflow on SQLite)."""

import json

import pytest
from click.testing import CliRunner

from popbased.cli import cli

POPULATION = """
[population]
name = "tiny"
substrate = "open"
size = 2
steps_per_generation = 7000
env = "fast"

[pbt]
fitness = "return"
confidence = 0.0
min_samples = 1

[evolve.lr]
init = [2e-4, 8e-4]
bounds = [1e-5, 1e-2]
scale = "log"

[shaping.reward]
init = 1.0

[shaping.last_apples]
init = [-4.0, -2.0]
bounds = [-10.0, 0.0]
"""

STUDY = """
[study]
name = "tiny"
generations = 2
episodes = 2

[runs.tiny]
population = "tiny.toml"

[runs.plain]
substrate = "open"
shaping = { reward = 1.0, last_apples = -3.0 }

[evaluation]
home = ["tiny", "plain"]
"""


@pytest.mark.slow
def test_a_tiny_study_trains_exports_evaluates_on_meltingpot_and_reports(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.toml").write_text(POPULATION)
    (tmp_path / "study.toml").write_text(STUDY)
    args = ["study", "run", "--file", "study.toml", "--total-steps", "56000", "--parallel", "2",
            "--max-episode-steps", "60", "--out", "out", "--results", "results",
            "--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output + "".join(
        p.read_text()[-2000:] for p in (tmp_path / "out" / "logs").glob("*.log"))
    out = tmp_path / "out"
    for step in ("train-tiny", "train-plain", "export-tiny", "eval-home"):
        assert (out / "steps" / f"{step}.json").is_file(), step
    assert (out / "champions" / "tiny" / "policy.onnx").is_file()
    info = json.loads((out / "eval" / "home" / "evaluation.json").read_text())
    assert info["env"] == "meltingpot" and info["episodes"] == 2
    summary = json.loads((tmp_path / "results" / "summary.json").read_text())
    runs = {row["run"]: row for row in summary["trained"]}
    # 2 generations x 2 members x 7,000 (PBT may play a round more where it drops stale batches)
    assert runs["tiny"]["agent_steps"] >= 28000 and runs["plain"]["agent_steps"] >= 28000
    # the tiny study has no "open" population, so the goals are not measured; its runs are
    assert all(g["met"] is None for g in summary["goals"])
    assert set(summary["evaluations"]) == {"home"}
    assert (tmp_path / "results" / "report.html").read_text().count("<table>") >= 3
    assert (tmp_path / "results" / "champions" / "tiny" / "policy.onnx").is_file()
    assert (tmp_path / "results" / "eval" / "home" / "summary.csv").is_file()
    # a rerun skips everything that is done
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0 and "started:" not in again.output
