"""popbased.experiment.report on an experiment folder whose evaluations are written by hand
(episodes.csv as `evaluate run` writes it): each run's score and normalised score, the
aggregates across seeds, probability of improvement for every pair, depletion both ways, patch
deaths (from evaluations that counted them; older ones read n/a) and harvest efficiency against
the open map's ceiling, a run not evaluated yet, report.md's tables and a summary.json without
absolute paths. Few bootstrap replications: quick."""

import json
import shutil

import pandas as pd
import pytest

from conftest import POPS
from popbased.experiment import markdown, report, spec, steps
from popbased.experiment.record import RECORD, record
from popbased.study.steps import write_marker

FILE = """
[experiment]
name = "handmade"
seeds = [0, 1, 2]
agent_steps = 100_000
episodes = 2
reference = "ref.pt"

[arms.pbt]
population = "open.toml"
generations = 2
note = "ranges chosen by hand after 5-minute runs"

[arms.ppo]
shaping = { last_apples = -3.0 }

[arms.old]
policy = "ref.pt"
"""
REPS = {"aggregate": {"reps": 100}, "poi": {"reps": 30}, "profile": {"reps": 30}}
RATES = {"random": 20.0, "reference": 100.0, "pbt/seed-0": 40.0, "pbt/seed-1": 60.0,
         "ppo/seed-0": 80.0, "ppo/seed-1": 90.0, "ppo/seed-2": 100.0, "old": 30.0,
         "pbt/seed-0/population": 70.0, "pbt/seed-1/population": 85.0}
"""Per-capita return per 1,000 steps of each evaluation (pbt/seed-2: not evaluated yet, as
its champion or as its population)."""
PATCH_DEATHS = {"random": [6, 6], "reference": [0, 0], "ppo/seed-0": [0, 3], "ppo/seed-1": [6, 3],
                "ppo/seed-2": [0, 0]}
"""Patches (of 6) that died in each episode of the evaluations that counted them; the others
are written as before popbased counted patches (no such columns)."""


def episodes(rate: float, patch_deaths: list[int] | None = None) -> pd.DataFrame:
    """Two episodes scoring `rate` per 1,000 steps, of different lengths, eating as many
    apples; the first depleted by the proxy, none by the world count."""
    table = {"policy": "p", "point": "default", "episode": [0, 1], "steps": [1000, 4000],
             "per_capita_return": [rate, 4 * rate], "depleted": [False, False],
             "proxy_depleted": [True, False], "apples_eaten_per_capita": [rate, 4 * rate]}
    if patch_deaths is not None:
        table.update(patches=[6, 6], patch_deaths=patch_deaths)
    return pd.DataFrame(table)


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(POPS / "open.toml", tmp_path / "open.toml")
    (tmp_path / "ref.pt").write_bytes(b"")
    (tmp_path / "exp.toml").write_text(FILE)
    exp = spec.load(tmp_path / "exp.toml")
    out = tmp_path / "out"
    plan = steps.plan(exp, out, "sqlite:///m.db")
    out.mkdir()
    (out / RECORD).write_text(json.dumps(record(exp, plan, out)))
    for p in plan:
        name = p.name.split("/", 1)[1]
        if p.stage == "eval" and name in RATES:
            write_marker(p.name, p.step.done, {"seconds": 1.0, "result": {}})
            p.step.fresh.mkdir(parents=True)
            episodes(RATES[name], PATCH_DEATHS.get(name)).to_csv(p.step.fresh / "episodes.csv", index=False)
        if p.stage == "train" and p.arm == "ppo":
            write_marker(p.name, p.step.done, {"result": {"agent_steps": 100_800}})
    return out


