"""Population evaluations in an experiment (popbased.experiment): a pbt or league run is also
evaluated as its whole population (`population:RUN_FOLDER`), planned only where the population
fits the substrate's seats; a folder planned and finished without them (an older record) gets
just these steps on a rerun, and its report then scores "ARM (population)". The rerun plays
its steps through the real runner with a stand-in for `popbased` (it writes episodes.csv as
`evaluate run` does), so it takes seconds."""

import json
import shutil
import sys

import pandas as pd
import pytest

from conftest import POPS
from popbased.experiment import report, spec, status, steps
from popbased.experiment import run as experiment
from popbased.experiment.record import RECORD, record
from popbased.study.steps import write_marker

FILE = """
[experiment]
name = "rerun"
seeds = [0, 1]
agent_steps = 100_000
episodes = 2
reference = "scripted:sustainable"

[arms.pbt]
population = "open.toml"
generations = 2

[arms.ppo]
shaping = { last_apples = -3.0 }
"""
BIG = """
[arms.big]
population = "open.toml"
size = 8
generations = 2
"""
REPS = {"aggregate": {"reps": 50}, "poi": {"reps": 20}, "profile": {"reps": 20}}
RATES = {"random": 20.0, "reference": 100.0, "pbt/seed-0": 40.0, "pbt/seed-1": 60.0,
         "ppo/seed-0": 80.0, "ppo/seed-1": 90.0}
POPULATION_RATE = 75.0
STANDIN = r"""
import json, pathlib, sys
argv = sys.argv[1:]
out = pathlib.Path(argv[argv.index("-o") + 1])
out.mkdir(parents=True)
(out / "argv.json").write_text(json.dumps(argv))
rate = %r if argv[2].startswith("population:") else 1.0
(out / "episodes.csv").write_text("policy,point,episode,steps,per_capita_return,depleted,proxy_depleted\n"
                                  f"p,default,0,1000,{rate},False,False\n"
                                  f"p,default,1,2000,{2 * rate},False,True\n")
print(json.dumps({"episodes": 2}))
""" % POPULATION_RATE
"""`popbased ARGS` as the steps would run it: `evaluate run POLICY ... -o FOLDER` writes two
episodes scoring POPULATION_RATE per 1,000 steps for a population (1.0 for anything else)."""


def episodes(rate: float) -> pd.DataFrame:
    return pd.DataFrame({"policy": "p", "point": "default", "episode": [0, 1], "steps": [1000, 4000],
                         "per_capita_return": [rate, 4 * rate], "depleted": [False, False],
                         "proxy_depleted": [True, False]})


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(POPS / "open.toml", tmp_path / "open.toml")
    (tmp_path / "exp.toml").write_text(FILE)
    return tmp_path


def test_pbt_and_league_runs_get_a_population_evaluation_that_fits_the_seats(folder):
    shutil.copy(POPS / "leagues" / "commons.toml", folder / "commons.toml")
    for name in ("no_zap", "farmer"):  # its populations, 2 members each
        shutil.copy(POPS / f"{name}.toml", folder / f"{name}.toml")
    (folder / "exp.toml").write_text(FILE + BIG + '\n[arms.league]\nleague = "commons.toml"\ngenerations = 2\n'
                                     'champion_of = "no_zap"\n')
    exp = spec.load(folder / "exp.toml")
    out = (folder / "out").resolve()
    plan = {p.name: p for p in steps.plan(exp, out, "sqlite:///m.db")}
    populations = sorted(n for n, p in plan.items() if p.population)
    # big: 8 members, 7 seats on open: scored as its champion only
    assert populations == [f"eval/{a}/seed-{s}/population" for a in ("league", "pbt") for s in (0, 1)]
    assert "eval/big/seed-0" in plan
    league = plan["eval/league/seed-1/population"]
    assert league.stage == "eval" and league.arm == "league" and league.seed == 1 and league.units == 2
    assert league.step.argv[league.step.argv.index("run") + 1] == \
        f"population:{out / 'runs' / 'league' / 'seed-1'}/no_zap"
    assert league.step.needs == ("train/league/seed-1",)
    assert league.step.done == out / "steps" / "eval-league-seed-1-population.json"
    rows = {r["name"]: r for r in record(exp, list(plan.values()), out)["steps"]}
    assert rows["eval/pbt/seed-0/population"]["population"] is True
    assert rows["eval/pbt/seed-0/population"]["folder"] == "eval/pbt/seed-0-population"
    assert "population" not in rows["eval/pbt/seed-0"]


