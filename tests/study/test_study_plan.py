"""The study file (popbased.study.plan) and its steps: the shipped study loads, budgets split
evenly, bad files and flags get one line (exit 2) and write nothing."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from popbased.cli import cli
from popbased.errors import BadInput
from popbased.study import plan as plans
from popbased.study import steps as study_steps
from popbased.study.run import execute

STUDY = Path(__file__).resolve().parents[2] / "populations" / "study" / "study.toml"


def test_the_shipped_study_loads_and_splits_its_budget():
    plan = plans.load(STUDY)
    assert {r.name for r in plan.runs} >= {"open", "no_zap", "farmer", "scarcity", "ppo_selfish"}
    assert plan.run("open").kind == "pbt" and plan.run("ppo_selfish").kind == "ppo"
    assert plan.episodes == 15
    budget = 56_000_000
    assert plan.share(budget) == budget // len(plan.runs)
    per_gen = plan.steps_per_generation(plan.run("open"), budget, 8)
    assert per_gen * 8 * plan.run("open").size <= plan.share(budget)
    steps = study_steps.all_steps(plan, Path("/tmp/s"), budget, 8, 0, "sqlite:///x.db", "cpu")
    names = [s.name for s in steps]
    assert names.index("train/open") < names.index("export/open") < names.index("eval/home")
    pbt = next(s for s in steps if s.name == "train/open")
    assert "--env" in pbt.argv and pbt.argv[pbt.argv.index("--env") + 1] == "fast"
    home = next(s for s in steps if s.name == "eval/home")
    assert home.argv[home.argv.index("--env") + 1] == "meltingpot"
    assert "random" in home.argv
    assert {n for n, _ in home.optional} >= {"export/open", "train/ppo_selfish"}
    # an evaluation plays what trained: a failed run's policy is dropped, not the evaluation
    argv = home.argv_without({"export/open"})
    assert str(Path("/tmp/s/champions/open")) not in argv and "/tmp/s/runs/ppo_selfish/m0.pt" in argv
    assert home.argv_without({n for n, _ in home.optional}) is None
    matrix = next(s for s in steps if s.name == "eval/matrix")
    assert matrix.argv_without({"export/open", "export/no_zap"}) is None  # one policy: no matrix


@pytest.mark.parametrize("body, message", [
    ("[runs.a]\nsubstrate = 'open'\ncolour = 1\n", "unknown key 'colour'"),
    ("[runs.a]\nsubstrate = 'nope'\n", "nope"),
    ("[runs.a]\nsubstrate = 'open'\n[evaluation]\nhome = ['b']\n", "names run 'b'"),
    ("[runs.a]\nsubstrate = 'open'\n[evaluation]\nelsewhere = ['a']\n", "evaluation.elsewhere"),
    ("[study]\nepisodes = 0\n[runs.a]\nsubstrate = 'open'\n", "study.episodes=0"),
    ("[study]\n", "[runs] is empty"),
])
def test_bad_study_files_are_one_line_exit_2(tmp_path, body, message):
    path = tmp_path / "study.toml"
    path.write_text(body)
    with pytest.raises(BadInput, match="study.toml"):
        plans.load(path)
    result = CliRunner().invoke(cli, ["study", "run", "--file", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_a_budget_too_small_for_the_generations_is_refused(tmp_path):
    result = CliRunner().invoke(cli, ["study", "run", "--total-steps", "1000", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "--total-steps 1,000" in result.output
    assert not (tmp_path / "o").exists()


def test_steps_run_in_order_a_failure_skips_what_needs_it_and_reruns_skip_what_is_done(tmp_path):
    python = ("python", "-c")
    ok = study_steps.Step("train/a", python + ("print('{\"agent_steps\": 5}')",), tmp_path / "a.json")
    bad = study_steps.Step("train/b", python + ("import sys; sys.exit(3)",), tmp_path / "b.json")
    after_a = study_steps.Step("eval/a", python + ("print('x')",), tmp_path / "c.json", ("train/a",))
    after_b = study_steps.Step("eval/b", python + ("print('y')",), tmp_path / "d.json", ("train/b",))
    said = []
    failed = execute([ok, bad, after_a, after_b], tmp_path, parallel=2, say=said.append)
    assert failed == ["train/b", "eval/b"]
    assert (tmp_path / "a.json").exists() and (tmp_path / "c.json").exists()
    from popbased import provenance  # each marker names the code that ran it

    assert json.loads((tmp_path / "a.json").read_text())["code"] == provenance.code()
    assert not (tmp_path / "b.json").exists() and not (tmp_path / "d.json").exists()
    assert any("FAILED: train/b (exit 3)" in s for s in said)
    said.clear()
    assert execute([ok, after_a], tmp_path, say=said.append) == []
    assert "done already: train/a" in said and not any(s.startswith("started") for s in said)
    said.clear()  # a need outside the selection counts by its marker, and is not waited for
    assert execute([after_b], tmp_path, say=said.append, known=[bad]) == ["eval/b"]


def test_an_interrupted_run_is_not_done_and_a_complete_pbt_folder_is_recovered(tmp_path):
    stopped = study_steps.Step("train/a", ("python", "-c", "print('{\"interrupted\": true}')"),
                               tmp_path / "a.json")
    assert execute([stopped], tmp_path, say=lambda _: None) == ["train/a"]
    assert not (tmp_path / "a.json").exists()
    plan = plans.load(STUDY)
    folder = study_steps.run_folder(tmp_path, "open")
    folder.mkdir(parents=True)
    (folder / "state.json").write_text('{"generation": 3, "agent_steps": 99}')
    assert study_steps.recover(plan, tmp_path, generations=8) == []  # not finished: it resumes
    assert study_steps.recover(plan, tmp_path, generations=3) == ["open"]
    assert (tmp_path / "steps" / "train-open.json").exists()


def test_a_pbt_run_that_has_a_state_is_continued_by_popbased_resume(tmp_path):
    plan = plans.load(STUDY)
    launch = study_steps.train_step(plan, plan.run("open"), tmp_path, 56_000_000, 8, 0,
                                    "sqlite:///x.db", "cpu")
    assert launch.argv[3] == "pbt" and "--resume" not in launch.argv
    folder = study_steps.run_folder(tmp_path, "open")
    folder.mkdir(parents=True)
    (folder / "state.json").write_text("{}")
    again = study_steps.train_step(plan, plan.run("open"), tmp_path, 56_000_000, 8, 0,
                                   "sqlite:///x.db", "cpu")
    assert again.argv[3:5] == ("resume", str(folder))
    assert again.argv[again.argv.index("--generations") + 1] == "8" and "--json" in again.argv
    plain = study_steps.train_step(plan, plan.run("ppo_selfish"), tmp_path, 56_000_000, 8, 0,
                                   "sqlite:///x.db", "cpu")
    assert plain.argv[plain.argv.index("--total-steps") + 1] == str(plan.share(56_000_000))
