"""The held-out suite read back by scenario in an experiment's report: each arm's champions
across seeds per scenario (score IQM with its CI, focal return, depletion both ways), whether
each is above random play with its CI apart, and P(X > Y) on the suite's overall score."""

import json

import pytest

from popbased.experiment import markdown, report

REPS = {"aggregate": {"reps": 200}, "poi": {"reps": 50}}
SCORES = {"open_only": {"a": [0.5, 0.6, 0.7], "b": [-0.2, 0.1, 0.3]},
          "across": {"a": [0.8, 0.9, 1.0], "b": [0.4, 0.5, 0.6]}}


def suite_json(arm: str, seed: int) -> dict:
    label = f"{arm}-champion"
    rows = []
    for scenario, scores in SCORES[arm].items():
        rows += [{"scenario": scenario, "policy": "random", "score": 0.0, "focal_return": 10.0},
                 {"scenario": scenario, "policy": "reference", "score": 1.0, "focal_return": 30.0},
                 {"scenario": scenario, "policy": label, "score": scores[seed], "focal_return": 10 + 20 * scores[seed],
                  "depleted": 0.1 * seed, "proxy_depleted": 0.5}]
    rows.append({"scenario": "c", "policy": label, "score": float("nan"), "focal_return": 3.0})
    mine = [r["score"] for r in rows if r["policy"] == label and r["score"] == r["score"]]
    return {"suite": "heldout", "rows": rows, "overall": {"random": {"score": 0.0}, "reference": {"score": 1.0},
                                      label: {"score": sum(mine) / len(mine), "scenarios": 2, "of": 3}}}


def test_suite_scores_by_scenario_across_seeds(tmp_path):
    rows, arms = {}, {}
    for arm in SCORES:
        arms[arm] = {"runs": {}}
        for seed in range(3):
            folder = tmp_path / "suite" / arm / f"seed-{seed}"
            folder.mkdir(parents=True)
            (folder / "suite.json").write_text(json.dumps(suite_json(arm, seed)))
            (tmp_path / f"{arm}-{seed}.json").write_text("{}")
            rows[f"suite/{arm}/seed-{seed}"] = {"marker": f"{arm}-{seed}.json", "folder": str(folder.relative_to(tmp_path))}
            got = report.suite_score(tmp_path, rows, arm, seed)
            arms[arm]["runs"][str(seed)] = {"suite": got, "suites": {got["suite"]: got}}
    run = arms["open_only"]["runs"]["1"]["suite"]
    assert run["score"] == pytest.approx((0.6 + 0.1) / 2) and run["scenarios"] == 2
    assert run["by_scenario"]["a"] == {"score": 0.6, "focal_return": pytest.approx(22.0), "depleted": 0.1,
                                       "proxy_depleted": 0.5}
    assert run["by_scenario"]["c"] == {"focal_return": 3.0}  # no score where the reference is no better
    by = report.suite_scenarios(arms, REPS)["heldout"]
    assert by["across"]["b"]["score"]["iqm"]["point"] == pytest.approx(0.5)
    assert by["across"]["b"]["above_random"] is True  # 0.4..0.6: CI above 0
    assert by["open_only"]["b"]["above_random"] is False  # -0.2..0.3: CI reaches below 0
    assert by["open_only"]["a"]["depleted"] == pytest.approx(0.1) and by["open_only"]["a"]["seeds"] == 3
    assert by["across"]["c"]["score"] == {} and by["across"]["c"]["above_random"] is False
    poi = report.suite_poi(arms, REPS)
    assert [(p["x"], p["y"], p["suite"], p["point"]) for p in poi] == [("open_only", "across", "heldout", 0.0)]
    text = "\n".join(markdown._suite({"suite_scenarios": {"heldout": by}, "suite_probability_of_improvement": [
        {"x": "across", "y": "open_only", "point": 1.0, "low": 1.0, "high": 1.0, "suite": "heldout"}]}))
    assert "## Suite heldout by scenario" in text
    assert "| b | across | 3 | 0.50 [" in text and "| 10% / 50% | yes |" in text
    assert "| across | open_only | 1.00 [1.00, 1.00] |" in text
    assert report.suite_scenarios({"x": {"runs": {"0": {"score": 1.0}}}}, REPS) is None