def test_a_finished_folder_planned_without_populations_gets_just_them_on_a_rerun(folder, monkeypatch):
    exp = spec.load(folder / "exp.toml")
    out = folder / "out"
    every = steps.plan(exp, out, "sqlite:///m.db")
    old = [p for p in every if not p.population]  # what the code before population evaluations planned
    assert len(every) - len(old) == 2
    out.mkdir()
    (out / RECORD).write_text(json.dumps(record(exp, old, out)))
    for p in old:  # every step of the old plan done
        write_marker(p.name, p.step.done, {"seconds": 10.0, "result": {}})
        if p.stage == "eval":
            p.step.fresh.mkdir(parents=True)
            episodes(RATES[p.name.split("/", 1)[1]]).to_csv(p.step.fresh / "episodes.csv", index=False)
    (out / "logs").mkdir()
    before = status.status(out)
    assert (before["done"], before["left"]) == (len(old), 0)  # the old record: nothing left
    assert "population" not in status.lines(before)[1]
    report.write(out, None, REPS)
    assert "pbt (population)" not in json.loads((out / "summary.json").read_text())["arms"]

    shown = []
    experiment.dry_run(folder / "exp.toml", out, (), tracking_uri="sqlite:///m.db", say=shown.append)
    assert [line.split(":")[0] for line in shown if line.startswith("todo")] == [
        "todo  eval/pbt/seed-0/population", "todo  eval/pbt/seed-1/population"]

    monkeypatch.setattr(steps, "CLI", (sys.executable, "-c", STANDIN))
    said = []
    failed = experiment.run(folder / "exp.toml", out=out, parallel=2, tracking_uri="sqlite:///m.db",
                            results=folder / "results", say=said.append, reps=REPS)
    assert failed == []
    started = sorted(line.split(" (")[0] for line in said if line.startswith("started:"))
    assert started == ["started: eval/pbt/seed-0/population", "started: eval/pbt/seed-1/population"]
    assert len([line for line in said if line.startswith("done already:")]) == len(old)
    played = json.loads((out / "eval" / "pbt" / "seed-1-population" / "argv.json").read_text())
    assert played[:3] == ["evaluate", "run", f"population:{out.resolve() / 'runs' / 'pbt' / 'seed-1'}"]
    assert played[played.index("--seed") + 1] == "0" and played[played.index("--episodes") + 1] == "2"
    # the record now holds every step, all done
    after = status.status(out)
    assert (after["done"], after["left"]) == (len(every), 0)
    assert [r["name"] for r in after["steps"] if r["population"]] == [
        "eval/pbt/seed-0/population", "eval/pbt/seed-1/population"]
    assert status.lines(after)[1] == "arm / seed\ttrain\texport\teval\tpopulation"
    # and the report scores the population as a row of its own
    s = json.loads((out / "summary.json").read_text())
    pop = s["arms"]["pbt (population)"]
    assert sorted(pop["runs"]) == ["0", "1"] and pop["missing"] == []
    assert pop["runs"]["0"]["score"] == pytest.approx(POPULATION_RATE)
    assert pop["runs"]["0"]["normalised"] == pytest.approx((75 - 20) / 80)
    assert s["arms"]["pbt"]["runs"]["0"]["score"] == pytest.approx(40.0)  # the champion's, unchanged
    pairs = {(p["x"], p["y"]): p["point"] for p in s["probability_of_improvement"]}
    assert pairs[("pbt", "pbt (population)")] == 0.0 and pairs[("pbt (population)", "ppo")] == 0.0
    assert "| pbt (population) | 2 | 0.688 [" in (folder / "results" / "report.md").read_text()
