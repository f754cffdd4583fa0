"""popbased.experiment.status on a half-done experiment folder (its experiment.json and markers
written by hand): done steps with their durations, a started step with its log, the time left
from the measured seconds per agent-step / episode, a PBT run part-way by its generations."""

import json
import shutil

import pytest

from conftest import POPS, invoke
from popbased.experiment import spec, status, steps
from popbased.experiment.record import RECORD, record
from popbased.study.steps import write_marker

FILE = """
[experiment]
name = "half"
seeds = [0, 1]
agent_steps = 100_000
episodes = 10

[arms.pbt]
population = "open.toml"
generations = 4

[arms.ppo]
shaping = { last_apples = -3.0 }
"""


@pytest.fixture
def half_done(tmp_path):
    return _half_done(tmp_path, FILE)


def _half_done(tmp_path, text):
    shutil.copy(POPS / "open.toml", tmp_path / "open.toml")
    (tmp_path / "exp.toml").write_text(text)
    exp = spec.load(tmp_path / "exp.toml")
    out = tmp_path / "out"
    plan = {p.name: p for p in steps.plan(exp, out, "sqlite:///m.db")}
    out.mkdir()
    (out / RECORD).write_text(json.dumps(record(exp, list(plan.values()), out)))
    done = {"eval/random": 30.0, "train/pbt/seed-0": 400.0, "export/pbt/seed-0": 20.0,
            "eval/pbt/seed-0": 50.0, "train/ppo/seed-0": 100.0}
    for name, seconds in done.items():
        write_marker(name, plan[name].step.done, {"seconds": seconds, "result": {}})
    (out / "logs").mkdir()
    (out / "logs" / "eval-ppo-seed-0.log").write_text("Traceback ...\n")
    (out / "runs" / "pbt" / "seed-1").mkdir(parents=True)
    (out / "runs" / "pbt" / "seed-1" / "state.json").write_text('{"generation": 3}')
    return out


def test_done_left_and_the_time_left(half_done):
    report = status.status(half_done)
    rows = {r["name"]: r for r in report["steps"]}
    assert (report["done"], report["left"]) == (5, 8)
    assert rows["train/pbt/seed-0"]["state"] == "done" and rows["train/pbt/seed-0"]["seconds"] == 400
    assert rows["eval/ppo/seed-0"]["state"] == "started"
    assert rows["eval/pbt/seed-1"]["state"] == "to do"
    # seconds per unit of the same arm where measured, else of the same stage's trained arms
    assert rows["train/ppo/seed-1"]["estimate_s"] == pytest.approx(100.0)
    assert rows["train/pbt/seed-1"]["generation"] == 3
    assert rows["train/pbt/seed-1"]["estimate_s"] == pytest.approx(400.0 / 4)  # a generation left
    assert rows["export/pbt/seed-1"]["estimate_s"] == pytest.approx(20.0)
    assert rows["eval/pbt/seed-1"]["estimate_s"] == pytest.approx(50.0)
    # not random play's 30 s: a baseline's episodes do not time a trained policy's
    assert rows["eval/ppo/seed-0"]["estimate_s"] == pytest.approx(50.0)
    # a population's evaluation is an eval step of its arm: timed by the arm's evaluations
    assert rows["eval/pbt/seed-0/population"]["population"] and not rows["eval/pbt/seed-0"]["population"]
    assert rows["eval/pbt/seed-0/population"]["estimate_s"] == pytest.approx(50.0)
    assert report["left_s"] == pytest.approx(100 + 100 + 20 + 50 + 50 + 50 + 50 + 50)
    assert report["unknown"] == []


def test_status_through_the_cli(half_done):
    result = invoke("experiment", "status", half_done)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"experiment half in {half_done}: 5 of 13 steps done"
    assert lines[1] == "arm / seed\ttrain\texport\teval\tpopulation"
    assert "pbt / seed 0\tdone (6.7 min)\tdone (0.3 min)\tdone (0.8 min)\tto do, ~0.8 min left" in lines
    assert "ppo / seed 0\tdone (1.7 min)\t-\tstarted, ~0.8 min left\t-" in lines
    assert any(line.startswith("pbt / seed 1\tto do, generation 3, ~1.7 min left") for line in lines)
    assert f"eval/ppo/seed-0: started, not finished (failed, stopped or running); log: " \
           f"{half_done / 'logs' / 'eval-ppo-seed-0.log'}" in result.output
    assert lines[-1] == "left: 8 step(s), about 7.8 min of step time left; --parallel N runs N at once"
    as_json = json.loads(invoke("experiment", "status", half_done, "--json").output)
    assert as_json["left"] == 8


def test_no_estimate_before_a_step_of_the_kind_is_done(half_done):
    for marker in (half_done / "steps").glob("export-*.json"):
        marker.unlink()
    report = status.status(half_done)
    assert report["unknown"] == ["export/pbt/seed-0", "export/pbt/seed-1"]
    assert "besides 2 step(s) of a kind none of whose steps is done yet" in status.lines(report)[-1]


def test_the_baselines_time_each_other_and_never_a_trained_policy(tmp_path):
    """Random play's 30 s for 10 episodes times the reference's evaluation; the trained arms'
    evaluations are timed by pbt's 50 s, whatever random play took."""
    out = _half_done(tmp_path, FILE.replace("episodes = 10", 'episodes = 10\nreference = "scripted:sustainable"'))
    rows = {r["name"]: r for r in status.status(out)["steps"]}
    assert rows["eval/reference"]["estimate_s"] == pytest.approx(30.0)
    assert rows["eval/ppo/seed-1"]["estimate_s"] == pytest.approx(50.0)
    for marker in (out / "steps").glob("eval-*.json"):  # no evaluation done: nothing to time them
        marker.unlink()
    report = status.status(out)
    assert {"eval/reference", "eval/ppo/seed-1", "eval/random"} <= set(report["unknown"])
