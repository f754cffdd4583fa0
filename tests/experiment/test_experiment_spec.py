"""popbased.experiment.spec: an experiment file loads into arms x seeds; a bad file (key, value,
missing population file, unknown arm kind) is one line naming the file, the key and the value,
exit 2 through the CLI, and nothing is written."""

import shutil
import tomllib

import pytest

from conftest import POPS, invoke
from popbased.errors import BadInput
from popbased.experiment import files, spec

GOOD = """
[experiment]
name = "pbt-vs-rs"
seeds = [0, 1, 2]
agent_steps = 2_000_000
episodes = 30
substrate = "open"

[arms.pbt]
population = "open.toml"
generations = 8
note = "the file's genes and ranges"

[arms.random_search]
population = "open.toml"
generations = 8
selection = "none"
size = 8

[arms.ppo_last_apples]
shaping = { last_apples = -3.0 }
ppo = { epochs = 2 }

[arms.league_x]
league = "commons.toml"
generations = 4
champion_of = "no_zap"

[arms.champion_y]
policy = "open.toml"
"""


@pytest.fixture
def folder(tmp_path):
    shutil.copy(POPS / "open.toml", tmp_path / "open.toml")
    shutil.copy(POPS / "leagues" / "commons.toml", tmp_path / "commons.toml")
    (tmp_path / "exp.toml").write_text(GOOD)
    return tmp_path


def test_a_good_file_loads(folder):
    exp = spec.load(folder / "exp.toml")
    assert (exp.name, exp.seeds, exp.agent_steps, exp.episodes) == ("pbt-vs-rs", (0, 1, 2), 2_000_000, 30)
    arms = {a.name: a for a in exp.arms}
    assert [a.kind for a in exp.arms] == ["pbt", "pbt", "train", "league", "champion"]
    assert arms["pbt"].members == 4 and arms["pbt"].steps_per_generation(exp.agent_steps) == 62_500
    assert arms["pbt"].note == "the file's genes and ranges"
    rs = arms["random_search"]
    assert rs.population["pbt"]["selection"] == "none" and rs.population["population"]["size"] == 8
    assert rs.members == 8 and rs.steps_per_generation(exp.agent_steps) == 31_250
    (folder / "exp.toml").write_text(GOOD.replace('selection = "none"', 'selection = "none"\n'
                                                  'seating = "world"\nsamples = "episode"\nexplore = "pb2"\n'
                                                  'inherit = "genes"'))
    rs = spec.load(folder / "exp.toml").arm("random_search")
    assert (rs.population["pbt"]["seating"], rs.population["pbt"]["samples"]) == ("world", "episode")
    assert rs.population["pbt"]["explore"] == "pb2" and rs.population["pbt"]["inherit"] == "genes"
    assert "pbt" not in tomllib.loads((folder / "open.toml").read_text())  # the user's file untouched
    assert arms["ppo_last_apples"].shaping == {"last_apples": -3.0}
    assert arms["ppo_last_apples"].substrate == "open" and arms["ppo_last_apples"].ppo == {"epochs": 2}
    assert arms["league_x"].champion_population == "no_zap" and arms["league_x"].members == 6
    assert arms["champion_y"].policy.endswith("open.toml")


def test_an_arms_population_file_round_trips_with_its_overrides(folder, tmp_path):
    rs = spec.load(folder / "exp.toml").arm("random_search")
    path = files.write_population(tmp_path / "out" / "rs.toml", rs.population, "open.toml")
    assert tomllib.loads(path.read_text()) == rs.population
    from popbased.population import spec as population_spec

    pop = population_spec.load(path)
    assert pop.pbt.selection == "none" and pop.size == 8


