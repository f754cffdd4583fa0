"""Evaluations (popbased.evaluation) as `popbased evaluate` runs them, with real Ray, real
substrates and real MLflow, checked by what their tables say and by what MLflow's own client
reads back: a regrowth sweep as curves, its files and report, its real duration; exported,
registered and checkpoint policies on a grid; league members linked to their MLflow runs;
focal vs background matrices."""

import json
import re

import pandas as pd
import pytest

from conftest import invoke, one_line_error, popbased

pytestmark = pytest.mark.slow  # every test here runs real evaluations on Ray


def test_scarce_regrowth_depletes_more_than_abundant_over_the_same_seeds(ray_local, tmp_path, monkeypatch):
    # 14 random harvesters that cannot zap (nobody is removed), 1500 steps: x0.01 regrowth
    # depletes the map (seen: by step 454-1431 in 20 of 20 runs), x100 never does (the physics
    # is tests/substrates/test_variants.py's; here the sweep's settings reach the episodes)
    made = popbased(tmp_path, "evaluate", "sweep", "regrowth", "random", "--substrate", "no_zap",
                    "--values", "0.01,100", "-p", "players=14", "--episodes", 2, "--max-episode-steps", 1500,
                    "-o", "res", "--ray-address", ray_local["address"])
    assert made.returncode == 0, made.stderr[-3000:]
    res = tmp_path / "res"
    episodes = pd.read_parquet(res / "episodes.parquet")
    players = pd.read_csv(res / "players.csv")
    summary = pd.read_parquet(res / "summary.parquet")
    series = pd.read_parquet(res / "series.parquet")
    assert len(episodes) == 4 and len(players) == 4 * 14
    assert sorted(episodes["regrowth"].unique()) == [0.01, 100]
    scarce, abundant = (episodes[episodes["regrowth"] == v] for v in (0.01, 100))
    assert scarce["depleted"].sum() > abundant["depleted"].sum()
    assert scarce["apples_min"].max() < abundant["apples_min"].min()
    assert scarce["per_capita_return"].mean() < abundant["per_capita_return"].mean()
    assert (episodes["zaps_fired_per_capita"] == 0).all()
    # tidy: a player's returns add up to the episode's per-capita return
    per_episode = players.groupby(["point", "episode"])["return"].mean()
    for row in episodes.itertuples():
        assert per_episode[(row.point, row.episode)] == pytest.approx(row.per_capita_return)
    for row in summary.itertuples():
        assert row.ci_low <= row.per_capita_return <= row.ci_high and row.episodes == 2
    assert series["step"].max() == 1500 or scarce["steps"].max() <= 1500
    for name in ("return_over_time", "gini_over_time", "return_by_point", "depleted", "reward_histograms"):
        assert (res / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    info = json.loads((res / "evaluation.json").read_text())
    assert info["axes"] == {"regrowth": ["0.01", "100"]} and info["episodes_per_minute"] > 0
    # MLflow: one run, FINISHED, as long as the evaluation took; a curve per measure over the points
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("evaluate-no_zap").experiment_id])
    run_id = run.info.run_id
    assert run.info.status == "FINISHED"
    assert run.info.end_time - run.info.start_time >= 1000 * info["seconds"]
    curve = lambda key: sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))  # noqa: E731
    assert curve("point/regrowth") == [(0, 0.01), (1, 100.0)]
    by_point = summary.set_index("point")
    assert curve("random/per_capita_return") == [
        (0, pytest.approx(by_point.loc["regrowth=0.01", "per_capita_return"])),
        (1, pytest.approx(by_point.loc["regrowth=100", "per_capita_return"]))]
    assert [v for _, v in curve("random/depleted_fraction")] == list(by_point["depleted_fraction"])
    assert all(re.fullmatch(r"(random|point)/[a-z_]+", key) for key in run.data.metrics)
    assert run.data.tags["popbased.policy.0.kind"] == "random"
    # every file the evaluation wrote, its report included; the summary as a table
    logged = {a.path for a in client.list_artifacts(run_id)}
    assert {p.name for p in res.iterdir()} - {"tracking.json"} <= logged
    assert {"report.html", "summary.json", "points.json", "depleted.png"} <= logged
    table = pd.read_json(client.download_artifacts(run_id, "summary.json", str(tmp_path)), orient="split")
    assert list(table["point"]) == ["regrowth=0.01", "regrowth=100"]
    own = (res / "report.html").read_text()
    assert "fewer than 5" in own and "uniform random actions" in own  # 2 episodes a point
    # the report: one self-contained HTML file, or Markdown with its figures beside it; logged too
    html = popbased(tmp_path, "evaluate", "report", "res", "-o", "report.html")
    assert html.returncode == 0, html.stderr
    assert f"logged to MLflow run {run_id}" in html.stdout
    text = (tmp_path / "report.html").read_text()
    assert text.count("data:image/png;base64,") == 5 and "regrowth=0.01" in text
    assert "NaN" not in re.sub(r"base64,[A-Za-z0-9+/=]+", "", text)
    monkeypatch.chdir(tmp_path)  # in this process (quick): its own report is rewritten without --force
    rewritten = invoke("evaluate", "report", "res", "-o", "res/report.html")
    assert rewritten.exit_code == 0 and "logged to MLflow run" in rewritten.output, rewritten.output
    md = popbased(tmp_path, "evaluate", "report", "res", "-o", "report.md")
    assert md.returncode == 0 and (tmp_path / "report-depleted.png").is_file()
    one_line_error(popbased(tmp_path, "evaluate", "report", "res", "-o", "report.md"), "--force")
    one_line_error(popbased(tmp_path, "evaluate", "report", tmp_path, "-o", "r2.html"),
                   "not an evaluation results folder")


