"""`popbased experiment trend LABEL=RESULTS:ARM ...`: arms of experiments at several budgets read
as series, each point's IQM and P(X > Y) at a shared budget against hand-computed values, the
figure written beside the JSON; bad input is one line, exit 2, and nothing is overwritten."""

import functools
import json

import pytest

from conftest import invoke
from popbased.errors import BadInput
from popbased.experiment import trend
from test_experiment_compare import REPS, summary


def _at(folder, name, arms: dict, budget: int):
    """An experiment's summary whose arms (name -> scores of seeds 0, 1, 2) trained `budget`."""
    made = summary(folder, name, "_", [1.0], [0], agent_steps=budget)
    data = json.loads((made / "summary.json").read_text())
    data["arms"] = {arm: {"agent_steps": budget, "runs": {str(s): {"score": v, "normalised": (v - 1.0) / 9.0}
                                                          for s, v in enumerate(scores)}}
                    for arm, scores in arms.items()}
    (made / "summary.json").write_text(json.dumps(data))
    return made


@pytest.fixture
def two_budgets(tmp_path):
    short = _at(tmp_path / "short", "short", {"pbt": [1.0, 2.0, 3.0], "rs": [2.0, 3.0, 4.0]}, 4_000_000)
    long = _at(tmp_path / "long", "long", {"pbt_8m": [5.0, 6.0, 7.0], "rs_8m": [3.0, 4.0, 8.0]}, 8_000_000)
    return short, long


def test_series_points_by_budget_and_p_at_each_shared_budget(two_budgets):
    short, long = two_budgets
    made = trend.trend([f"pbt={long}:pbt_8m", f"pbt={short}:pbt", f"rs={short}:rs", f"rs={long}:rs_8m"],
                       reps=REPS)
    pbt = made["series"]["pbt"]
    assert [p["agent_steps"] for p in pbt] == [4_000_000, 8_000_000]  # sorted by budget
    assert pbt[0]["score_iqm"]["point"] == pytest.approx(2.0) and pbt[1]["score_iqm"]["point"] == pytest.approx(6.0)
    assert pbt[1]["normalised_iqm"]["point"] == pytest.approx(5.0 / 9.0)
    assert [(c["agent_steps"], c["x"], c["y"]) for c in made["compared"]] == [(4_000_000, "pbt", "rs"),
                                                                              (8_000_000, "pbt", "rs")]
    # 4M: pbt's 1, 2, 3 against rs's 2, 3, 4: one pair won (3 > 2), two tied (2-2, 3-3, a
    # half each) -> 2/9
    assert made["compared"][0]["probability_of_improvement"]["point"] == pytest.approx(2 / 9)
    # 8M: 5, 6, 7 against 3, 4, 8: each beats 3 and 4, none beats 8 -> 6/9
    assert made["compared"][1]["probability_of_improvement"]["point"] == pytest.approx(6 / 9)


def test_through_the_cli_with_its_figure_never_overwritten(two_budgets, tmp_path, monkeypatch):
    short, long = two_budgets
    monkeypatch.setattr(trend, "trend", functools.partial(trend.trend, reps=REPS))
    out = tmp_path / "trend.json"
    args = ["experiment", "trend", f"pbt={short}:pbt", f"pbt={long}:pbt_8m", f"rs={short}:rs", "-o", str(out)]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert "pbt at 8,000,000 agent-steps" in result.output and "at 4,000,000: P(pbt > rs) = 0.22" in result.output
    assert json.loads(out.read_text())["series"]["rs"][0]["arm"] == "rs"
    assert out.with_suffix(".png").stat().st_size > 0
    again = invoke(*args)
    assert again.exit_code == 2 and "never overwritten" in again.output


@pytest.mark.parametrize("specs, message", [
    (["pbt"], "expected LABEL=RESULTS:ARM"),
    (["pbt=SHORT:pbt"], "at least two points"),
    (["pbt=SHORT:pbt", "pbt=SHORT:rs"], "already has a point at 4,000,000"),
    (["pbt=SHORT:pbt", "rs=SHORT:nope"], "no arm 'nope'"),
])
def test_bad_series_are_one_line(two_budgets, specs, message):
    short, _ = two_budgets
    specs = [s.replace("SHORT", str(short)) for s in specs]
    with pytest.raises(BadInput, match=message) as err:
        trend.trend(specs)
    assert "\n" not in str(err.value)
    result = invoke("experiment", "trend", *specs)
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1


def test_experiments_evaluated_otherwise_are_refused(two_budgets, tmp_path):
    short, _ = two_budgets
    other = summary(tmp_path / "other", "other", "x", [1.0, 2.0], [0, 1], episodes=15)
    with pytest.raises(BadInput, match="episodes: 30 vs 15"):
        trend.trend([f"a={short}:pbt", f"a={other}:x"])