BAD = [
    ("[experiment]\nname='x'\nseeds=[0]\nagent_steps=100000\nepisodes=3\nflavour=1\n[arms.a]\n",
     "unknown key 'flavour'"),
    (GOOD.replace("seeds = [0, 1, 2]", "seeds = [0, 0]"), "experiment.seeds=[0, 0]"),
    (GOOD.replace("episodes = 30", "episodes = 0"), "experiment.episodes=0: must be an integer >= 1"),
    (GOOD.replace("episodes = 30", "episodes = \"many\""), "experiment.episodes='many'"),
    (GOOD.replace('population = "open.toml"\ngenerations = 8\nnote', 'population = "nope.toml"\n'
                  'generations = 8\nnote'), "arms.pbt.population='nope.toml': no such population file"),
    (GOOD.replace('selection = "none"', 'selection = "best"'), "arms.random_search.selection='best'; "
     "allowed: truncation, tournament, none"),
    (GOOD.replace('[arms.champion_y]\npolicy = "open.toml"', '[arms.bandit]\nkind = "bandit"'),
     "arms.bandit.kind='bandit': unknown arm kind; allowed: train, pbt, league, champion"),
    (GOOD.replace('[arms.champion_y]\npolicy = "open.toml"',
                  '[arms.both]\npopulation = "open.toml"\nleague = "commons.toml"'),
     "arms.both: population and league make two kinds of arm"),
    (GOOD.replace("ppo = { epochs = 2 }", "generations = 3"),
     "arms.ppo_last_apples: unknown key 'generations' for a train arm"),
    (GOOD.replace("last_apples = -3.0", "apples_lost = -3.0"), "unknown reward component 'apples_lost'"),
    (GOOD.replace('champion_of = "no_zap"', 'champion_of = "farm"'),
     "arms.league_x.champion_of='farm': not a population of"),
    (GOOD.replace('policy = "open.toml"', 'policy = "champions/gone"'),
     "arms.champion_y.policy='champions/gone': no such checkpoint or export folder"),
    (GOOD.replace("agent_steps = 2_000_000", "agent_steps = 20_000"),
     "arms.pbt: agent_steps=20,000 over 8 generations x 4 members is 625 agent-steps per member"),
    (GOOD.replace("[arms.pbt]", "[arms.random]"), "arm name 'random'"),
    (GOOD.replace('selection = "none"', 'selection = "none"\nsamples = "episode"'),
     "[pbt] samples='episode' needs seating = \"world\""),
    (GOOD.replace('selection = "none"', 'selection = "none"\nsamples = "match"'),
     "arms.random_search.samples='match'; allowed: fragment, episode"),
    (GOOD.replace('selection = "none"', 'selection = "none"\nexplore = "bandit"'),
     "arms.random_search.explore='bandit'; allowed: gaussian, pb2"),
    (GOOD.replace('selection = "none"', 'selection = "none"\ninherit = "weight"'),
     "arms.random_search.inherit='weight'; allowed: weights, genes"),
    (GOOD.replace('substrate = "open"', 'substrate = "open"\nreference = "scripted:lazy"'),
     "experiment.reference='scripted:lazy': no such scripted policy; allowed: scripted:sustainable"),
]


@pytest.mark.parametrize("text, message", BAD, ids=[m.split(":")[0][:30] for _, m in BAD])
def test_bad_files_are_one_line(folder, text, message):
    (folder / "exp.toml").write_text(text)
    with pytest.raises(BadInput, match="exp.toml") as err:
        spec.load(folder / "exp.toml")
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("text, message", [BAD[0], BAD[4], BAD[6]])
def test_bad_files_exit_2_through_the_cli_and_write_nothing(folder, text, message):
    (folder / "exp.toml").write_text(text)
    out = folder / "out"
    result = invoke("experiment", "run", folder / "exp.toml", "-o", out)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0] and str(folder / "exp.toml") in lines[0]
    assert not out.exists()


def test_a_missing_file_and_a_folder_that_is_no_experiment(tmp_path):
    result = invoke("experiment", "run", tmp_path / "none.toml")
    assert result.exit_code == 2 and "no such experiment file" in result.output
    result = invoke("experiment", "status", tmp_path)
    assert result.exit_code == 2 and "not an experiment folder" in result.output


