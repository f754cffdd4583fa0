"""`popbased experiment compare A:ARM B:ARM`: arms of two experiments' summaries compared across
their seeds (IQM, P(X > Y) against hand-computed values), refused when they were not evaluated
alike; bad references are one line, exit 2."""

import functools
import json

import pytest

from conftest import ROOT, invoke
from popbased.errors import BadInput
from popbased.experiment import compare

REPS = {"aggregate": {"reps": 200}, "poi": {"reps": 100}}


def summary(folder, name, arm, scores, seeds, **head):
    runs = {str(s): {"score": v, "normalised": (v - 1.0) / 9.0} for s, v in zip(seeds, scores)}
    made = {"experiment": name, "substrate": "open", "episodes": 30, "eval_seed": 0,
            "max_episode_steps": None, "reference_policy": "scripted:sustainable", "agent_steps": 3_000_000,
            "baselines": {"random": {"score": 1.0}, "reference": {"score": 10.0}},
            "arms": {arm: {"agent_steps": 3_000_000, "definition": {"population": "p.toml"}, "runs": runs}}}
    made.update(head)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.json").write_text(json.dumps(made))
    return folder


def test_two_experiments_arms_compared_with_hand_computed_probability(tmp_path):
    a = summary(tmp_path / "a", "fix", "pbt_world", [3.0, 4.0, 5.0], [5, 6, 7])
    b = summary(tmp_path / "b", "first", "pbt", [1.0, 2.0, 6.0], [0, 1, 2])
    made = compare.compare(f"{a}:pbt_world", f"{b / 'summary.json'}:pbt", reps=REPS)
    assert (made["x"], made["y"]) == ("fix:pbt_world", "first:pbt")
    # X's runs beat Y's in 6 of the 9 pairs (3, 4 and 5 each beat 1 and 2, none beats 6)
    assert made["probability_of_improvement"]["point"] == pytest.approx(6 / 9)
    x = made["arms"]["fix:pbt_world"]
    assert x["seeds"] == [5, 6, 7] and x["score_iqm"]["point"] == pytest.approx(4.0)
    assert x["normalised_iqm"]["point"] == pytest.approx(3 / 9)
    assert made["note"].endswith("none") and made["evaluated_alike"]["episodes"] == 30


@pytest.mark.parametrize("change, message", [
    ({"episodes": 15}, "episodes: 30 vs 15"),
    ({"eval_seed": 3}, "eval_seed: 0 vs 3"),
    ({"substrate": "no_zap"}, "substrate: 'open' vs 'no_zap'"),
])
def test_experiments_evaluated_otherwise_are_refused_in_one_line(tmp_path, change, message):
    a = summary(tmp_path / "a", "a", "x", [1.0, 2.0], [0, 1])
    b = summary(tmp_path / "b", "b", "y", [1.0, 2.0], [0, 1], **change)
    with pytest.raises(BadInput, match=message) as err:
        compare.compare(f"{a}:x", f"{b}:y")
    assert "\n" not in str(err.value)


def test_a_budget_trend_compares_across_budgets_when_asked(tmp_path, monkeypatch):
    a = summary(tmp_path / "a", "long", "x", [3.0, 4.0, 5.0], [0, 1, 2], agent_steps=8_000_000)
    a_summary = json.loads((a / "summary.json").read_text())
    a_summary["arms"]["x"]["agent_steps"] = 8_000_000
    (a / "summary.json").write_text(json.dumps(a_summary))
    b = summary(tmp_path / "b", "short", "x", [1.0, 2.0, 6.0], [0, 1, 2])
    with pytest.raises(BadInput, match=r"agent_steps: 8000000 vs 3000000.*--across-budgets"):
        compare.compare(f"{a}:x", f"{b}:x")
    made = compare.compare(f"{a}:x", f"{b}:x", reps=REPS, across_budgets=True)
    assert made["probability_of_improvement"]["point"] == pytest.approx(6 / 9)
    assert [made["arms"][k]["agent_steps"] for k in ("long:x", "short:x")] == [8_000_000, 3_000_000]
    assert "agent_steps" not in made["evaluated_alike"] and made["note"].endswith("[0, 1, 2]")
    # what the budget does not excuse is still refused
    c = summary(tmp_path / "c", "c", "x", [1.0, 2.0], [0, 1], episodes=15)
    with pytest.raises(BadInput, match="episodes: 30 vs 15"):
        compare.compare(f"{a}:x", f"{c}:x", across_budgets=True)
    # the CLI's line (its bootstrap made small: the numbers are checked above)
    monkeypatch.setattr(compare, "compare", functools.partial(compare.compare, reps=REPS))
    result = invoke("experiment", "compare", f"{a}:x", f"{b}:x", "--across-budgets")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("long:x: 3 runs (seeds 0, 1, 2; 8,000,000 agent-steps each), score IQM 4.00")


def test_bad_references_are_one_line_exit_2_and_nothing_is_overwritten(tmp_path):
    a = summary(tmp_path / "a", "a", "x", [1.0, 2.0], [0, 1])
    cases = [((f"{a}", f"{a}:x"), "expected RESULTS:ARM"),
             ((f"{a}:nope", f"{a}:x"), "no arm 'nope'"),
             ((f"{tmp_path / 'none'}:x", f"{a}:x"), "does not exist"),
             ((f"{a}:x", f"{a}:x"), "the same arm")]
    for args, message in cases:
        result = invoke("experiment", "compare", *args)
        assert result.exit_code == 2 and message in result.output, result.output
    kept = tmp_path / "kept.json"
    kept.write_text("mine")
    b = summary(tmp_path / "b", "b", "y", [0.0, 3.0], [0, 1])
    result = invoke("experiment", "compare", f"{a}:x", f"{b}:y", "-o", kept)
    assert result.exit_code == 2 and "exists" in result.output and kept.read_text() == "mine"


def test_the_committed_world_seating_comparison_is_what_the_summaries_give():
    """README's cross-experiment figure: world-seated PBT champions (seeds 5-9) over mixed-seated
    ones (seeds 0-4), recomputed from the committed summaries."""
    made = compare.compare(f"{ROOT / 'results' / 'pbt-world-seating'}:pbt_world",
                           f"{ROOT / 'results' / 'pbt-vs-random-search'}:pbt", reps=REPS)
    ours = json.loads((ROOT / "results" / "pbt-world-seating" / "compared" / "pbt_world-vs-mixed-pbt.json").read_text())
    assert (ours["x"], ours["y"]) == (made["x"], made["y"])
    assert ours["probability_of_improvement"]["point"] == pytest.approx(made["probability_of_improvement"]["point"])
    assert ours["arms"]["pbt-world-seating:pbt_world"]["scores"] == made["arms"]["pbt-world-seating:pbt_world"]["scores"]
