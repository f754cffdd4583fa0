"""An evaluation's results folder and its MLflow run (popbased.evaluation.results), read back
through MLflow's own client from a real SQLite store: curves over the sweep's points, the
summary as a table artifact, every file logged, the real start time, the policies' sources,
FINISHED or FAILED. The played episodes are made up here (no Ray, no substrate): the real
evaluations are in test_evaluation_run.py."""

import json
import re
import time

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from popbased.evaluation import results

AXES = {"regrowth": ["0.1", "1"], "zap_cooldown": ["1", "10"]}
CHAMPION = "no_zap/m1 (champion)"


def episode(ret: float, players: int = 3) -> dict:
    depleted = ret < 1
    return {"steps": 200, "per_capita_return": ret, "gini": 0.0 if depleted else 0.1, "depleted": depleted,
            "depletion_step": 150 if depleted else None, "proxy_depleted": depleted,
            "proxy_depletion_step": 150 if depleted else None, "apples_initial": 50,
            "apples_min": 0 if depleted else 10, "apples_final": 0 if depleted else 20,
            "returns": [ret] * players, "apples_eaten": [ret] * players, "zaps_fired": [0] * players,
            "zap_hits": [0] * players, "useful_zaps": [0] * players, "zapped": [0] * players,
            "series": {"step": [0, 100], "per_capita_return": [0.0, ret], "gini": [0.0, 0.1],
                       "apples": [50, 20]}}


def played(policies=(CHAMPION, "random")) -> list[dict]:
    out = []
    for k, policy in enumerate(policies):
        for i, regrowth in enumerate(AXES["regrowth"]):
            for j, cooldown in enumerate(AXES["zap_cooldown"]):
                ret = 0.0 if policy == "random" and i == 0 else 10.0 * (k + 1) + 2 * i + j
                out.append({"policy": policy, "kind": "checkpoint", "params": {"regrowth": regrowth,
                                                                              "zap_cooldown": cooldown},
                            "episodes": [episode(ret)], "seconds": 1.0})
    return out


SOURCE = {"label": CHAMPION, "ref": "champions/no_zap", "kind": "export", "export": "/x/champions/no_zap",
          "member": "no_zap/m1", "generation": 6, "sha256": "ab" * 32, "checkpoint": "/x/gen-0006/no_zap/m1.pt",
          "run_folder": "/x", "run_kind": "league", "run_name": "commons", "member_mlflow_id": "1" * 32,
          "run_mlflow_id": "2" * 32, "tracking_uri": "sqlite:///elsewhere.db"}


def info_for(policies=(CHAMPION, "random")) -> dict:
    return {"title": "open: a grid", "substrate": "open", "policies": list(policies),
            "policy_refs": ["champions/no_zap", "random"],
            "sources": [SOURCE, {"label": "random", "ref": "random", "kind": "random"}],
            "axes": AXES, "fixed": {}, "modes": None, "episodes": 1, "seed": 0, "max_steps": 200,
            "env": "meltingpot", "seconds": 5.0, "episodes_per_minute": 12.0}


@pytest.fixture(scope="module")
def uri(tmp_path_factory) -> str:
    """One real SQLite store for the module (making one costs seconds); each test its experiments."""
    return f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"


def test_metric_names_are_readable_and_distinct():
    assert results.metric_name("no_zap/m1 (no_zap)") == "no_zap_m1_no_zap"
    assert results.metric_name(CHAMPION) == "no_zap_m1_champion"
    assert results.metric_name("m0 (tiny-open v2)") == "m0_tiny-open_v2"
    assert results.metric_names(["a/b", "a b", "random"]) == {"a/b": "a_b", "a b": "a_b_2", "random": "random"}


