"""The cross-play report ([matrix]): cells per mode, focal and background across seeds, the
diagonal filled from each matrix arm's own evaluation ("alone"), P(X > Y) against the same
background, and the matrix's baselines."""

import json

import pandas as pd
import pytest

from popbased.errors import BadInput
from popbased.experiment import report, spec, steps
from popbased.experiment.record import read_record
from popbased.study.steps import write_marker
from test_experiment_carry import finished, plan_in  # noqa: F401 - the fixture
from test_experiment_report import FILE, REPS

MATRIX = '\n[matrix]\narms = ["pbt", "ppo"]\nmodes = ["resident"]\nepisodes = 2\n'
FOCAL = {("pbt", "ppo"): 50.0, ("ppo", "pbt"): 95.0, ("pbt", "random"): 30.0, ("ppo", "random"): 20.0,
         ("random", "pbt"): 10.0, ("random", "ppo"): 12.0, ("pbt", "reference"): 45.0,
         ("ppo", "reference"): 44.0, ("reference", "pbt"): 60.0, ("reference", "ppo"): 61.0,
         ("random", "reference"): 15.0, ("reference", "random"): 70.0}
"""The focal players' per-capita return per 1,000 steps in each (focal, background) pair; seed 1
adds 1 to each."""


def matrix_table(labels: dict[str, str], bump: float) -> pd.DataFrame:
    rows = []
    for (focal, background), rate in FOCAL.items():
        for episode, steps_ in enumerate((1000, 2000)):
            rows.append({"mode": "resident", "policy": labels[focal], "background": labels[background],
                         "episode": episode, "steps": steps_, "focal_return": (rate + bump) * steps_ / 1000})
    return pd.DataFrame(rows)


def test_the_diagonal_is_each_arms_own_evaluation(finished, tmp_path):  # noqa: F811
    out, _ = finished
    (tmp_path / "exp.toml").write_text(FILE + MATRIX)
    every = plan_in(tmp_path, out)
    record = read_record(out)
    assert record["matrix_roles"] == ["pbt", "ppo", "random", "reference"]
    labels = {"pbt": "open", "ppo": "m0", "random": "random", "reference": "ref"}
    for p in every:
        if p.stage == "matrix" and p.seed in (0, 1):
            p.step.fresh.mkdir(parents=True)
            matrix_table(labels, float(p.seed)).to_csv(p.step.fresh / "episodes.csv", index=False)
            (p.step.fresh / "evaluation.json").write_text(json.dumps({"policies": list(labels.values())}))
            write_marker(p.name, p.step.done, {"seconds": 1.0})
    c = report.collect(out, REPS)["cross_play"]
    cells = {(x["mode"], x["focal"], x["background"]): x for x in c["cells"]}
    # the matrix's own 12 cells, and the two arms alone from their evaluations (RATES: pbt 40
    # and 60 on seeds 0 and 1, ppo 80 and 90)
    assert len(cells) == 14
    assert cells[("resident", "ppo", "pbt")]["runs"] == {"0": pytest.approx(95.0), "1": pytest.approx(96.0)}
    assert cells[("resident", "pbt", "pbt")]["runs"] == {"0": pytest.approx(40.0), "1": pytest.approx(60.0)}
    assert cells[("resident", "ppo", "ppo")]["runs"] == {"0": pytest.approx(80.0), "1": pytest.approx(90.0)}
    assert cells[("resident", "pbt", "pbt")]["alone"] is True and "alone" not in cells[("resident", "ppo", "pbt")]
    poi = {(p["x"], p["y"]): p["point"] for p in c["probability_of_improvement"]}
    # among pbt's: ppo's champion (95, 96) beats pbt's alone (40, 60) in every seed pair; among
    # ppo's, pbt's (50, 51) loses to ppo's alone (80, 90); the stranger is X, the arm alone Y
    assert poi[("resident: ppo vs pbt", "resident: pbt vs pbt")] == pytest.approx(1.0)
    assert poi[("resident: pbt vs ppo", "resident: ppo vs ppo")] == pytest.approx(0.0)
    assert poi[("resident: pbt vs random", "resident: ppo vs random")] == pytest.approx(1.0)
    # one focal arm among the other's players against itself alone: pbt among ppo's (50, 51)
    # above pbt alone (40, 60) in 2 of 4 seed pairs; ppo among pbt's (95, 96) above ppo alone (80, 90)
    assert poi[("resident: pbt vs ppo", "resident: pbt vs pbt")] == pytest.approx(0.5)
    assert poi[("resident: ppo vs pbt", "resident: ppo vs ppo")] == pytest.approx(1.0)
    assert len(poi) == 6  # against pbt, ppo, random and the reference, and the two focal-fixed pairs
    assert not [k for k in poi if "vs reference" in k[0] and ("random" in k[0].split(" vs ")[0])]
    from popbased.experiment import markdown

    text = "\n".join(markdown._cross_play(c))
    assert "| resident | pbt | pbt (alone) | 2 |" in text


def test_a_matrix_may_leave_a_baseline_out(tmp_path):
    (tmp_path / "ref.pt").write_bytes(b"")
    from conftest import POPS
    import shutil

    shutil.copy(POPS / "open.toml", tmp_path / "open.toml")
    path = tmp_path / "exp.toml"
    path.write_text(FILE + MATRIX + 'baselines = ["random"]\n')
    exp = spec.load(path)
    assert steps.matrix_roles(exp) == ["pbt", "ppo", "random"]
    step = next(p for p in steps.plan(exp, tmp_path / "out", "sqlite:///m.db") if p.stage == "matrix")
    argv = step.step.argv[len(steps.CLI):]
    assert argv[4] == "random" and argv[5] == "--substrate" and "ref.pt" not in " ".join(argv)
    assert step.units == 2 * 3 * 2  # 3 policies: 6 ordered pairs, one mode, 2 episodes
    for table, message in (('baselines = ["nobody"]\n', r"baselines=\['nobody'\]: a list of distinct baselines among random, reference"),
                           ('baselines = "random"\n', "a list of distinct baselines"),):
        path.write_text(FILE + MATRIX + table)
        with pytest.raises(BadInput, match=message) as err:
            spec.load(path)
        assert "\n" not in str(err.value)
    path.write_text(FILE.replace('reference = "ref.pt"\n', "") + MATRIX + 'baselines = ["reference"]\n')
    with pytest.raises(BadInput, match="among random \\(reference needs"):
        spec.load(path)
    path.write_text(FILE + MATRIX.replace('["pbt", "ppo"]', '["pbt"]') + 'baselines = []\n')
    with pytest.raises(BadInput, match="one arm and no baseline is no cross-play"):
        spec.load(path)


def test_the_diagonal_lists_its_seeds_in_order():
    """The alone cells' values in seed order, whatever order a set gives: a stratified
    bootstrap's interval follows the order of the values, and a set of strings has another
    order in every process (two reports of the same folder differed in a CI bound)."""
    seeds = ["10", "3", "0", "7", "1", "12", "5", "2", "9"]
    cells = {("resident", "a", "b"): {s: 1.0 for s in seeds}, ("visitor", "a", "b"): {"4": 2.0, "0": 1.0}}
    arms = {"a": {"runs": {s: {"score": float(s)} for s in seeds + ["4"]}}}
    alone = report._alone({"matrix_arms": ["a"]}, cells, arms)
    assert list(alone) == [("resident", "a", "a"), ("visitor", "a", "a")]
    assert list(alone[("resident", "a", "a")]) == sorted(seeds, key=int)
    assert list(alone[("visitor", "a", "a")]) == ["0", "4"]
