"""popbased experiment run end to end on tiny budgets: a PBT arm x 2 seeds trained on the fast
env and a scripted arm, the PBT champions exported, every run (and each PBT run's whole
population), random play and the reference evaluated on real Melting Pot (2 episodes cut at 100
steps), the report written. (A plain-PPO arm's training command is tested in
test_experiment_steps, `popbased train` itself in tests/cli/test_cli_train.) The reference is a broken
checkpoint at first: its evaluation fails, is reported with its log and the rest goes on; fixed,
a rerun does that step alone. Real Ray, real MLflow on SQLite, real subprocesses."""

import json
import os

import pytest

from conftest import invoke
from popbased.experiment import run as runner

POPULATION = """
[population]
name = "tiny"
substrate = "open"
size = 2
env = "fast"

[ppo]
epochs = 1
minibatch_size = 280

[pbt]
confidence = 0.0
min_samples = 1
fraction = 0.5

[evolve.lr]
init = [2e-4, 8e-4]
bounds = [1e-5, 1e-2]
scale = "log"

[shaping.reward]
init = 1.0
"""

EXPERIMENT = """
[experiment]
name = "tiny-exp"
seeds = [0, 1]
agent_steps = 3000
episodes = 2
substrate = "open"
reference = "ref.pt"
max_episode_steps = 100
workers = 1
envs_per_worker = 2
rollout_length = 20

[arms.pbt]
population = "tiny.toml"
generations = 1
note = "PBT over the file's learning-rate range (chosen by hand)"

[arms.greedy]
policy = "scripted:greedy"
note = "a scripted policy, no training"
"""

REPS = {"aggregate": {"reps": 200}, "poi": {"reps": 50}, "profile": {"reps": 50}}


def strings(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)
    elif isinstance(value, str):
        yield value


@pytest.mark.slow
def test_arms_by_seeds_resume_after_a_failed_step(tmp_path, monkeypatch, ray_local):
    monkeypatch.chdir(tmp_path)
    # every step's process joins this worker's Ray instead of starting its own (RAY_ADDRESS, as
    # on a cluster): a fifth of the steps' CPU time here, which is start-up, not play
    monkeypatch.setenv("RAY_ADDRESS", ray_local["address"])
    (tmp_path / "tiny.toml").write_text(POPULATION)
    (tmp_path / "exp.toml").write_text(EXPERIMENT)
    (tmp_path / "ref.pt").write_bytes(b"not a checkpoint")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    said = []
    failed = runner.run("exp.toml", out=tmp_path / "out", parallel=2, device="cpu", tracking_uri=uri,
                        say=said.append, reps=REPS)
    text = "\n".join(said)
    assert failed == ["eval/reference"], text
    assert "FAILED: eval/reference" in text and "eval-reference.log" in text
    out = tmp_path / "out"
    assert "ref.pt" in (out / "logs" / "eval-reference.log").read_text()
    markers = sorted(p.name for p in (out / "steps").glob("*.json"))
    assert len(markers) == 10  # 2 x (pbt: train, export, eval, population) + greedy + random
    for seed in (0, 1):
        assert (out / "eval" / "pbt" / f"seed-{seed}" / "episodes.csv").is_file()
    assert (out / "eval" / "greedy" / "episodes.csv").is_file()
    played = json.loads((out / "eval" / "pbt" / "seed-0-population" / "evaluation.json").read_text())
    assert played["policy_refs"][0].startswith("population:") and played["sources"][0]["kind"] == "population"
    assert [m["member"] for m in played["sources"][0]["members"]] == ["m0", "m1"]
    assert (out / "files" / "pbt.toml").is_file()
    assert "tiny" in (out / "champions" / "pbt" / "seed-1").iterdir().__next__().name

    summary = json.loads((out / "summary.json").read_text())
    assert summary["normalised_by"] is None and summary["baselines"]["reference"] is None
    assert set(summary["arms"]["pbt"]["runs"]) == {"0", "1"}
    assert set(summary["arms"]["pbt (population)"]["runs"]) == {"0", "1"}

    # status on the half-done folder: the reference started and did not finish
    result = invoke("experiment", "status", out)
    assert result.exit_code == 0, result.output
    assert "10 of 11 steps done" in result.output
    assert "eval/reference: started, not finished" in result.output
    assert "1 step(s), about" in result.output  # estimated from the other evaluations

    # the broken file fixed, a rerun does the failed step only
    (tmp_path / "ref.pt").write_bytes((out / "runs" / "pbt" / "seed-0" / "gen-0001" / "m0.pt").read_bytes())
    before = {p.name: p.stat().st_mtime_ns for p in (out / "steps").glob("*.json")}
    said.clear()
    failed = runner.run("exp.toml", out=out, device="cpu", tracking_uri=uri, say=said.append, reps=REPS)
    text = "\n".join(said)
    assert failed == [], text
    started = [line for line in said if line.startswith("started:")]
    assert len(started) == 1 and started[0].startswith("started: eval/reference"), text
    assert {p.name: p.stat().st_mtime_ns for p in (out / "steps").glob("*.json")
            if p.name in before} == before

    summary = json.loads((out / "summary.json").read_text())
    assert summary["normalised_by"] == "reference"
    for arm in ("pbt", "pbt (population)", "greedy"):
        agg = summary["arms"][arm]["aggregate"]
        assert set(agg) == {"normalised", "score", "depletion_world", "depletion_proxy", "patch_deaths",
                            "harvest_efficiency"}
        assert agg["score"]["iqm"]["low"] <= agg["score"]["iqm"]["point"] <= agg["score"]["iqm"]["high"]
        for run in summary["arms"][arm]["runs"].values():
            assert run["episodes"] == 2 and set(run["depletion"]) == {"episodes", "world", "proxy", "patch_deaths"}
            assert 0 <= run["depletion"]["patch_deaths"] <= 1 and run["harvest_efficiency"] > 0
    assert [(p["x"], p["y"]) for p in summary["probability_of_improvement"]] == [
        ("pbt", "pbt (population)"), ("pbt", "greedy"), ("pbt (population)", "greedy")]
    assert summary["arms"]["greedy"]["note"] == "a scripted policy, no training"

    # no absolute machine paths, in OUT or in the copy under results/
    results = tmp_path / "results" / "tiny-exp"
    for folder in (out, results):
        text = (folder / "report.md").read_text()
        assert str(tmp_path) not in text and "Metric: score" in text and "who chose what" in text
        copied = json.loads((folder / "summary.json").read_text())
        assert not [s for s in strings(copied) if s.startswith("/") or str(tmp_path) in s]
        assert (folder / "figures" / "intervals.png").is_file()
    assert not [s for s in strings(json.loads((out / "experiment.json").read_text()))
                if s.startswith(os.sep)]

    result = invoke("experiment", "status", out)
    assert "11 of 11 steps done" in result.output and "every step is done" in result.output
