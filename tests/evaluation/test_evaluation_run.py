"""Evaluations (popbased.evaluation) as `popbased evaluate` runs them, with real Ray, real
substrates and real MLflow, checked by what their tables say: a regrowth sweep and its report,
exported and checkpoint policies on a grid, focal vs background matrices."""

import json

import pandas as pd
import pytest

from conftest import one_line_error, popbased

pytestmark = pytest.mark.slow  # every test here runs real evaluations on Ray


def test_scarce_regrowth_depletes_more_than_abundant_over_the_same_seeds(ray_local, tmp_path):
    # 14 random harvesters that cannot zap (nobody is removed), 2000 steps: x0.01 regrowth
    # depletes the map (seen: by step 454-1431 in 20 of 20 runs), x100 never does
    made = popbased(tmp_path, "evaluate", "sweep", "regrowth", "random", "--substrate", "no_zap",
                    "--values", "0.01,100", "-p", "players=14", "--episodes", 3, "--max-steps", 2000,
                    "-o", "res", "--ray-address", ray_local["address"])
    assert made.returncode == 0, made.stderr[-3000:]
    res = tmp_path / "res"
    episodes = pd.read_parquet(res / "episodes.parquet")
    players = pd.read_csv(res / "players.csv")
    summary = pd.read_parquet(res / "summary.parquet")
    series = pd.read_parquet(res / "series.parquet")
    assert len(episodes) == 6 and len(players) == 6 * 14
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
        assert row.ci_low <= row.per_capita_return <= row.ci_high and row.episodes == 3
    assert series["step"].max() == 2000 or scarce["steps"].max() <= 2000
    for name in ("return_over_time", "gini_over_time", "return_by_point", "depleted", "reward_histograms"):
        assert (res / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    info = json.loads((res / "evaluation.json").read_text())
    assert info["axes"] == {"regrowth": ["0.01", "100"]} and info["episodes_per_minute"] > 0
    # MLflow: the run, its metrics and files
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = client.search_runs([client.get_experiment_by_name("evaluate-no_zap").experiment_id])[0]
    assert run.data.metrics["random/regrowth_0.01/depleted_fraction"] > 0
    assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"summary.csv", "depleted.png"}
    # the report: one self-contained HTML file, or Markdown with its figures beside it
    html = popbased(tmp_path, "evaluate", "report", "res", "-o", "report.html")
    assert html.returncode == 0, html.stderr
    text = (tmp_path / "report.html").read_text()
    assert text.count("data:image/png;base64,") == 5 and "regrowth=0.01" in text
    md = popbased(tmp_path, "evaluate", "report", "res", "-o", "report.md")
    assert md.returncode == 0 and (tmp_path / "report-depleted.png").is_file()
    one_line_error(popbased(tmp_path, "evaluate", "report", "res", "-o", "report.md"), "--force")
    one_line_error(popbased(tmp_path, "evaluate", "report", tmp_path, "-o", "r2.html"),
                   "not an evaluation results folder")


def test_export_folders_and_checkpoints_play_in_evaluations(ray_local, tmp_path):
    from popbased.export import champion
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
    champion.export_member(run, member, "onnx", tmp_path / "exported", "fitness", sample_steps=4)
    made = popbased(tmp_path, "evaluate", "run", "exported", "m0.pt", "random", "--grid",
                    "zap_cooldown=1,200", "--episodes", 1, "--max-steps", 100, "-o", "res",
                    "--ray-address", ray_local["address"])
    assert made.returncode == 0, made.stderr[-3000:]
    summary = pd.read_csv(tmp_path / "res" / "summary.csv")
    assert sorted(summary["policy"].unique()) == ["m0", "m0 (exported)", "random"]
    assert len(summary) == 6 and (summary["episodes"] == 1).all()
    zaps = summary.set_index(["policy", "point"])["zaps_fired_per_capita"]
    assert zaps[("m0", "zap_cooldown=1")] == 0  # a no_zap member in an open arena never zaps


def test_matrix_seats_focal_and_background(ray_local, tmp_path):
    # the study's "no_zap focal among zapping background": a no_zap member (it has no
    # FIRE_ZAP) as focal, random players (who zap) as background, and the other way round
    from popbased.ppo import checkpoint
    from popbased.ppo.learner import Learner
    from popbased.substrates import resolve

    checkpoint.save(Learner("nz", 11, resolve("no_zap").action_names, device="cpu"), tmp_path / "nz.pt")
    made = popbased(tmp_path, "evaluate", "matrix", "nz.pt", "random", "--episodes", 1, "--max-steps", 150,
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
    one_line_error(popbased(tmp_path, "evaluate", "matrix", "random", "-o", "m2"), "at least two policies")
    one_line_error(popbased(tmp_path, "evaluate", "matrix", "random", "nz.pt", "--visitor-focal", 5, "-o",
                            "m2"), "--visitor-focal 5: out of range")