def test_a_grid_is_one_run_of_curves_with_its_files_sources_and_real_duration(tmp_path, uri):
    info, out = dict(info_for(), substrate="open"), tmp_path / "res"
    made = results.write(out, info, played())
    started = int(time.time() * 1000) - 5000  # the evaluation began 5 s before it was tracked
    run_id, waiting = results.track(out, info, made, uri, started_ms=started)
    assert waiting == 0
    client = MlflowClient(uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.start_time == started
    assert run.info.end_time - run.info.start_time >= 5000
    # two axes flattened: the last one fastest, each axis's value at every step
    history = lambda key: sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))  # noqa: E731
    assert history("point/regrowth") == [(0, 0.1), (1, 0.1), (2, 1.0), (3, 1.0)]
    assert history("point/zap_cooldown") == [(0, 1.0), (1, 10.0), (2, 1.0), (3, 10.0)]
    assert history("no_zap_m1_champion/per_capita_return") == [(0, 10.0), (1, 11.0), (2, 12.0), (3, 13.0)]
    assert history("random/per_capita_return") == [(0, 0.0), (1, 0.0), (2, 22.0), (3, 23.0)]
    assert history("random/depleted_fraction")[:2] == [(0, 1.0), (1, 1.0)]
    for key in run.data.metrics:
        assert re.fullmatch(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+", key), key
    assert not any("ci_low" in k for k in run.data.metrics)  # one episode: no interval, nothing logged
    # every file of the folder, the report included; the summary as a table artifact
    logged = {a.path for a in client.list_artifacts(run_id)}
    written = {p.name for p in out.iterdir()} - {"tracking.json"}
    assert written <= logged and {"report.html", "summary.json", "points.json", "evaluation.json"} <= logged
    tables = json.loads(run.data.tags["mlflow.loggedArtifacts"])
    assert {"path": "summary.json", "type": "table"} in tables
    summary = pd.read_json(client.download_artifacts(run_id, "summary.json", str(tmp_path)), orient="split")
    assert len(summary) == 8 and set(summary["policy"]) == {CHAMPION, "random"}
    points = pd.read_json(client.download_artifacts(run_id, "points.json", str(tmp_path)), orient="split")
    assert list(points["point"]) == ["regrowth=0.1, zap_cooldown=1", "regrowth=0.1, zap_cooldown=10",
                                     "regrowth=1, zap_cooldown=1", "regrowth=1, zap_cooldown=10"]
    # what was evaluated: tags, and a description naming it
    tags = run.data.tags
    assert tags["popbased.policy.0.label"] == CHAMPION and tags["popbased.policy.0.member"] == "no_zap/m1"
    assert tags["popbased.policy.0.generation"] == "6" and tags["popbased.policy.0.sha256"] == "ab" * 32
    assert tags["popbased.policy.0.member_mlflow_id"] == "1" * 32 and tags["popbased.policy.1.kind"] == "random"
    assert "member no_zap/m1" in tags["mlflow.note.content"] and "generation 6" in tags["mlflow.note.content"]
    assert run.data.params["episodes"] == "1" and run.info.run_name == "res"
    # the same folder replaced (--force): a run of its own, the first one left as it was
    again = results.write(out, info, played())
    second, _ = results.track(out, info, again, uri, started_ms=int(time.time() * 1000))
    assert second != run_id and len(client.get_metric_history(run_id, "point/regrowth")) == 4
    assert len(client.get_metric_history(second, "point/regrowth")) == 4


def test_a_report_written_later_reaches_the_run_and_a_failed_tracking_ends_failed(tmp_path, uri):
    client = MlflowClient(uri)
    logged_model = client.create_logged_model(client.create_experiment("models")).model_id
    info, out = dict(info_for(), substrate="no_zap"), tmp_path / "res"  # its own experiment
    info["sources"][0] = dict(SOURCE, model="models:/commons-no_zap/1", model_id=logged_model)
    made = results.write(out, info, played())
    run_id, _ = results.track(out, info, made, uri)
    assert [m.model_id for m in client.get_run(run_id).inputs.model_inputs] == [logged_model]
    (tmp_path / "later.md").write_text("# later")
    assert results.log_late(out, [tmp_path / "later.md"]) == (run_id, 0)
    assert "later.md" in {a.path for a in client.list_artifacts(run_id)}
    assert results.log_late(tmp_path, [tmp_path / "later.md"]) is None  # not a tracked folder
    other = tmp_path / "res2"
    made = results.write(other, info, played())
    bad = {k: v for k, v in info.items() if k != "seed"}  # a bug while logging: the run says so
    with pytest.raises(KeyError):
        results.track(other, bad, made, uri, started_ms=int(time.time() * 1000))
    failed = client.get_run(json.loads((other / "tracking.json").read_text())["runs"]["league"])
    assert failed.info.status == "FAILED" and failed.data.tags["popbased.error"] == "KeyError: 'seed'"
    assert client.get_run(run_id).info.status == "FINISHED"