def test_the_shipped_example_loads():
    exp = spec.load(POPS.parent / "experiments" / "pbt_vs_random_search.toml")
    assert [(a.name, a.kind) for a in exp.arms] == [("pbt", "pbt"), ("random_search", "pbt"),
                                                     ("grid", "pbt"), ("pbt_8", "pbt"),
                                                     ("random_search_8", "pbt")]
    assert [exp.arm(a).members for a in ("pbt", "pbt_8", "random_search_8")] == [4, 8, 8]
    assert exp.arm("random_search").population["pbt"]["selection"] == "none"
    grid = exp.arm("grid").population  # the same search space, on a grid, nobody copies
    assert grid["pbt"]["selection"] == "none" and grid["shaping"]["last_apples"]["grid"] is True
    assert grid["shaping"]["last_apples"]["init"] == exp.arm("pbt").population["shaping"]["last_apples"]["init"]
    assert exp.arm("pbt").population == tomllib.loads((POPS.parent / "experiments" / "open.toml").read_text())
    assert len(exp.seeds) >= 5 and exp.episodes >= 30 and exp.reference == "scripted:sustainable"
    assert all(a.note for a in exp.arms)


SHIPPED = [p for p in sorted((POPS.parent / "experiments").glob("*.toml"))
           if "[experiment]" in p.read_text()]  # not the population files beside them


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_experiment_file_loads(path):
    exp = spec.load(path)
    assert len(exp.seeds) >= 5 and exp.episodes >= 30 and all(a.note for a in exp.arms)


def _tuning(folder, name, seeds, tuned_on=None):
    extra = f"\ntuned_on = {tuned_on!r}" if tuned_on else ""
    (folder / f"{name}.toml").write_text(GOOD.replace('name = "pbt-vs-rs"', f'name = "{name}"')
                                         .replace("seeds = [0, 1, 2]", f"seeds = {seeds}{extra}"))


def test_tuned_on_names_the_tuning_experiments_and_theirs_in_turn(folder):
    _tuning(folder, "pilot", [10, 11])
    _tuning(folder, "tuning", [20, 21], ["pilot.toml"])
    (folder / "exp.toml").write_text(GOOD.replace("seeds = [0, 1, 2]", 'seeds = [0, 1, 2]\ntuned_on = ["tuning.toml"]'))
    exp = spec.load(folder / "exp.toml")
    assert [(t.name, t.seeds, t.file.name) for t in exp.tuned_on] == [("tuning", (20, 21), "tuning.toml"),
                                                                      ("pilot", (10, 11), "pilot.toml")]


@pytest.mark.parametrize("seeds, tuned_on, message", [
    ("[0, 20, 2]", '["tuning.toml"]', "seed 20 of this experiment is a seed of tuning (tuning.toml, seeds 20, 21)"),
    ("[0, 11]", '["tuning.toml"]', "seed 11 of this experiment is a seed of pilot (pilot.toml, seeds 10, 11)"),
    ("[0, 1]", '["gone.toml"]', "experiment.tuned_on='gone.toml': no such experiment file"),
    ("[0, 1]", '["open.toml"]', "open.toml is not an experiment file"),
    ("[0, 1]", '"tuning.toml"', "experiment.tuned_on='tuning.toml': must be a non-empty list of experiment files"),
    ("[0, 1]", "[]", "experiment.tuned_on=[]: must be a non-empty list"),
    ("[0, 1]", '["bad_chain.toml"]', "bad_chain.toml: experiment.tuned_on='pilot.toml': must be a list"),
])
def test_a_reporting_seed_that_a_tuning_run_used_is_refused(folder, seeds, tuned_on, message):
    _tuning(folder, "pilot", [10, 11])
    _tuning(folder, "tuning", [20, 21], ["pilot.toml", "tuning.toml"])  # itself: no loop
    (folder / "bad_chain.toml").write_text((folder / "pilot.toml").read_text().replace(
        "seeds = [10, 11]", 'seeds = [30]\ntuned_on = "pilot.toml"'))
    (folder / "exp.toml").write_text(GOOD.replace("seeds = [0, 1, 2]", f"seeds = {seeds}\ntuned_on = {tuned_on}"))
    with pytest.raises(BadInput, match="exp.toml") as err:
        spec.load(folder / "exp.toml")
    assert message in str(err.value) and "\n" not in str(err.value)
