"""popbased.experiment.steps: the steps of an experiment file are arms x seeds of train (+ export)
+ evaluate, with random and the reference evaluated once; every evaluation plays the same
episode seeds on the experiment's substrate; the dry run lists them and writes nothing."""

import shutil
from pathlib import Path

import pytest

from conftest import POPS, invoke
from popbased.experiment import spec, steps

FILE = """
[experiment]
name = "grid"
seeds = [3, 7]
agent_steps = 400_000
episodes = 30
substrate = "open"
reference = "scripted:sustainable"

[arms.pbt]
population = "open.toml"
generations = 4

[arms.rs]
population = "open.toml"
generations = 4
selection = "none"

[arms.ppo]
substrate = "no_zap"
shaping = { reward = 1.0, zapped = -0.5 }

[arms.league]
league = "commons.toml"
generations = 2

[arms.old]
policy = "old.pt"
"""


@pytest.fixture
def planned(tmp_path):
    shutil.copy(POPS / "open.toml", tmp_path / "open.toml")
    shutil.copy(POPS / "leagues" / "commons.toml", tmp_path / "commons.toml")
    (tmp_path / "old.pt").write_bytes(b"")
    (tmp_path / "exp.toml").write_text(FILE)
    exp = spec.load(tmp_path / "exp.toml")
    return exp, steps.plan(exp, tmp_path / "out", "sqlite:///m.db", "cpu"), (tmp_path / "out").resolve()


def args(step) -> list[str]:
    return list(step.step.argv[len(steps.CLI):])


def value(argv, flag):
    return argv[argv.index(flag) + 1]


def test_arms_times_seeds(planned):
    exp, plan, out = planned
    names = [p.name for p in plan]
    assert names[:3] == ["eval/random", "eval/reference", "eval/old"]  # once each
    for seed in (3, 7):
        for arm in ("pbt", "rs", "league"):  # the champion's evaluation, then the population's
            assert [f"train/{arm}/seed-{seed}", f"export/{arm}/seed-{seed}", f"eval/{arm}/seed-{seed}",
                    f"eval/{arm}/seed-{seed}/population"] == [
                n for n in names if n.endswith((f"{arm}/seed-{seed}", f"{arm}/seed-{seed}/population"))]
        assert [n for n in names if "ppo/seed-" + str(seed) in n] == [f"train/ppo/seed-{seed}",
                                                                     f"eval/ppo/seed-{seed}"]
    assert len(plan) == 3 + 2 * (3 * 4 + 2)
    assert len({p.step.done for p in plan}) == len(plan)  # a marker each
    for p in plan:
        assert p.step.done.parent == out / "steps"
        if p.stage == "eval" and p.arm not in (None, "old"):  # a population needs its run only
            assert p.step.needs == ((f"export/{p.arm}/seed-{p.seed}",) if p.arm != "ppo" and not p.population
                                    else (f"train/{p.arm}/seed-{p.seed}",))
        assert p.population == p.name.endswith("/population")


def test_training_commands(planned):
    exp, plan, out = planned
    by = {p.name: args(p) for p in plan}
    pbt = by["train/rs/seed-7"]
    assert pbt[:2] == ["pbt", str(out / "files" / "rs.toml")]  # the arm's own copy, not open.toml
    assert value(pbt, "--seed") == "7" and value(pbt, "--env") == "fast"
    assert value(pbt, "--generations") == "4" and value(pbt, "--steps-per-generation") == "25000"
    assert value(pbt, "--out") == str(out / "runs" / "rs" / "seed-7")
    assert value(pbt, "--device") == "cpu"
    ppo = by["train/ppo/seed-3"]
    assert ppo[:2] == ["train", "no_zap"] and value(ppo, "--total-steps") == "400000"
    assert [ppo[i + 1] for i, a in enumerate(ppo) if a == "--shaping"] == ["reward=1", "zapped=-0.5"]
    league = by["train/league/seed-3"]
    assert league[:2] == ["league", "launch"] and value(league, "--steps-per-generation") == "33333"
    export = by["export/league/seed-3"]
    assert export[:3] == ["export", "champion", str(out / "runs" / "league" / "seed-3")]
    assert value(export, "--population") == "open" and "--no-register" in export


def test_every_evaluation_plays_the_same_episode_seeds(planned):
    exp, plan, out = planned
    evals = [args(p) for p in plan if p.stage == "eval"]
    assert len(evals) == 3 + 2 * 4 + 2 * 3  # baselines and champions, runs, populations
    for argv in evals:
        assert argv[:2] == ["evaluate", "run"]
        assert (value(argv, "--seed"), value(argv, "--episodes"), value(argv, "--substrate"),
                value(argv, "--env")) == ("0", "30", "open", "meltingpot")
    policies = {p.name: args(p)[2] for p in plan if p.stage == "eval"}
    assert policies["eval/random"] == "random" and policies["eval/reference"] == "scripted:sustainable"
    assert policies["eval/ppo/seed-3"] == str(out / "runs" / "ppo" / "seed-3" / "m0.pt")
    assert policies["eval/pbt/seed-7"] == str(out / "champions" / "pbt" / "seed-7" / "open")
    assert policies["eval/league/seed-7"] == str(out / "champions" / "league" / "seed-7" / "open")
    assert Path(policies["eval/old"]).name == "old.pt"
    # a PBT run's population, a league's champion population, each into a folder of its own
    assert policies["eval/rs/seed-3/population"] == f"population:{out / 'runs' / 'rs' / 'seed-3'}"
    assert policies["eval/league/seed-7/population"] == f"population:{out / 'runs' / 'league' / 'seed-7'}/open"
    folders = {p.name: p.step.fresh for p in plan if p.stage == "eval"}
    assert folders["eval/pbt/seed-3/population"] == out / "eval" / "pbt" / "seed-3-population"
    assert len(set(folders.values())) == len(folders)


