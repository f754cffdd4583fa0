"""A league on the fast env, on the learner's device (no Ray rollout workers), with its
evaluation matches on Melting Pot itself (`[evaluation] env = "meltingpot"`): real Ray for
the evaluation, real MLflow through the CLI."""

import json

import pytest

from popbased.rollout.collector import Collector
from popbased.rollout.device import DeviceCollector

from conftest import popbased, tiny_league


def _league_file(tmp_path, evaluation_env=None):
    path = tiny_league(tmp_path, steps=1400, evaluation=1)
    if evaluation_env:
        path.write_text(path.read_text().replace("episodes = 1", f'episodes = 1\nenv = "{evaluation_env}"'))
    return path


@pytest.mark.slow
def test_a_league_trains_on_the_device_and_evaluates_on_melting_pot(tmp_path, monkeypatch):
    from popbased.league.audit import audit
    from popbased.league.run import make_loop, train_config
    from popbased.league.spec import load

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    spec = load(_league_file(tmp_path, "meltingpot"))
    assert spec.evaluation_env == "meltingpot"
    out = tmp_path / "run"
    config = train_config(spec, 2, workers=1, envs_per_worker=4, out=str(out))
    assert config.env == "fast" and config.rollout_length == 50  # auto: the arena has a fast env
    seen = {}

    def on_round(report):
        session = driver.selection.eval_session if report.phase == "eval" else driver.session
        seen.setdefault(report.phase, set()).add(type(session.collector))

    driver = make_loop(spec, config, 2, on_round=on_round)
    result = driver.run()
    assert result["generation"] == 2 and result["ray"] is None  # training needed no Ray
    assert seen == {"train": {DeviceCollector}, "eval": {Collector}}
    assert driver.selection.eval_session is None  # closed with the run
    assert audit(out, mlflow=False) == []
    payoff = [json.loads(l) for l in (out / "payoff.jsonl").read_text().splitlines()]
    assert [p["env"] for p in payoff] == [{"train": "fast", "evaluation": "meltingpot"}] * 2
    assert any(r["phase"] == "eval" for r in
               (json.loads(l) for l in (out / "rounds.jsonl").read_text().splitlines()))


@pytest.mark.slow
def test_pbt_and_league_launch_train_on_the_fast_env_by_default(tmp_path):
    from pathlib import Path

    pbt = popbased(tmp_path, "pbt", Path(__file__).parents[2] / "populations" / "no_zap.toml",
                   "--generations", 1, "--steps-per-generation", 1400, "--workers", 1,
                   "--envs-per-worker", 4, "--out", "pbt",
                   "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert pbt.returncode == 0, pbt.stderr[-3000:]
    assert "training on the fast commons_harvest" in pbt.stderr.splitlines()[0]
    assert json.loads((tmp_path / "pbt" / "state.json").read_text())["generation"] == 1
    league = popbased(tmp_path, "league", "launch", _league_file(tmp_path), "--generations", 1,
                      "--workers", 1, "--envs-per-worker", 4, "--out", "lg",
                      "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert league.returncode == 0, league.stderr[-3000:]
    assert "training on the fast commons_harvest" in league.stderr.splitlines()[0]
    options = json.loads((tmp_path / "lg" / "options.json").read_text())
    assert options["env"] == "auto"
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("league-tiny").experiment_id])
    assert runs and all(r.info.status == "FINISHED" for r in runs)
