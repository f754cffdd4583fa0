"""The held-out suite read back by scenario in an experiment's report: each arm's champions
across seeds per scenario (score IQM with its CI, focal return, depletion both ways), whether
each is above random play with the CIs apart (random play's own CI bootstrapped over its
episodes), and P(X > Y) on the suite's overall score."""

import json

import pytest

from popbased.experiment import markdown, report

REPS = {"aggregate": {"reps": 200}, "poi": {"reps": 50}}
SCORES = {"open_only": {"a": [0.5, 0.6, 0.7], "b": [-0.2, 0.1, 0.3], "d": [0.1, 0.12, 0.14]},
          "across": {"a": [0.8, 0.9, 1.0], "b": [0.4, 0.5, 0.6], "d": [0.5, 0.55, 0.6]}}
RANDOM = [2.0, 6.0, 10.0, 14.0, 18.0] * 2  # random play's focal return per episode: mean 10; -0.4..0.4 on the score's scale


def suite_json(arm: str, seed: int) -> dict:
    label = f"{arm}-champion"
    rows = []
    for scenario, scores in SCORES[arm].items():
        rows += [{"scenario": scenario, "policy": "random", "score": 0.0, "focal_return": 10.0, "focal_returns": RANDOM},
                 {"scenario": scenario, "policy": "reference", "score": 1.0, "focal_return": 30.0},
                 {"scenario": scenario, "policy": label, "score": scores[seed], "focal_return": 10 + 20 * scores[seed],
                  "depleted": 0.1 * seed, "proxy_depleted": 0.5}]
    rows.append({"scenario": "c", "policy": label, "score": float("nan"), "focal_return": 3.0})
    mine = [r["score"] for r in rows if r["policy"] == label and r["score"] == r["score"]]
    return {"suite": "heldout", "rows": rows, "overall": {"random": {"score": 0.0}, "reference": {"score": 1.0},
                                      label: {"score": sum(mine) / len(mine), "scenarios": len(mine), "of": len(mine) + 1}}}


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
    assert run["score"] == pytest.approx((0.6 + 0.1 + 0.12) / 3) and run["scenarios"] == 3
    assert run["random_episodes"]["a"] == pytest.approx([-0.4, -0.2, 0.0, 0.2, 0.4] * 2)
    assert run["by_scenario"]["a"] == {"score": 0.6, "focal_return": pytest.approx(22.0), "depleted": 0.1,
                                       "proxy_depleted": 0.5}
    assert run["by_scenario"]["c"] == {"focal_return": 3.0}  # no score where the reference is no better
    by = report.suite_scenarios(arms, REPS)["heldout"]
    assert by["across"]["b"]["score"]["iqm"]["point"] == pytest.approx(0.5)
    band = by["across"]["b"]["random"]  # the mean of ten episodes' -0.4..0.4 bootstrapped: about 0
    assert band["point"] == pytest.approx(0.0) and -0.4 < band["low"] < -0.05 and 0.05 < band["high"] < 0.4
    assert by["open_only"]["d"]["random"] == band  # one band a scenario, whichever arm
    assert by["across"]["b"]["above_random"] is True  # 0.4..0.6: CI above random's
    assert by["open_only"]["b"]["above_random"] is False  # -0.2..0.3: CI reaches below 0
    assert by["open_only"]["d"]["score"]["iqm"]["low"] > 0  # 0.1..0.14: above random's mean,
    assert by["open_only"]["d"]["above_random"] is False  # but not above its CI
    assert by["across"]["d"]["above_random"] is True
    assert by["open_only"]["a"]["depleted"] == pytest.approx(0.1) and by["open_only"]["a"]["seeds"] == 3
    assert by["across"]["c"]["score"] == {} and by["across"]["c"]["above_random"] is False
    poi = report.suite_poi(arms, REPS)
    assert [(p["x"], p["y"], p["suite"], p["point"]) for p in poi] == [("open_only", "across", "heldout", 0.0)]
    overall = report.suite_overall(arms, REPS)["heldout"]  # each run's mean over a, b, d
    assert overall["across"]["runs"] == 3 and overall["across"]["mean"]["point"] == pytest.approx(
        sum(sum(v) for v in SCORES["across"].values()) / 9)
    assert overall["open_only"]["iqm"]["low"] <= overall["open_only"]["iqm"]["point"] <= overall["open_only"]["iqm"]["high"]
    text = "\n".join(markdown._suite({"suite_scenarios": {"heldout": by}, "suite_overall": {"heldout": overall},
                                      "suite_probability_of_improvement": [
        {"x": "across", "y": "open_only", "point": 1.0, "low": 1.0, "high": 1.0, "suite": "heldout"}]}))
    assert "## Suite heldout by scenario" in text
    assert f"| across | 3 | {overall['across']['iqm']['point']:.3f} [" in text
    assert "1 = the reference focal" in text
    arms["across"]["runs"]["0"]["suites"]["heldout"]["reference"] = ["scripted:sustainable", "scripted:greedy"]
    several = "\n".join(markdown._suite({"suite_scenarios": {"heldout": by}, "arms": arms}))
    assert "1 = the best of the references focal per scenario (scripted:sustainable, scripted:greedy)" in several
    assert "| b | across | 3 | 0.50 [" in text and f"| 10% / 50% | [{band['low']:.2f}, {band['high']:.2f}] | yes |" in text
    assert "| c | across | 3 | - | 3.0 | - / - | - | no |" in text  # no score, no random band
    assert "| across | open_only | 1.00 [1.00, 1.00] |" in text
    assert report.suite_scenarios({"x": {"runs": {"0": {"score": 1.0}}}}, REPS) is None