def test_export_folders_registered_models_and_checkpoints_play_in_evaluations(ray_local, tmp_path, monkeypatch):
    from popbased.errors import BadInput
    from popbased.evaluation.policies import resolve as resolve_policy
    from popbased.export import champion, registry
    from popbased.ppo import checkpoint
    from popbased.ppo.learner import Learner
    from popbased.runs.folder import MemberInfo, RunFolder
    from popbased.substrates import resolve

    learner = Learner("m0", 11, resolve("no_zap").action_names, device="cpu")
    path = tmp_path / "m0.pt"
    digest = checkpoint.save(learner, path)
    (tmp_path / "lineage.jsonl").write_text("")
    member = MemberInfo("m0", "nz", "no_zap", path, digest, 1.0, {}, {}, 0, None, (), 0)
    run = RunFolder(tmp_path, "pbt", "nz", 1, "open", {}, (member,), {})
    info = champion.export_member(run, member, "onnx", tmp_path / "exported", "fitness", sample_steps=4)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.chdir(tmp_path)  # the store's artifacts (./mlruns) go there, not into the repo
    registry.register(run, member, tmp_path / "exported", info, uri)  # models:/nz@champion
    made = popbased(tmp_path, "evaluate", "run", "exported", "m0.pt", "random", "models:/nz@champion",
                    "--grid", "zap_cooldown=1,200", "--episodes", 1, "--max-episode-steps", 100, "-o", "res",
                    "--ray-address", ray_local["address"])
    assert made.returncode == 0, made.stderr[-3000:]
    summary = pd.read_csv(tmp_path / "res" / "summary.csv")
    assert sorted(summary["policy"].unique()) == ["m0", "m0 (exported)", "m0 (nz v1)", "random"]
    assert len(summary) == 8 and (summary["episodes"] == 1).all()
    zaps = summary.set_index(["policy", "point"])["zaps_fired_per_capita"]
    assert zaps[("m0", "zap_cooldown=1")] == 0  # a no_zap member in an open arena never zaps
    assert zaps[("m0 (nz v1)", "zap_cooldown=1")] == 0
    # each policy's source, as tags of the evaluation's run
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    tags = client.get_run(json.loads((tmp_path / "res" / "tracking.json").read_text())["runs"]["league"]).data.tags
    of = {tags[f"popbased.policy.{k}.label"]: k for k in range(4)}
    assert tags[f"popbased.policy.{of['m0']}.sha256"] == digest
    assert tags[f"popbased.policy.{of['m0 (exported)']}.export"] == str((tmp_path / "exported").resolve())
    model = of["m0 (nz v1)"]
    assert tags[f"popbased.policy.{model}.model"] == "models:/nz/1"
    assert tags[f"popbased.policy.{model}.sha256"] == digest and tags[f"popbased.policy.{model}.member"] == "m0"
    # the registered champion is an MLflow logged model: the evaluation names it as its input
    run_id = json.loads((tmp_path / "res" / "tracking.json").read_text())["runs"]["league"]
    logged = client.get_model_version("nz", "1").tags["model_id"]
    assert tags[f"popbased.policy.{model}.model_id"] == logged
    assert [m.model_id for m in client.get_run(run_id).inputs.model_inputs] == [logged]
    with pytest.raises(BadInput, match="no such registered model version"):
        resolve_policy("models:/nz@nonesuch", uri)