def test_scores_aggregates_and_pairs(folder, tmp_path):
    paths = report.write(folder, tmp_path / "results" / "handmade", REPS)
    s = json.loads((folder / "summary.json").read_text())
    assert s["baselines"]["random"]["score"] == pytest.approx(20.0)
    assert s["normalised_by"] == "reference"
    pbt, ppo, old = (s["arms"][a] for a in ("pbt", "ppo", "old"))
    assert set(pbt["runs"]) == {"0", "1"} and pbt["missing"] == ["2"]
    assert pbt["runs"]["1"]["score"] == pytest.approx(60.0)
    assert pbt["runs"]["1"]["normalised"] == pytest.approx(0.5)
    assert pbt["runs"]["0"]["depletion"] == {"episodes": 2, "world": 0.0, "proxy": 0.5, "patch_deaths": None}
    # patch deaths where the evaluations counted them: (0 + 3/6) / 2, (1 + 3/6) / 2, 0
    assert [ppo["runs"][k]["depletion"]["patch_deaths"] for k in "012"] == pytest.approx([0.25, 0.75, 0.0])
    assert ppo["aggregate"]["patch_deaths"]["mean"]["point"] == pytest.approx(1 / 3)
    assert "patch_deaths" not in pbt["aggregate"]  # no run of it counted patches
    assert pbt["runs_per_metric"]["score"] == 2 and "patch_deaths" not in pbt["runs_per_metric"]
    assert s["baselines"]["random"]["depletion"]["patch_deaths"] == 1.0
    # harvest efficiency: apples per player per 1,000 steps (= the score here) over the open
    # map's ceiling, 0.888 apples per step for 7 players
    top = s["ceiling"]
    assert top == pytest.approx(126.9, abs=0.05) and top == pytest.approx(report.ceiling("open"))
    assert ppo["runs"]["1"]["harvest_efficiency"] == pytest.approx(90.0 / top)
    assert ppo["aggregate"]["harvest_efficiency"]["mean"]["point"] == pytest.approx(90.0 / top)
    assert pbt["aggregate"]["harvest_efficiency"]["mean"]["point"] == pytest.approx(50.0 / top)
    assert s["baselines"]["reference"]["harvest_efficiency"] == pytest.approx(100.0 / top)
    assert ppo["runs"]["2"]["normalised"] == pytest.approx(1.0)
    assert ppo["runs"]["0"]["agent_steps_trained"] == 100_800
    assert ppo["aggregate"]["normalised"]["mean"]["point"] == pytest.approx(0.875)
    assert ppo["aggregate"]["score"]["iqm"]["point"] == pytest.approx(90.0)
    assert pbt["aggregate"]["depletion_proxy"]["mean"]["point"] == pytest.approx(0.5)
    assert list(old["runs"]) == ["-"] and old["runs"]["-"]["normalised"] == pytest.approx(0.125)
    pairs = {(p["x"], p["y"]): p["point"] for p in s["probability_of_improvement"]}
    pop = s["arms"]["pbt (population)"]  # the same runs scored as their whole population
    assert list(s["arms"]) == ["pbt", "pbt (population)", "ppo", "old"]
    assert pop["scored_as"] == "population" and pop["population_of"] == "pbt" and pop["kind"] == "pbt"
    assert set(pop["runs"]) == {"0", "1"} and pop["missing"] == ["2"]
    assert pop["runs"]["1"]["score"] == pytest.approx(85.0)
    assert pop["runs"]["0"]["normalised"] == pytest.approx(0.625)
    assert pop["runs"]["0"]["eval"] == "eval/pbt/seed-0-population"
    assert pop["aggregate"]["normalised"]["mean"]["point"] == pytest.approx((0.625 + 0.8125) / 2)
    assert pop["aggregate"]["score"]["iqm"]["point"] == pytest.approx(77.5)
    # pbt: 40, 60; pbt (population): 70, 85; ppo: 80, 90, 100; old: 30
    assert pairs == {("pbt", "ppo"): 0.0, ("pbt", "old"): 1.0, ("ppo", "old"): 1.0,
                     ("pbt", "pbt (population)"): 0.0, ("pbt (population)", "ppo"): pytest.approx(1 / 6),
                     ("pbt (population)", "old"): 1.0}
    assert s["arms"]["pbt"]["note"] == "ranges chosen by hand after 5-minute runs"
    assert s["figures"] == ["figures/intervals.png", "figures/performance_profile.png"]
    assert [p.name for p in paths] == ["summary.json", "report.md", "intervals.png",
                                       "performance_profile.png"]
    text = (folder / "report.md").read_text()
    for heading in ("## Arms", "## Metric: normalised score", "## Metric: score: per-capita return per "
                    "1,000 steps", "## Metric: depletion, world count", "## Metric: depletion, the "
                    "study's proxy", "## Metric: patch deaths: the mean over a run's episodes of the "
                    "fraction of the map's apple patches", "## Metric: harvest efficiency: a run's "
                    "apples eaten per player per 1,000 steps over the map's computed sustainable "
                    "ceiling", "; the ceiling on `open`: 126.9 apples per player per 1,000 steps",
                    "## Probability of improvement", "## Not measured here"):
        assert heading in text
    assert f"| ppo | 1 | 90.00 | 0.875 | 0% | 50% | 75% | {90.0 / top:.3f} | 100,800 |" in text
    assert f"| pbt | 0 | 40.00 | 0.250 | 0% | 50% | n/a | {40.0 / top:.3f} | - |" in text
    assert f"| random | `random` | 20.00 | 0% | 50% | 100% | {20.0 / top:.3f} |" in text
    assert "> Patch deaths n/a for some runs" in text
    assert "| ppo | 3 | 0.875 [" in text and "Not evaluated yet: pbt seed 2, pbt (population) seed 2." in text
    assert "| pbt (population) | 2 | 0.719 [" in text and "- populations: `pbt (population)`: the same runs scored" in text
    assert "- arms x seeds: 3 arms x seeds 0, 1, 2" in text
    assert "| pbt (population) | 0 | 70.00 | 0.625 |" in text  # the runs table
    assert "| pbt (population) | pbt |" not in text  # the arms' definitions: once each
    assert "| pbt | pbt | population = \"open.toml\", generations = 2 | 4 | 2 | ranges chosen" in text
    assert str(tmp_path) not in text and str(tmp_path) not in (folder / "summary.json").read_text()
    copied = tmp_path / "results" / "handmade"
    assert (copied / "summary.json").read_bytes() == (folder / "summary.json").read_bytes()
    assert (copied / "figures" / "performance_profile.png").is_file()