def test_a_stopped_pbt_run_resumes_and_a_finished_one_is_recovered(planned):
    exp, plan, out = planned
    folder = out / "runs" / "pbt" / "seed-3"
    folder.mkdir(parents=True)
    (folder / "state.json").write_text('{"generation": 2}')
    again = {p.name: p for p in steps.plan(exp, out, "sqlite:///m.db")}
    resumed = again["train/pbt/seed-3"]
    assert args(resumed)[:2] == ["resume", str(folder)] and resumed.step.fresh is None
    assert value(args(resumed), "--generations") == "4"
    assert again["train/pbt/seed-7"].step.fresh == out / "runs" / "pbt" / "seed-7"
    assert steps.recover(exp, list(again.values()), out) == []
    (folder / "state.json").write_text('{"generation": 4}')
    assert steps.recover(exp, list(again.values()), out) == ["train/pbt/seed-3"]
    assert again["train/pbt/seed-3"].step.done.exists()


def test_dry_run_lists_every_step_and_writes_nothing(planned, tmp_path):
    result = invoke("experiment", "run", tmp_path / "exp.toml", "-o", tmp_path / "out", "--dry-run",
                    "--tracking-uri", f"sqlite:///{tmp_path}/m.db")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("experiment grid: 5 arms x 2 seeds")
    todo = [line for line in lines if line.startswith("todo")]
    assert len(todo) == 31 and "todo  train/pbt/seed-3: popbased pbt " in todo[3]
    assert f"todo  eval/pbt/seed-3/population: popbased evaluate run population:" in "\n".join(todo)
    assert not (tmp_path / "out").exists()
    def todo(*extra):
        made = invoke("experiment", "run", tmp_path / "exp.toml", "--dry-run", *extra)
        assert made.exit_code == 0, made.output
        return [line for line in made.output.splitlines() if line.startswith("todo")]

    evals, populations = todo("--only", "eval"), todo("--only", "population")
    assert len(evals) + len(populations) == 17 and populations
    assert all("/population:" in line for line in populations) and not any("/population:" in line for line in evals)
    arm = todo("--arms", "pbt")  # the arm's steps and the baselines, nothing of the other arms
    assert arm and all(" train/pbt/" in line or " export/pbt/" in line or " eval/pbt/" in line
                       or " eval/random:" in line or " eval/reference:" in line for line in arm)
    assert len(todo("--arms", "pbt", "--only", "train")) == 2
    bad = invoke("experiment", "run", tmp_path / "exp.toml", "--dry-run", "--only", "evaluate")
    assert bad.exit_code == 2 and "--only 'evaluate'; allowed: train, export, eval, suite, matrix, population, report" in bad.output
    bad = invoke("experiment", "run", tmp_path / "exp.toml", "--dry-run", "--arms", "pbt,pb")
    assert bad.exit_code == 2 and "--arms 'pb': no such arm; allowed: " in bad.output


def test_an_arm_may_train_its_own_budget(tmp_path):
    shutil.copy(POPS / "open.toml", tmp_path / "open.toml")
    (tmp_path / "old.pt").write_bytes(b"")
    text = FILE.replace('[arms.rs]\npopulation = "open.toml"\ngenerations = 4\n',
                        '[arms.rs]\npopulation = "open.toml"\ngenerations = 4\nagent_steps = 200_000\n')
    (tmp_path / "commons.toml").write_text((POPS / "leagues" / "commons.toml").read_text())
    (tmp_path / "exp.toml").write_text(text)
    exp = spec.load(tmp_path / "exp.toml")
    planned = {p.name: p for p in steps.plan(exp, tmp_path / "out", "sqlite:///m.db", "cpu")}
    rs, pbt = args(planned["train/rs/seed-3"]), args(planned["train/pbt/seed-3"])
    assert value(rs, "--steps-per-generation") == str(200_000 // (4 * 4))
    assert value(pbt, "--steps-per-generation") == str(400_000 // (4 * 4))
    assert planned["train/rs/seed-3"].agent_steps == 200_000
    (tmp_path / "exp.toml").write_text(text.replace('[arms.old]\npolicy = "old.pt"', '[arms.old]\npolicy = "old.pt"\nagent_steps = 5'))
    with pytest.raises(spec.BadInput, match="a champion arm trains nothing"):
        spec.load(tmp_path / "exp.toml")


def test_a_pbt_arm_may_set_its_seating_and_fitness(tmp_path):
    shutil.copy(POPS / "open.toml", tmp_path / "open.toml")
    (tmp_path / "exp.toml").write_text('[experiment]\nseeds = [0]\nagent_steps = 400_000\nepisodes = 2\n'
                                       '[arms.w]\npopulation = "open.toml"\nseating = "world"\nfitness = "welfare"\n')
    arm = spec.load(tmp_path / "exp.toml").arms[0]
    assert arm.population["pbt"] == {"seating": "world", "fitness": "welfare"}
    (tmp_path / "exp.toml").write_text((tmp_path / "exp.toml").read_text().replace('"world"', '"solo"'))
    with pytest.raises(spec.BadInput, match="seating='solo'; allowed: mixed, world"):
        spec.load(tmp_path / "exp.toml")
