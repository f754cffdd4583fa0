"""A run settled once (popbased.run.plan): each kind's plan from its launch options, the same
settings the kinds' own train_config functions give, bad options as one line, and a resume's
plan from a folder's options.json."""

import json

import pytest

from popbased.env.engines import FAST, MELTINGPOT
from popbased.errors import BadInput
from popbased.league import run as league_run
from popbased.population import run as pbt_run
from popbased.population.spec import load as load_population
from popbased.run.plan import kind_of, league_spec, resume_plan, settle
from popbased.runs import state as files

from conftest import POPS, tiny_league

SHARED = {"seed": 3, "device": "cpu", "workers": 1, "envs_per_worker": None, "rollout_length": None,
          "lstm": 0}


def test_the_kind_is_the_command_or_what_old_options_name():
    assert kind_of({"command": "train", "substrate": "open"}) == "train"
    assert kind_of({"league": "x.toml"}) == "league" and kind_of({"population": "p.toml"}) == "pbt"
    assert kind_of({"substrate": "open"}) == "train"
    with pytest.raises(BadInput, match="name a league, a population or a substrate"):
        kind_of({"seed": 1})


def test_a_pbt_plan_is_what_population_run_train_config_gives(tmp_path):
    opts = {"command": "pbt", "population": str(POPS / "open.toml"), "generations": 3,
            "steps_per_generation": 700, "max_episode_steps": 200, "env": "fast",
            "out": str(tmp_path / "run"), **SHARED}
    plan = settle(opts)
    spec = load_population(str(POPS / "open.toml"))
    assert plan.kind == "pbt" and plan.spec.steps_per_generation == 700 and plan.generations == 3
    assert plan.spec.name == spec.name and plan.name == "open"
    expected = pbt_run.train_config(plan.spec, 3, seed=3, device="cpu", workers=1, env="fast",
                                    out=str(tmp_path / "run"), max_episode_steps=200)
    assert plan.config == expected and plan.engine is FAST
    assert plan.options == {**opts, "command": "pbt"} and not plan.resume


def test_a_league_plan_applies_the_options_overrides(tmp_path):
    league = tiny_league(tmp_path)
    opts = {"command": "league", "league": str(league), "generations": 2, "episode_steps": 200,
            "steps_per_generation": 900, "out": str(tmp_path / "run"), "env": "fast", **SHARED}
    plan = settle(opts)
    assert plan.spec.episode_steps == 200 and plan.spec.steps_per_generation == 900
    assert plan.spec == league_spec(opts)
    assert plan.config == league_run.train_config(plan.spec, 2, seed=3, device="cpu", workers=1,
                                                  env="fast", out=str(tmp_path / "run"))


def test_a_train_plan_settles_the_engine_and_round_shape():
    plan = settle({"command": "train", "substrate": "open", "steps": 7000, "members": 2,
                   "ppo": {"epochs": 1}, "shaping_given": {"last_apples": -3}, **SHARED})
    assert plan.kind == "train" and plan.generations == 1 and plan.spec is None
    assert plan.engine is FAST and plan.config.envs_per_worker == FAST.shape["envs_per_worker"]
    assert plan.config.ppo.epochs == 1 and plan.config.shaping == {"last_apples": -3}
    on_mp = settle({"command": "train", "substrate": "clean_up", "steps": 7000, **SHARED})
    assert on_mp.engine is MELTINGPOT and on_mp.config.rollout_length == MELTINGPOT.shape["rollout_length"]


@pytest.mark.parametrize("opts, message", [
    ({"command": "train", "substrate": "clean_up", "steps": 10, "env": "fast"}, "no fast implementation"),
    ({"command": "train", "substrate": "open", "steps": 10, "env": "meltingpot",
      "shaping_given": {"last_apples": -3}}, "fast env only"),
    ({"command": "train", "substrate": "open", "steps": 10, "ppo": {"lr": "abc"}}, "lr"),
    ({"command": "league", "league": "nope.toml", "generations": 1, "out": "x"}, "nope.toml"),
])
def test_bad_options_are_one_line(opts, message):
    with pytest.raises(BadInput, match=message) as err:
        settle(opts)
    assert "\n" not in str(err.value)


def test_a_resume_settles_the_folders_options_with_its_changes(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    opts = {"population": str(POPS / "open.toml"), "generations": 2, "steps_per_generation": None,
            "max_episode_steps": None, "out": str(folder), **SHARED}  # no env, no command: an old folder
    (folder / "options.json").write_text(json.dumps(opts))
    files.write(folder, {"format": files.FORMAT, "generation": 2})
    plan = resume_plan(folder, changes={"workers": 2})
    assert plan.kind == "pbt" and plan.resume and plan.generations == 3
    assert plan.config.workers == 2 and plan.engine is MELTINGPOT  # before `env`: Melting Pot
    assert resume_plan(folder, generations=5).generations == 5
