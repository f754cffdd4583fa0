"""--env fast|meltingpot: training, leagues and evaluation on the fast commons_harvest, and a
policy trained there playing real Melting Pot (real Ray, real substrates, real MLflow)."""

import json

import pandas as pd
import pytest

from popbased.env import engines
from popbased.env.engines import FAST, MELTINGPOT, has_fast, make_env
from popbased.errors import BadInput
from popbased.substrates import resolve

from conftest import one_line_error, popbased, tiny_league


def test_which_substrates_have_a_fast_engine():
    assert has_fast(resolve("open")) and has_fast(resolve("no_zap")) and has_fast(resolve("farmer"))
    assert has_fast(resolve("private_property"))
    assert not has_fast(resolve("clean_up"))
    with pytest.raises(BadInput, match="clean_up has no fast implementation"):
        FAST.check(resolve("clean_up"))
    with pytest.raises(BadInput, match="needs --env meltingpot"):
        make_env(resolve("open"), 1, backend="fast", obs_size=88)


def test_auto_is_resolved_in_one_place_and_names_are_checked():
    assert engines.choose("auto", resolve("open")) is FAST
    assert engines.choose("auto", resolve("open"), obs_size=88) is MELTINGPOT
    assert engines.choose("auto", resolve("clean_up")) is MELTINGPOT
    assert engines.choose("meltingpot", resolve("open")) is MELTINGPOT
    assert engines.get("fast") is FAST and engines.ENVS == ("auto", "fast", "meltingpot")
    with pytest.raises(BadInput, match="env='jax': allowed are auto, fast, meltingpot"):
        engines.get("jax")


def test_each_engine_owns_what_differs(monkeypatch):
    spec = resolve("open")
    assert "last_apples" in FAST.components(spec) and "last_apples" not in MELTINGPOT.components(spec)
    assert FAST.components(spec)[:-1] == MELTINGPOT.components(spec)
    with pytest.raises(BadInput, match="fast env only"):
        MELTINGPOT.check_components(["last_apples"], "--shaping")
    with pytest.raises(BadInput, match="bots play on Melting Pot itself"):
        FAST.check_bots("bots")
    MELTINGPOT.check_bots("bots")
    assert FAST.worker_backend("auto") == "fast"
    assert MELTINGPOT.worker_backend("process") == "process"
    assert MELTINGPOT.worker_backend("auto") in ("inline", "process")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert not FAST.uses_ray(None) and FAST.uses_ray("127.0.0.1:6379") and MELTINGPOT.uses_ray(None)
    assert (FAST.play_backend, MELTINGPOT.play_backend) == ("fast", "process")
    assert FAST.shape == {"envs_per_worker": 10, "rollout_length": 50}
    assert MELTINGPOT.shape == {"envs_per_worker": 2, "rollout_length": 250}


def test_env_fast_on_another_substrate_is_one_line(tmp_path):
    one_line_error(popbased(tmp_path, "train", "clean_up", "--env", "fast", "--total-steps", "10"),
                   "clean_up has no fast implementation")
    one_line_error(popbased(tmp_path, "evaluate", "run", "random", "--substrate", "clean_up",
                            "--env", "fast", "-o", "x"), "clean_up has no fast implementation")
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_a_policy_trained_on_the_fast_env_plays_real_melting_pot(ray_local, tmp_path):
    common = ["--ray-address", ray_local["address"]]
    trained = popbased(tmp_path, "train", "open", "--env", "fast", "--total-steps", 3000, "--workers", 1,
                       "--envs-per-worker", 2, "--rollout-length", 100, "--out", "fast", *common)
    assert trained.returncode == 0, trained.stderr[-3000:]
    for env in ("meltingpot", "fast"):
        played = popbased(tmp_path, "evaluate", "run", "fast/m0.pt", "random", "--substrate", "open",
                          "--episodes", 2, "--max-episode-steps", 100, "--env", env, "-o", f"on-{env}",
                          *common)
        assert played.returncode == 0, played.stderr[-3000:]
        info = json.loads((tmp_path / f"on-{env}" / "evaluation.json").read_text())
        assert info["env"] == env and info["policies"] == ["fast/m0", "random"]
        episodes = pd.read_csv(tmp_path / f"on-{env}" / "episodes.csv")
        assert sorted(episodes["policy"]) == ["fast/m0", "fast/m0", "random", "random"]
        assert (episodes["steps"] == 100).all()


@pytest.mark.slow
def test_a_league_runs_on_the_fast_env(ray_local, tmp_path):
    from popbased.league.audit import audit
    from popbased.league.run import make_loop, train_config
    from popbased.league.spec import load

    spec = load(tiny_league(tmp_path, steps=1500))
    out = tmp_path / "run"
    config = train_config(spec, 3, workers=1, envs_per_worker=4, rollout_length=50, out=str(out),
                          ray_address=ray_local["address"], env_backend="fast")
    result = make_loop(spec, config, 3).run()
    assert result["generation"] == 3 and result["agent_steps"] >= 3 * 4 * 1500
    assert audit(out, mlflow=False) == []
    rounds = [json.loads(l) for l in (out / "rounds.jsonl").read_text().splitlines()]
    assert rounds[-1]["episodes"] > 0  # episodes of 100 steps ended and were counted
    payoff = [json.loads(l) for l in (out / "payoff.jsonl").read_text().splitlines()]
    modes = {r["mode"] for p in payoff for r in p["rows"]}
    assert "self_play" in modes and modes & {"resident", "visitor"}


def test_substrates_run_plays_either_engine(tmp_path):
    one_line_error(popbased(tmp_path, "substrates", "run", "clean_up", "--env", "fast"),
                   "clean_up has no fast implementation")
    for env in ("fast", "meltingpot"):
        played = popbased(tmp_path, "substrates", "run", "open", "--env", env, "--max-episode-steps", 50,
                          "--json")
        assert played.returncode == 0, played.stderr[-2000:]
        result = json.loads(played.stdout)
        assert result["env"] == env and result["summary"]["steps"]["mean"] == 50
