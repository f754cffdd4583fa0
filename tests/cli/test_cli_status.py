"""`popbased status FOLDER [--check] [--json]` on every kind of run folder (a train run, PBT
run and league on the fast env, an evaluation, a study; a league by name and by MLflow run id),
and `popbased league status`, the same command: a PBT folder is a PBT run there too, not an
internal error, and its audit asks for no payoff records."""

import json
import shutil

import pytest

from conftest import POPS, invoke, popbased, run_one_line_error, tiny_league, write_evaluation

FAST = ["--env", "fast", "--workers", 1, "--envs-per-worker", 2, "--device", "cpu"]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """WORK/runs/{train,pbt,tiny}, WORK/eval, WORK/study (never changed: tests damage copies)."""
    work = tmp_path_factory.mktemp("cli-status")
    uri = f"sqlite:///{work / 'mlflow.db'}"
    for args in (["train", "open", *FAST, "--total-steps", 1400, "--rollout-length", 10],
                 ["pbt", POPS / "no_zap.toml", *FAST, "--rollout-length", 10, "--steps-per-generation",
                  200, "--generations", 1, "--tracking-uri", uri],
                 ["league", "launch", tiny_league(work, steps=700), *FAST, "--rollout-length", 50,
                  "--generations", 1, "--tracking-uri", uri]):
        name = {"train": "train", "pbt": "pbt", "league": "tiny"}[args[0]]
        made = invoke(*args, "--out", work / "runs" / name)
        assert made.exit_code == 0, made.output
    write_evaluation(work / "eval")
    study = work / "study"
    (study / "steps").mkdir(parents=True)
    (study / "steps" / "train-open.json").write_text(json.dumps({"step": "train/open"}))
    (study / "logs").mkdir()
    (study / "logs" / "eval-home.log").write_text("")
    shutil.copytree(work / "runs" / "train", study / "runs" / "open")
    shutil.copytree(work / "eval", study / "eval" / "home")
    return work


def lines(result) -> list[str]:
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def test_status_of_a_train_run_says_why_it_has_no_episodes(work):
    out = lines(invoke("status", work / "runs" / "train"))
    assert out[0] == (f"train run in {work / 'runs' / 'train'}: open (fast env), 1 member; "
                      f"1,400/1,400 agent-steps, finished")
    assert out[1].startswith("  last round (10): ") and "return/capita - |" in out[1]
    assert "episodes 0 (the first ends after ~1,000 steps per world, ~14,000 agent-steps)" in out[1]
    assert "| harvest/agent-step " in out[1]
    assert out[2] == f"  checkpoints: m0 {work / 'runs' / 'train' / 'm0.pt'}"
    now = json.loads(invoke("status", work / "runs" / "train", "--json").stdout)
    assert now["kind"] == "train" and now["agent_steps"] == 1400


def test_status_of_a_pbt_run_a_league_an_evaluation_and_a_study(work):
    pbt = lines(invoke("status", work / "runs" / "pbt"))
    assert pbt[0].startswith(f"PBT run no_zap in {work / 'runs' / 'pbt'}: no_zap, 4 members; "
                             f"generation 1/1, ")
    assert pbt[1].startswith("  no_zap: m0 fitness ") and "  finished: generation 1 of 1" in pbt
    assert any(line.startswith("  best of no_zap: m") and "gen-0001" in line for line in pbt)
    assert any(line.startswith("  last round: generation 1 | ") for line in pbt)
    league = lines(invoke("status", work / "runs" / "tiny"))
    assert league[0].startswith(f"league tiny in {work / 'runs' / 'tiny'}: generation 1, ")
    assert "payoff, generation 1" in league  # the table, as plain lines off a terminal
    ev = lines(invoke("status", work / "eval"))
    assert ev[0] == (f"evaluation in {work / 'eval'}: open: regrowth sweep (fast), 2 policies x 2 "
                     f"points, 2 episodes each")
    assert "  champion @ regrowth=0.1: return 0.15 (2 episodes)" in ev
    study = lines(invoke("status", work / "study"))
    assert study[0].startswith(f"study in {work / 'study'}: 1 steps done, 1 started and not done "
                               f"(eval/home: running, failed or stopped")
    assert "  runs/open: open (fast env), 1 member; 1,400/1,400 agent-steps, finished" in study
    assert any(line.startswith("  eval/home: open: regrowth sweep") for line in study)


