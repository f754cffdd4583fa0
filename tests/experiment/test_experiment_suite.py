"""An experiment with a held-out suite ([experiment] suite): every champion is also scored on
the suite (a `suite/ARM[/seed-S]` step after its export), the report aggregates the overall
suite score across seeds like the other metrics, results/NAME/state keeps each suite.json
without this machine's paths; a suite file that is missing or wrong is one line."""

import json
import shutil

import pytest

from conftest import POPS, ROOT
from popbased.errors import BadInput
from popbased.experiment import run as runner
from popbased.experiment import spec, steps

SUITE = """[suite]
name = "tiny"
reference = "scripted:sustainable"

[scenarios.zappers]
substrate = "open"
focal = 5
background = "scripted:greedy_zapper"
"""

EXPERIMENT = """[experiment]
name = "tiny-suite"
seeds = [0, 1]
agent_steps = 400_000
episodes = 2
substrate = "open"
reference = "scripted:sustainable"
max_episode_steps = 60
suite = "suite.toml"
suite_episodes = 1

[arms.greedy]
policy = "scripted:greedy"
"""


def _files(tmp_path, experiment=EXPERIMENT, suite=SUITE):
    (tmp_path / "suite.toml").write_text(suite)
    (tmp_path / "exp.toml").write_text(experiment)
    return tmp_path / "exp.toml"


def test_each_champion_gets_a_suite_step_after_its_export(tmp_path):
    shutil.copy(POPS / "open.toml", tmp_path / "open.toml")
    text = EXPERIMENT + '[arms.pbt]\npopulation = "open.toml"\ngenerations = 2\n'
    exp = spec.load(_files(tmp_path, text))
    assert exp.suites == ((tmp_path / "suite.toml").resolve(),) and exp.suite_episodes == 1
    planned = {p.name: p for p in steps.plan(exp, tmp_path / "out", "sqlite:///m.db", "cpu")}
    assert {n for n in planned if n.startswith("suite/")} == {
        "suite/baselines", "suite/greedy", "suite/pbt/seed-0", "suite/pbt/seed-1"}
    step = planned["suite/pbt/seed-1"].step
    assert step.needs == ("export/pbt/seed-1", "suite/baselines")
    argv = list(step.argv[len(steps.CLI):])
    assert argv[:3] == ["evaluate", "suite", str(exp.suites[0])]
    assert argv[argv.index("--baselines") + 1] == str((tmp_path / "out" / "suite" / "baselines" / "suite.json").resolve())
    base = list(planned["suite/baselines"].step.argv[len(steps.CLI):])
    assert base[3] == "--episodes"  # no policy: random and the reference only
    assert argv[argv.index("--episodes") + 1] == "1" and argv[argv.index("--env") + 1] == "meltingpot"
    # each suite step keeps its finished tasks outside its own folder (which a rerun starts
    # afresh), so that a step killed part-way goes on where it stopped
    kept = {argv_[argv_.index("--keep-tasks") + 1] for argv_ in (argv, base)}
    out = (tmp_path / "out").resolve()
    assert kept == {str(out / "tasks" / "suite" / "-" / "pbt" / "seed-1"), str(out / "tasks" / "suite" / "-" / "baselines")}


def test_several_suites_each_get_their_steps_named_after_them(tmp_path):
    """suite = [A, B]: every champion scored on each, steps and folders suite/NAME/..., each
    with its own baselines; `status` a column per suite; the first is the held-out score."""
    (tmp_path / "sweeps.toml").write_text(SUITE.replace('name = "tiny"', 'name = "sweeps"')
                                          .replace("[scenarios.zappers]", '[scenarios.alone]')
                                          .replace('focal = 5\nbackground = "scripted:greedy_zapper"\n', "focal = 7\n"))
    text = EXPERIMENT.replace('suite = "suite.toml"', 'suite = ["suite.toml", "sweeps.toml"]')
    exp = spec.load(_files(tmp_path, text))
    assert exp.suite_names == ("tiny", "sweeps")
    out = tmp_path / "out"
    planned = {p.name: p for p in steps.plan(exp, out, "sqlite:///m.db", "cpu")}
    assert {n for n in planned if n.startswith("suite/")} == {
        "suite/tiny/baselines", "suite/tiny/greedy", "suite/sweeps/baselines", "suite/sweeps/greedy"}
    step = planned["suite/sweeps/greedy"].step
    assert step.needs == ("suite/sweeps/baselines",)
    argv = list(step.argv[len(steps.CLI):])
    assert argv[2] == str((tmp_path / "sweeps.toml").resolve())
    assert argv[argv.index("--baselines") + 1] == str((out / "suite" / "sweeps" / "baselines" / "suite.json").resolve())
    assert argv[argv.index("-o") + 1] == str((out / "suite" / "sweeps" / "greedy").resolve())
    assert planned["suite/tiny/greedy"].step.done != step.done
    assert [steps.suite_tag(n) for n in ("suite/sweeps/greedy", "suite/sweeps/baselines", "suite/tiny/pbt/seed-1",
                                         "suite/greedy", "suite/baselines", "suite/pbt/seed-1")] == \
        ["sweeps", "sweeps", "tiny", "", "", ""]
    from popbased.experiment import status
    from popbased.experiment.record import RECORD, record

    out.mkdir()
    (out / RECORD).write_text(json.dumps(record(exp, list(planned.values()), out)))
    table = status.lines(status.status(out))
    assert table[1].split("\t") == ["arm / seed", "train", "export", "eval", "suite tiny", "suite sweeps"]
    assert any(line.startswith("suite baselines\t") for line in table)
    for bad, message in ((' ["suite.toml", "suite.toml"]', "a list of distinct ones"), (" []", "a list of distinct ones"),
                         (' ["suite.toml", "twin.toml"]', "two suites are both named 'tiny'")):
        (tmp_path / "twin.toml").write_text(SUITE)
        (tmp_path / "exp.toml").write_text(EXPERIMENT.replace(' "suite.toml"', bad))
        with pytest.raises(BadInput, match=message):
            spec.load(tmp_path / "exp.toml")


