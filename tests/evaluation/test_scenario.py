"""Melting Pot's own scenarios (popbased.evaluation.scenario, `popbased evaluate scenario`) with
bots of our own in DeepMind's format: real substrate, Melting Pot's scenario code and
SavedModelPolicy, our policies in the focal seats."""

import os
import shutil

import pandas as pd
import pytest

from conftest import one_line_error, popbased


@pytest.mark.slow  # plays 4 short episodes of real scenarios on Ray (TensorFlow in the workers)
def test_our_policies_meet_our_bots_in_real_scenarios(ray_local, open_bots, tmp_path):
    from mlflow.tracking import MlflowClient

    from popbased.ppo import checkpoint
    from popbased.ppo.learner import Learner
    from popbased.substrates import resolve

    # open_0: two zapping visitors (free_*), open_1: two walking pacifists (pacifist_*)
    root = open_bots
    checkpoint.save(Learner("nz", 11, resolve("no_zap").action_names, device="cpu"), tmp_path / "nz.pt")
    made = popbased(tmp_path, "evaluate", "scenario", "commons_harvest__open_0", "commons_harvest__open_1",
                    "nz.pt", "--episodes", 1, "--max-episode-steps", 100, "--bots-root", root, "-o", "res",
                    "--ray-address", ray_local["address"])
    assert made.returncode == 0, made.stderr[-3000:]
    res = tmp_path / "res"
    seats = pd.read_parquet(res / "seats.parquet")
    assert len(seats) == 2 * 2 * 7 and set(seats["policy"]) == {"nz", "random"}  # random added
    assert (seats["steps"] == 100).all()
    focal, bots = seats[seats["focal"]], seats[~seats["focal"]]
    assert sorted(focal["seat"].unique()) == [0, 1, 2, 3, 4] and sorted(bots["seat"].unique()) == [5, 6]
    # the bots act as built: the zappers always zap and their zaps are counted; the pacifists walk
    zappers = bots[bots["scenario"] == "commons_harvest__open_0"]
    assert (zappers["action_FIRE_ZAP"] == 100).all() and (zappers["zaps_fired"] > 0).all()
    assert set(zappers["played_by"]) <= {"commons_harvest__open__free_0", "commons_harvest__open__free_1"}
    walkers = bots[bots["scenario"] == "commons_harvest__open_1"]
    assert (walkers["action_FORWARD"] == 100).all() and (walkers["zaps_fired"] == 0).all()
    # the focal seats are ours: the no_zap member never zaps (its actions mapped, FIRE_ZAP masked)
    assert (focal["played_by"] == focal["policy"]).all()
    assert (focal[focal["policy"] == "nz"]["action_FIRE_ZAP"] == 0).all()
    assert focal[focal["policy"] == "random"]["action_FIRE_ZAP"].sum() > 0
    # every policy meets the same bots in its k-th episode of a scenario
    drawn = bots.groupby(["scenario", "episode", "policy"])["played_by"].apply(tuple).unstack()
    assert (drawn["nz"] == drawn["random"]).all()
    # the zaps appear in the metrics: the member's scenario with zappers has them, the other none
    summary = pd.read_parquet(res / "summary.parquet").set_index(["policy", "scenario"])
    assert summary.loc[("nz", "commons_harvest__open_0"), "zaps_fired_per_capita"] > 0
    assert summary.loc[("nz", "commons_harvest__open_1"), "zaps_fired_per_capita"] == 0
    assert set(summary.columns) >= {"focal_return", "focal_ci_low", "background_return", "gini", "score"}
    episodes = pd.read_parquet(res / "episodes.parquet")
    assert len(episodes) == 4 and set(episodes["point"]) == {"commons_harvest__open_0", "commons_harvest__open_1"}
    # Melting Pot 2.0 scores: min-max per scenario over the policies, averaged
    scores, ranking = pd.read_csv(res / "scores.csv"), pd.read_csv(res / "ranking.csv")
    for _, group in scores.groupby("scenario"):
        assert sorted(group["score"]) in ([0.0, 1.0], [0.5, 0.5])
    means = scores.groupby("policy")["score"].mean()
    assert ranking.set_index("policy")["score"].to_dict() == pytest.approx(means.to_dict())
    assert list(ranking["rank"]) == sorted(ranking["rank"])
    report = (res / "report.html").read_text()
    assert "<h2>Scores</h2>" in report and "commons_harvest__open_1" in report
    for name in ("scores", "focal_vs_background", "return_over_time"):
        assert (res / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = client.search_runs([client.get_experiment_by_name("evaluate-scenarios").experiment_id])[0]
    assert run.data.metrics["random/score"] == pytest.approx(means["random"])
    assert "nz/commons_harvest__open_0/focal_return" in run.data.metrics
    assert "scores.csv" in {a.path for a in client.list_artifacts(run.info.run_id)}
    # a model Melting Pot cannot load: one line, exit 2
    root = shutil.copytree(open_bots, tmp_path / "broken")
    for model in ("pacifist_0", "pacifist_1"):
        (root / "commons_harvest__open" / model / "saved_model.pb").write_bytes(b"not a model")
    broken = popbased(tmp_path, "evaluate", "scenario", "commons_harvest__open_1", "random", "--episodes", 1,
                      "--max-episode-steps", 10, "--bots-root", root, "-o", "res2", "--ray-address", ray_local["address"])
    # aside: Ray's notes on joining, and the progress line of the job the error stopped
    one_line_error(broken, "do not load as Melting Pot SavedModels", ignore=("Ray cluster", "playing scenarios"))


def test_missing_bots_are_one_line_naming_the_files(tmp_path):
    root = tmp_path / "bots"
    (root / "commons_harvest__open" / "free_0").mkdir(parents=True)
    (root / "commons_harvest__open" / "free_0" / "saved_model.pb").write_bytes(b"")
    result = popbased(tmp_path, "evaluate", "scenario", "commons_harvest__open_0", "random", "-o", "res",
                      env={**os.environ, "POPBASED_BOTS_ROOT": str(root)})
    one_line_error(result, "1 of its bots are missing")
    assert "commons_harvest__open/free_1" in result.stderr and "POPBASED_BOTS_ROOT" in result.stderr
    assert not (tmp_path / "res").exists()


def test_scenario_arguments_and_scores():
    from popbased.errors import BadInput
    from popbased.evaluation import scenario, scenario_results

    names, policies = scenario.split_args(["commons_harvest__open_*", "random", "runs/x/m0"])
    assert names == ["commons_harvest__open_0", "commons_harvest__open_1"]
    assert policies == ["random", "runs/x/m0"]
    assert "commons_harvest__closed_3" in scenario.split_args(["commons_harvest__closed"])[0]
    with pytest.raises(BadInput, match="did you mean commons_harvest__open_0"):
        scenario.split_args(["commons_harvest_open_0", "random"])
    with pytest.raises(BadInput, match="matches none"):
        scenario.split_args(["nothing__*"])
    with pytest.raises(BadInput, match="at least one scenario"):
        scenario.split_args(["random"])
    item = scenario.info("commons_harvest__closed_0")
    assert item.focal_seats == (0, 1) and item.background_seats == (2, 3, 4, 5, 6) and item.mode == "visitor"
    assert scenario.episode_seed(0, "a", 1) == scenario.episode_seed(0, "a", 1) != scenario.episode_seed(0, "a", 2)
    summary = pd.DataFrame({"policy": ["p", "random", "p", "random"], "scenario": ["s", "s", "t", "t"],
                            "focal_return": [5.0, 1.0, 2.0, 3.0]})
    per, ranking = scenario_results.scores(summary)
    assert per["score"].tolist() == [1.0, 0.0, 0.0, 1.0]
    assert ranking["score"].tolist() == [0.5, 0.5] and ranking["rank"].tolist() == [1, 1]