def test_league_status_is_the_same_command_and_takes_pbt_runs_and_names(work, monkeypatch):
    for folder in ("pbt", "tiny"):
        same = invoke("league", "status", work / "runs" / folder)
        assert lines(same) == lines(invoke("status", work / "runs" / folder))
    checked = invoke("league", "status", work / "runs" / "pbt", "--check")
    assert lines(checked) == [f"{work / 'runs' / 'pbt'}: consistent (generation 1)"]  # no payoff
    monkeypatch.chdir(work)
    assert lines(invoke("league", "status", "tiny"))[0].startswith("league tiny in runs/tiny: ")
    assert lines(invoke("status", "no_zap"))[0].startswith("PBT run no_zap in runs/pbt: ")


def test_check_each_kind_and_a_damaged_one(work, tmp_path):
    for name, what in (("runs/train", "train run, 10 rounds, 1,400 agent-steps, 1 checkpoint"),
                       ("runs/pbt", "generation 1"), ("runs/tiny", "generation 1"),
                       ("eval", "evaluation, 2 policies, 4 summary rows"),
                       ("study", "study, 1 steps done, 2 run and evaluation folders")):
        assert lines(invoke("status", work / name, "--check")) == [f"{work / name}: consistent ({what})"]
    pbt = shutil.copytree(work / "runs" / "pbt", tmp_path / "pbt")
    events = (pbt / "lineage.jsonl").read_text().splitlines()
    (pbt / "lineage.jsonl").write_text("\n".join(events[:-1]) + "\n")
    damaged = invoke("status", pbt, "--check")
    assert damaged.exit_code == 1
    assert f"lineage.jsonl: {len(events) - 1} events, state.json counts {len(events)}" in damaged.stdout
    report = json.loads(invoke("status", pbt, "--check", "--json").stdout)
    assert report["kind"] == "pbt" and not report["consistent"] and report["problems"]
    train = shutil.copytree(work / "runs" / "train", tmp_path / "train")
    (train / "m0.pt").write_bytes(b"not a checkpoint")
    damaged = invoke("status", train, "--check")
    assert damaged.exit_code == 1 and "m0.pt" in damaged.stdout


def test_what_is_not_a_run_is_one_line(work, tmp_path):
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    for ref, text in ((tmp_path / "other", "not a run folder"),
                      (tmp_path / "nosuch", "no such run folder, league name or MLflow run id")):
        result = invoke("status", ref)
        errors = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.exit_code == 2 and len(errors) == 1 and text in errors[0], result.stderr


@pytest.mark.slow
def test_a_real_league_by_name_and_by_mlflow_run_id(tiny_league_run):
    work = tiny_league_run
    shown = popbased(work, "status", "tiny", timeout=120)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert shown.stdout.startswith("league tiny in runs/tiny: generation 1, ")
    checked = popbased(work, "league", "status", "tiny", "--check", timeout=120)
    assert checked.returncode == 0 and checked.stdout == "runs/tiny: consistent (generation 1)\n"
    runs = json.loads((work / "runs" / "tiny" / "tracking.json").read_text())["runs"]
    by_id = popbased(work, "status", runs["league"], "--json", timeout=120)
    assert by_id.returncode == 0, by_id.stderr[-2000:]
    assert json.loads(by_id.stdout)["league"]["name"] == "tiny"
    run_one_line_error(popbased(work, "status", "nosuch", timeout=120), "no such run folder")
