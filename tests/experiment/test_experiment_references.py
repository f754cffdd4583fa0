"""An experiment's suites scored again by the best of more references (popbased.experiment.
references, `popbased experiment references`): per scenario the best reference is the 1, the
champions' kept rows are scored again without replaying anything, beside their one-reference
scores; a policy played otherwise than the experiment's suite is one line, exit 2."""

import hashlib
import json

import pytest

from popbased.errors import BadInput
from popbased.experiment import references

from conftest import one_line_error, popbased

REPS = {"aggregate": {"reps": 200}, "poi": {"reps": 50}}
SAME = {"suite": "t", "episodes": 2, "seed": 0, "env": "meltingpot", "max_episode_steps": None}
RANDOM = {"a": [0.0, 0.0], "b": [0.0, 2.0]}  # means 0 and 1
OWN = {"a": [10.0, 10.0], "b": [11.0, 11.0]}  # the suite's reference, scripted:sustainable
GREEDY = {"a": [20.0, 20.0], "b": [6.0, 6.0]}  # better in a only
CHAMPIONS = {"across": {"0": {"a": 10.0, "b": 6.0}, "1": {"a": 15.0, "b": 11.0}},
             "alone": {"0": {"a": 0.0, "b": 1.0}, "1": {"a": 5.0, "b": 6.0}}}


def _rows(label, returns):
    return [{"scenario": sc, "policy": label, "focal_returns": v, "focal_return": sum(v) / len(v)}
            for sc, v in returns.items()]


def _made(label=None, returns=None, random=RANDOM, score=0.0, **changed):
    """A suite.json: random play and the suite's reference, and `label`'s rows (its focal return
    per episode by scenario) with its overall score `score`, as `evaluate suite` writes it."""
    rows = _rows("random", random) + _rows("reference", OWN) + (_rows(label, returns) if label else [])
    overall = {"random": {"score": 0.0}, "reference": {"score": 1.0}, **({label: {"score": score}} if label else {})}
    return {**SAME, **changed, "rows": rows, "overall": overall}


def _one_reference(by):
    """A champion's overall score by the suite's own reference."""
    means = {sc: sum(v) / len(v) for sc, v in RANDOM.items()}
    return sum((by[sc] - means[sc]) / (sum(OWN[sc]) / 2 - means[sc]) for sc in by) / len(by)


def _experiment(tmp_path):
    (tmp_path / "s.toml").write_text('[suite]\nname = "t"\n[scenarios.a]\nsubstrate = "open"\nfocal = 7\n'
                                     '[scenarios.b]\nsubstrate = "open"\nfocal = 7\n')
    results = tmp_path / "results"
    steps = results / "state" / "suite" / "t"
    (steps / "baselines").mkdir(parents=True)
    (steps / "baselines" / "suite.json").write_text(json.dumps(_made()))
    for arm, seeds in CHAMPIONS.items():
        for seed, by in seeds.items():
            folder = steps / arm / f"seed-{seed}"
            folder.mkdir(parents=True)
            made = _made("m0 (champion)", {sc: [v, v] for sc, v in by.items()}, score=_one_reference(by))
            folder.joinpath("suite.json").write_text(json.dumps(made))
    digest = hashlib.sha256((tmp_path / "s.toml").read_bytes()).hexdigest()
    (results / "summary.json").write_text(json.dumps({"experiment": "x", "suite": ["s.toml"], "suite_tags": ["t"],
                                                      "suite_sha256": [digest], "arms": {"alone": {}, "across": {}}}))
    greedy = tmp_path / "greedy.json"
    greedy.write_text(json.dumps(_made("scripted:greedy", GREEDY)))
    return results, greedy


def test_each_scenario_is_scored_by_its_best_reference_without_replaying(tmp_path):
    results, greedy = _experiment(tmp_path)
    made = references.rescore(results, [greedy], root=tmp_path, reps=REPS)["suites"]["t"]
    assert made["references"] == ["reference:scripted:sustainable", "reference:scripted:greedy"]
    assert made["best_of"] == {"a": "reference:scripted:greedy", "b": "reference:scripted:sustainable"}
    assert made["scenarios_where_another_is_best"] == ["a"]
    across = made["arms"]["across"]
    # seed 0: a 10 of greedy's 20 (0.5; 1.0 by the suite's own reference), b (6 - 1) / (11 - 1) = 0.5
    assert across["runs"]["0"] == pytest.approx(0.5) and across["runs_one_reference"]["0"] == pytest.approx(0.75)
    assert across["runs"]["1"] == pytest.approx((0.75 + 1.0) / 2)
    assert across["aggregate"]["mean"]["point"] == pytest.approx((0.5 + 0.875) / 2)
    assert across["aggregate_one_reference"]["mean"]["point"] == pytest.approx((0.75 + (1.5 + 1.0) / 2) / 2)
    # X, Y in the report's order of the arms
    assert [(p["x"], p["y"], p["point"]) for p in made["probability_of_improvement"]] == [("alone", "across", 0.0)]


@pytest.mark.parametrize("change, message", [
    ({"episodes": 3}, "played with another episodes (3; the experiment's 2)"),
    ({"random": {"a": [1.0, 0.0], "b": [0.0, 2.0]}}, "its random play is not the experiment's"),
    ({"suite": "other"}, "suite 'other' is not one of the experiment's (t)"),
])
def test_a_policy_played_otherwise_is_one_line(tmp_path, change, message):
    results, greedy = _experiment(tmp_path)
    greedy.write_text(json.dumps(_made("scripted:greedy", GREEDY, **change)))
    with pytest.raises(BadInput, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        references.rescore(results, [greedy], root=tmp_path, reps=REPS)
    assert "\n" not in str(err.value)


def test_a_reference_given_twice_or_a_suite_changed_since_is_one_line(tmp_path):
    results, greedy = _experiment(tmp_path)
    with pytest.raises(BadInput, match="scripted:greedy is given twice for suite t"):
        references.rescore(results, [greedy, greedy], root=tmp_path, reps=REPS)
    own = tmp_path / "own.json"
    own.write_text(json.dumps(_made("scripted:sustainable", GREEDY)))
    with pytest.raises(BadInput, match="scripted:sustainable is suite t's own reference already"):
        references.rescore(results, [own], root=tmp_path, reps=REPS)
    (tmp_path / "s.toml").write_text((tmp_path / "s.toml").read_text().replace('[scenarios.b]', '[scenarios.c]'))
    with pytest.raises(BadInput, match="suite s.toml: changed since the experiment scored with it") as err:
        references.rescore(results, [greedy], root=tmp_path, reps=REPS)
    assert "\n" not in str(err.value)


def test_from_the_cli_and_bad_input_is_exit_2(tmp_path):
    results, greedy = _experiment(tmp_path)
    done = popbased(tmp_path, "experiment", "references", results, greedy, "-o", "best.json")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "another than the suite's own is best in 1 of 2 scenarios" in done.stdout
    assert "across: 2 runs, overall score IQM" in done.stdout
    assert json.loads((tmp_path / "best.json").read_text())["suites"]["t"]["best_of"]["a"] == "reference:scripted:greedy"
    one_line_error(popbased(tmp_path, "experiment", "references", results, greedy, "-o", "best.json"),
                   "-o best.json: exists")
    one_line_error(popbased(tmp_path, "experiment", "references", tmp_path / "nowhere", greedy),
                   "does not exist")