@pytest.mark.parametrize("head, message", [
    ('suite = "nope.toml"', "no such suite file"),
    ('suite_episodes = 3', "given without suite"),
])
def test_a_wrong_suite_is_one_line(tmp_path, head, message):
    text = EXPERIMENT.replace('suite = "suite.toml"\nsuite_episodes = 1', head)
    with pytest.raises(BadInput, match=message) as err:
        spec.load(_files(tmp_path, text))
    assert "\n" not in str(err.value)
    with pytest.raises(BadInput, match=r"focal: 9 focal seats"):
        spec.load(_files(tmp_path, suite=SUITE.replace("focal = 5", "focal = 9")))


def test_the_shipped_experiment_files_still_load():
    files = [p for p in (ROOT / "experiments").glob("*.toml") if "[experiment]" in p.read_text()]
    assert len(files) >= 3
    for path in files:
        spec.load(path)


MATRIX = """[experiment]
name = "tiny-matrix"
seeds = [0]
agent_steps = 400_000
episodes = 2
substrate = "open"
reference = "scripted:sustainable"
max_episode_steps = 40
suite = "suite.toml"
suite_episodes = 1

[arms.greedy]
policy = "scripted:greedy"

[arms.zapper]
policy = "scripted:greedy_zapper"

[matrix]
arms = ["greedy", "zapper"]
modes = ["resident"]
episodes = 1
"""


@pytest.mark.parametrize("table, message", [
    ('[matrix]\narms = ["nope"]\n', "'nope' is not an arm"),
    ('[matrix]\narms = ["greedy"]\nmodes = ["home"]\n', "allowed resident and/or visitor"),
    ('[matrix]\narms = []\n', "a list of distinct arm names"),
])
def test_a_wrong_matrix_is_one_line(tmp_path, table, message):
    text = MATRIX[:MATRIX.index("[matrix]")] + table
    with pytest.raises(BadInput, match=message) as err:
        spec.load(_files(tmp_path, text))
    assert "\n" not in str(err.value)