def test_matrix_seats_focal_and_background(ray_local, tmp_path):
    # the study's "no_zap focal among zapping background": a no_zap member (it has no
    # FIRE_ZAP) as focal, random players (who zap) as background, and the other way round
    from popbased.ppo import checkpoint
    from popbased.ppo.learner import Learner
    from popbased.substrates import resolve

    checkpoint.save(Learner("nz", 11, resolve("no_zap").action_names, device="cpu"), tmp_path / "nz.pt")
    made = popbased(tmp_path, "evaluate", "matrix", "nz.pt", "random", "--episodes", 1, "--max-episode-steps", 150,
                    "-o", "m", "--ray-address", ray_local["address"])
    assert made.returncode == 0, made.stderr[-3000:]
    summary = pd.read_csv(tmp_path / "m" / "summary.csv")
    assert sorted(zip(summary["policy"], summary["mode"], summary["focal_seats"])) == [
        ("nz", "resident", 6), ("nz", "visitor", 1), ("random", "resident", 6), ("random", "visitor", 1)]
    assert (summary["background"] == summary["policy"].map({"nz": "random", "random": "nz"})).all()
    players = pd.read_csv(tmp_path / "m" / "players.csv")
    for row in summary.itertuples():
        mine = players[(players["policy"] == row.policy) & (players["point"] == row.point)]
        nz_seats = mine["player"] <= row.focal_seats if row.policy == "nz" else mine["player"] > row.focal_seats
        assert (mine[nz_seats]["zaps_fired"] == 0).all()  # the no_zap member never zaps
        focal = mine[mine["player"] <= row.focal_seats]["return"].mean()
        assert focal == pytest.approx(row.focal_return)
    assert (tmp_path / "m" / "focal_vs_background.png").is_file()
    # MLflow: FOCAL/MODE/MEASURE at step = the background's index among the policies (nz 0, random 1)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run_id = json.loads((tmp_path / "m" / "tracking.json").read_text())["runs"]["league"]
    focal = summary.set_index(["policy", "mode"])["focal_return"]
    for policy, background_step in (("nz", 1), ("random", 0)):
        history = client.get_metric_history(run_id, f"{policy}/visitor/focal_return")
        assert [(m.step, m.value) for m in history] == [
            (background_step, pytest.approx(focal[(policy, "visitor")]))]
    assert client.get_run(run_id).info.status == "FINISHED"
    one_line_error(popbased(tmp_path, "evaluate", "matrix", "random", "-o", "m2"), "at least two policies")
    one_line_error(popbased(tmp_path, "evaluate", "matrix", "random", "nz.pt", "--visitor-focal", 5, "-o",
                            "m2"), "--visitor-focal 5: out of range")


@pytest.mark.parametrize("env", ["meltingpot", "fast"])
def test_scripted_policies_play_on_both_engines(ray_local, tmp_path, env):
    # the sustainable and greedy references beside random play, every seat scripted; and a
    # matrix seats a scripted focal among random background players
    made = popbased(tmp_path, "evaluate", "run", "scripted:sustainable", "scripted:greedy", "random",
                    "--episodes", 1, "--max-episode-steps", 120, "--env", env, "-o", "res",
                    "--ray-address", ray_local["address"])
    assert made.returncode == 0, made.stderr[-3000:]
    episodes = pd.read_parquet(tmp_path / "res" / "episodes.parquet")
    assert sorted(episodes["policy"]) == ["random", "scripted:greedy", "scripted:sustainable"]
    scripted = episodes[episodes["policy"] != "random"]
    assert (scripted["per_capita_return"] > 0).all() and (scripted["zaps_fired_per_capita"] == 0).all()
    assert "scripted sustainable harvester" in (tmp_path / "res" / "report.html").read_text()
    if env == "meltingpot":
        made = popbased(tmp_path, "evaluate", "matrix", "scripted:greedy", "random", "--episodes", 1,
                        "--max-episode-steps", 60, "-o", "m", "--ray-address", ray_local["address"])
        assert made.returncode == 0, made.stderr[-3000:]
        assert len(pd.read_csv(tmp_path / "m" / "summary.csv")) == 4


def test_league_members_are_linked_to_their_runs(tiny_league_run, ray_local):
    # a member's current weights (generation 1) and its generation-0 checkpoint: the same label,
    # told apart by their form; each tagged with its member, generation, hash and MLflow runs
    from mlflow.tracking import MlflowClient

    from popbased.runs.folder import open_run

    work = tiny_league_run
    league = open_run(work / "runs" / "tiny")
    tracked = json.loads((work / "runs" / "tiny" / "tracking.json").read_text())
    made = popbased(work, "evaluate", "run", "runs/tiny/open/m0", "runs/tiny/gen-0000/open/m0.pt",
                    "--episodes", 1, "--max-episode-steps", 30, "--env", "fast", "-o", "ev-linked",
                    "--ray-address", ray_local["address"])
    assert made.returncode == 0, made.stderr[-3000:]
    summary = pd.read_csv(work / "ev-linked" / "summary.csv")
    assert list(summary["policy"]) == ["open/m0 (member)", "open/m0 (checkpoint)"]
    client = MlflowClient(f"sqlite:///{work / 'mlflow.db'}")
    run_id = json.loads((work / "ev-linked" / "tracking.json").read_text())["runs"]["league"]
    run = client.get_run(run_id)
    tags = run.data.tags
    for k, generation in ((0, league.generation), (1, 0)):
        assert tags[f"popbased.policy.{k}.member"] == "open/m0"
        assert tags[f"popbased.policy.{k}.generation"] == str(generation)
        assert tags[f"popbased.policy.{k}.member_mlflow_id"] == tracked["runs"]["open/m0"]
        assert tags[f"popbased.policy.{k}.run_mlflow_id"] == tracked["runs"]["league"]
    assert tags["popbased.policy.0.sha256"] == league.member("open/m0").sha256
    assert f"(#/runs/{tracked['runs']['open/m0']})" in tags["mlflow.note.content"]
    # no axes: one point, step 0
    assert [m.step for m in client.get_metric_history(run_id, "open_m0_member/per_capita_return")] == [0]
    report = (work / "ev-linked" / "report.html").read_text()
    assert "generation 0" in report and f"generation {league.generation}" in report