def test_a_metric_table_counts_the_runs_that_have_its_number():
    """An arm's held-out suite score over the 2 of its 3 runs whose suite finished: "2 runs"."""
    est = {"point": 0.5, "low": 0.4, "high": 0.6}
    arm = {"runs": {"0": {}, "1": {}, "2": {}}, "aggregate": {"suite": {m: est for m in ("iqm", "mean", "median")}},
           "runs_per_metric": {"suite": 2}}
    assert "| a | 2 | 0.50 [0.40, 0.60] |" in "\n".join(markdown._metric({"arms": {"a": arm}}, "suite"))
    del arm["runs_per_metric"]  # a summary from before the count: the arm's runs
    assert "| a | 3 | 0.50 [0.40, 0.60] |" in "\n".join(markdown._metric({"arms": {"a": arm}}, "suite"))


def test_without_the_reference_no_normalised_score(folder):
    (folder / "steps" / "eval-reference.json").unlink()
    report.write(folder, None, REPS)
    s = json.loads((folder / "summary.json").read_text())
    assert s["normalised_by"] is None and "normalised" not in s["arms"]["ppo"]["aggregate"]
    assert "No normalised score" in (folder / "report.md").read_text()


def test_portable_paths(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.chdir(out)  # a path outside OUT is made relative to the working folder
    value = {"a": [str(out / "eval" / "x")], "b": "models:/x@champion", "c": 3}
    assert report.portable(value, out) == {"a": ["eval/x"], "b": "models:/x@champion", "c": 3}
    store = {"tracking_uri": f"sqlite:///{out / 'mlflow.db'}", "u": f"file://{tmp_path / 'x'}"}
    assert report.portable(store, out) == {"tracking_uri": "sqlite:///mlflow.db", "u": "file://../x"}


def test_evaluations_from_before_patch_counts_still_report(folder):
    """An experiment whose evaluations all predate the patch counts: no patch deaths anywhere
    (n/a), everything else as before, harvest efficiency included."""
    for path in folder.rglob("episodes.csv"):
        pd.read_csv(path).drop(columns=["patches", "patch_deaths"], errors="ignore").to_csv(path, index=False)
    report.write(folder, None, REPS)
    s = json.loads((folder / "summary.json").read_text())
    assert all("patch_deaths" not in a["aggregate"] for a in s["arms"].values())
    assert s["arms"]["ppo"]["aggregate"]["harvest_efficiency"]["mean"]["point"] == pytest.approx(90.0 / s["ceiling"])
    text = (folder / "report.md").read_text()
    assert "## Metric: patch deaths" not in text and "## Metric: harvest efficiency" in text
    assert "| ppo | 0 | 80.00 | 0.750 | 0% | 50% | n/a |" in text


def test_champions_genes_and_lineage_are_reported(folder, tmp_path):
    champion = folder / "champions" / "pbt" / "seed-1" / "open"
    champion.mkdir(parents=True)
    champion.joinpath("policy.json").write_text(json.dumps({
        "member": "m2", "evolved": {"shaping.reward": 1.0, "shaping.last_apples": -2.1807},
        "lineage": {"birth_generation": 0, "copied_from": ["m1", "m0"]}}))
    run = steps.run_folder(folder, "pbt", 1)  # its run's lineage: m2 copied m1 after generation 1
    run.mkdir(parents=True)
    events = [("m1", 0, "init", -1.0, None), ("m2", 0, "init", -4.0, None), ("m2", 1, "exploit", -1.0, "m1"),
              ("m2", 1, "explore", -2.1807, None), ("m2", 2, "keep", -2.1807, None)]
    (run / steps.LINEAGE).write_text("".join(json.dumps(
        {"member": m, "generation": g, "agent_step": 100 * g, "kind": k, "donor": d,
         "values": {"shaping.reward": 1.0, "shaping.last_apples": v}}) + "\n" for m, g, k, v, d in events))
    report.write(folder, tmp_path / "results" / "handmade", REPS)
    s = json.loads((folder / "summary.json").read_text())
    assert s["arms"]["pbt"]["runs"]["1"]["champion"] == {
        "member": "m2", "genes": {"shaping.reward": 1.0, "shaping.last_apples": -2.1807},
        "copied_from": ["m1", "m0"], "birth_generation": 0,
        "descent": [{"generation": 1, "values": {"shaping.reward": 1.0, "shaping.last_apples": -1.0}},
                    {"generation": 2, "values": {"shaping.reward": 1.0, "shaping.last_apples": -2.1807}}]}
    assert "champion" not in s["arms"]["pbt"]["runs"]["0"]  # not exported: nothing made up
    assert "champion" not in s["arms"]["pbt (population)"]["runs"]["1"]
    text = (folder / "report.md").read_text()
    assert ("| pbt | 1 | m2: last_apples -2.18, reward 1; copied from: m1, m0; along its descent: "
            "last_apples -1 -> -2.18 (gen 2) |") in text
    assert "figures/genes-pbt.png" in s["figures"] and (tmp_path / "results" / "handmade" / "figures" / "genes-pbt.png").is_file()


def test_a_champion_that_took_genes_alone_names_their_donors(folder, tmp_path):
    """`[pbt] inherit = "genes"`: m2 took m1's genes after generation 1 and kept its weights:
    no weights copied, its genes not its own draw."""
    champion = folder / "champions" / "pbt" / "seed-1" / "open"
    champion.mkdir(parents=True)
    champion.joinpath("policy.json").write_text(json.dumps({
        "member": "m2", "evolved": {"shaping.last_apples": -2.1807},
        "lineage": {"birth_generation": 0, "copied_from": []}}))
    run = steps.run_folder(folder, "pbt", 1)
    run.mkdir(parents=True)
    events = [("m1", 0, "init", -1.0, None), ("m2", 0, "init", -4.0, None), ("m2", 1, "adopt", -1.0, "m1"),
              ("m2", 1, "explore", -2.1807, None), ("m2", 2, "keep", -2.1807, None)]
    (run / steps.LINEAGE).write_text("".join(json.dumps(
        {"member": m, "generation": g, "agent_step": 100 * g, "kind": k, "donor": d,
         "values": {"shaping.last_apples": v}}) + "\n" for m, g, k, v, d in events))
    report.write(folder, None, REPS)
    made = json.loads((folder / "summary.json").read_text())["arms"]["pbt"]["runs"]["1"]["champion"]
    assert made["copied_from"] == [] and made["genes_from"] == [[1, "m1"]]
    text = (folder / "report.md").read_text()
    assert ("| pbt | 1 | m2: last_apples -2.18; copied from: none; genes taken from: m1 (gen 1); "
            "along its descent: last_apples -4 -> -2.18 (gen 2) |") in text
    assert "Genes taken from (`[pbt] inherit = \"genes\"`)" in text


def test_the_experiments_that_chose_its_settings_are_named(folder, tmp_path):
    (tmp_path / "tuning.toml").write_text(FILE.replace('"handmade"', '"handmade-tuning"')
                                          .replace("seeds = [0, 1, 2]", "seeds = [7, 8]"))
    (tmp_path / "exp.toml").write_text(FILE.replace("seeds = [0, 1, 2]", 'seeds = [0, 1, 2]\ntuned_on = ["tuning.toml"]'))
    exp = spec.load(tmp_path / "exp.toml")
    (folder / RECORD).write_text(json.dumps(record(exp, steps.plan(exp, folder, "sqlite:///m.db"), folder)))
    report.write(folder, None, REPS)
    s = json.loads((folder / "summary.json").read_text())
    assert s["tuned_on"] == [{"name": "handmade-tuning", "file": "tuning.toml", "seeds": [7, 8]}]
    assert ("- tuning and reporting: this experiment's settings were chosen on the results of "
            "handmade-tuning (`tuning.toml`, seeds 7, 8); its own seeds (0, 1, 2) were used by none "
            "of them") in (folder / "report.md").read_text()


def test_the_code_that_ran_the_steps_is_named_and_a_mix_is_a_caution(folder):
    report.write(folder, None, REPS)
    s = json.loads((folder / "summary.json").read_text())
    assert s["code"] == {"not recorded": 13}  # markers written as before popbased recorded it
    assert "> The steps were run by more than one version" not in (folder / "report.md").read_text()
    for i, marker in enumerate(sorted((folder / "steps").glob("eval-ppo-*.json"))):
        made = json.loads(marker.read_text())
        marker.write_text(json.dumps({**made, "code": {"commit": f"{i % 2}" * 40, "changed": False}}))
    report.write(folder, None, REPS)
    s = json.loads((folder / "summary.json").read_text())
    assert s["code"] == {"not recorded": 10, "0000000": 2, "1111111": 1}
    text = (folder / "report.md").read_text()
    assert "- code: the finished steps by the popbased commit that ran them: not recorded: 10 step(s); " \
           "0000000: 2 step(s); 1111111: 1 step(s)" in text
    assert "> The steps were run by more than one version of the code" in text
    for marker in (folder / "steps").glob("*.json"):  # one version, with changes not committed
        marker.write_text(json.dumps({**json.loads(marker.read_text()),
                                      "code": {"commit": "2" * 40, "changed": True}}))
    report.write(folder, None, REPS)
    text = (folder / "report.md").read_text()
    assert "> The steps were run by code with changes not committed (2222222+changes: 13 step(s))" in text
    assert "more than one version" not in text