@pytest.mark.slow
def test_suite_and_cross_play_are_scored_in_the_report_and_kept_portably(tmp_path, monkeypatch, ray_local):
    """One tiny experiment of two champion arms with a suite and a matrix: each champion's suite
    score (baselines played once) and the cross-play cells in the report, their files kept in
    results/NAME/state without this machine's paths, and `status` showing both."""
    monkeypatch.chdir(tmp_path)
    # every step's process joins this worker's Ray instead of starting its own (what a user on a
    # cluster does with RAY_ADDRESS): the steps here are start-up, not play
    monkeypatch.setenv("RAY_ADDRESS", ray_local["address"])
    exp = spec.load(_files(tmp_path, MATRIX))
    planned = {p.name: p for p in steps.plan(exp, tmp_path / "out", "sqlite:///m.db", "cpu")}
    argv = list(planned["matrix/seed-0"].step.argv[len(steps.CLI):])
    assert argv[:6] == ["evaluate", "matrix", "scripted:greedy", "scripted:greedy_zapper", "random",
                        "scripted:sustainable"]
    failed = runner.run(tmp_path / "exp.toml", out=tmp_path / "out", parallel=2,
                        tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", results=tmp_path / "results",
                        reps={"aggregate": {"reps": 50}, "poi": {"reps": 20}, "profile": {"reps": 20}})
    assert failed == []
    made = json.loads((tmp_path / "out" / "suite" / "greedy" / "suite.json").read_text())
    assert {r["policy"] for r in made["rows"]} == {"random", "reference", "scripted:greedy"}
    assert made["baselines_from"].endswith("suite/baselines/suite.json")
    summary = json.loads((tmp_path / "results" / "summary.json").read_text())
    run = summary["arms"]["greedy"]["runs"]["-"]
    assert run["suite"]["of"] == 1
    if run["suite"]["scenarios"]:
        assert summary["arms"]["greedy"]["aggregate"]["suite"]["iqm"]["point"] == pytest.approx(run["suite"]["score"])
    report = (tmp_path / "results" / "report.md").read_text()
    assert "held-out suite score" in report
    assert set(summary["suite_scenarios"]["tiny"]["greedy"]) == set(run["suite"]["by_scenario"]) == {
        r["scenario"] for r in made["rows"]}
    assert run["suites"] == {"tiny": run["suite"]}
    assert "## Suite tiny by scenario" in report
    kept = (tmp_path / "results" / "state" / "suite" / "greedy" / "suite.json").read_text()
    assert str(tmp_path) not in kept
    cells = {(c["mode"], c["focal"], c["background"]): c for c in summary["cross_play"]["cells"]}
    roles = ("greedy", "zapper", "random", "reference")
    alone = {("resident", a, a) for a in ("greedy", "zapper")}  # their own evaluations
    assert set(cells) == {("resident", f, b) for f in roles for b in roles if f != b} | alone
    assert all(set(c["runs"]) == {"0"} for c in cells.values())
    assert all(cells[k].get("alone") for k in alone)
    assert cells[("resident", "greedy", "greedy")]["runs"]["0"] == pytest.approx(summary["arms"]["greedy"]["runs"]["-"]["score"])
    pairs = {(p["x"], p["y"]) for p in summary["cross_play"]["probability_of_improvement"]}
    assert ("resident: greedy vs random", "resident: zapper vs random") in pairs
    assert "## Cross-play (matrix)" in report
    kept = (tmp_path / "results" / "state" / "matrix" / "seed-0" / "evaluation.json").read_text()
    assert str(tmp_path) not in kept
    from popbased.experiment import status

    assert any("cross-play / seed 0" in line for line in status.lines(status.status(tmp_path / "out")))


def test_a_suite_added_or_changed_touches_only_its_own_finished_steps(tmp_path):
    """Suites are judged one by one: adding a suite to an experiment whose other suites have
    finished steps is no change (hours of Melting Pot episodes kept), changing one suite's
    contents is refused where that suite's steps finished (and names that suite alone)."""
    from popbased.experiment.record import RECORD, record

    sweeps = SUITE.replace('name = "tiny"', 'name = "sweeps"')
    (tmp_path / "sweeps.toml").write_text(sweeps)
    two = EXPERIMENT.replace('suite = "suite.toml"', 'suite = ["suite.toml", "sweeps.toml"]')
    out = tmp_path / "out"

    def plan(text):
        exp = spec.load(_files(tmp_path, text))
        return exp, record(exp, steps.plan(exp, out, "sqlite:///m.db", "cpu"), out)

    exp, first = plan(two)
    out.mkdir()
    (out / RECORD).write_text(json.dumps(first))
    for name in ("suite/tiny/baselines", "suite/tiny/greedy"):  # the tiny suite's steps finished
        row = next(r for r in first["steps"] if r["name"] == name)
        (out / row["marker"]).parent.mkdir(parents=True, exist_ok=True)
        (out / row["marker"]).write_text("{}")
    (tmp_path / "more.toml").write_text(SUITE.replace('name = "tiny"', 'name = "more"'))
    exp, added = plan(EXPERIMENT.replace('suite = "suite.toml"', 'suite = ["suite.toml", "sweeps.toml", "more.toml"]'))
    assert {n for n in (r["name"] for r in added["steps"]) if n.startswith("suite/more/")} == {
        "suite/more/baselines", "suite/more/greedy"}
    runner.unchanged(exp, added, out, tmp_path / "results")  # a suite added: no change
    (tmp_path / "sweeps.toml").write_text(sweeps.replace("focal = 5", "focal = 2"))
    exp, changed = plan(two)
    runner.unchanged(exp, changed, out, tmp_path / "results")  # sweeps changed: none of its steps finished
    (tmp_path / "sweeps.toml").write_text(sweeps)
    (tmp_path / "suite.toml").write_text(SUITE.replace("focal = 5", "focal = 2"))  # tiny changed
    exp = spec.load(tmp_path / "exp.toml")
    changed = record(exp, steps.plan(exp, out, "sqlite:///m.db", "cpu"), out)
    with pytest.raises(BadInput) as err:
        runner.unchanged(exp, changed, out, tmp_path / "results")
    said = str(err.value)
    assert "was made with another plan (suite 'tiny' " in said and "suite.toml': its contents (SHA-256 " in said
    assert "sweeps" not in said
