"""What the commands print while they work (popbased.cli.progress) when their output is not a
terminal (a log file, `| tee`, nohup, a batch job): whole lines, never wrapped or cut, a
progress line per round at most every 30 s and the last one at the end, results on stdout and
progress on stderr; train, pbt, league launch and evaluate run for real with pipes. A short run
says when its first episode can end and gives the training reward per agent-step meanwhile."""

import dataclasses
import io
import json
from types import SimpleNamespace

import pytest

from popbased.cli import progress
from popbased.population.reports import RoundReport
from popbased.selfplay import TrainConfig
from popbased.substrates import resolve

from conftest import POPS, popbased, tiny_league

FAST = ["--env", "fast", "--workers", 1, "--envs-per-worker", 2, "--device", "cpu"]
LONG = "a-folder-name-long-enough-that-its-path-alone-is-wider-than-eighty-columns-of-a-log"


def report(round_: int, episodes: int = 0, reward: float = 0.02, **fields) -> RoundReport:
    return RoundReport(round=round_, agent_steps=140 * round_, total_steps=1400, elapsed_s=1.0,
                       agent_steps_per_s=140.0, episodes=episodes,
                       metrics={"per_capita_return": 3.0} if episodes else {},
                       learners={"m0": {"harvest_per_step": reward}}, worker_restarts=0,
                       flags={}, **fields)


def test_when_the_first_episode_can_end():
    assert resolve("open", {}).shortest_episode == 1000
    # the short run: the fast env's default round shape, 2 workers x 10 worlds of 7
    assert progress.first_episode(TrainConfig("open", steps=14_000, env="fast")) == (1000, 140_000)
    cut = SimpleNamespace(substrate="open", params={}, workers=1, envs_per_worker=2,
                          max_episode_steps=100)
    assert progress.first_episode(cut) == (100, 1400)


def test_a_round_line_says_why_there_are_no_episodes_and_the_reward_meanwhile():
    line = progress.round_line(report(1), (1000, 140_000), 0.0214)
    assert line.endswith("| episodes 0 (the first ends after ~1,000 steps per world, ~140,000 "
                         "agent-steps) | harvest/agent-step 0.0214")
    line = progress.round_line(report(9, episodes=3), (1000, 140_000), 0.03)
    assert line.endswith("| return/capita 3 | Gini - | depleted - | episodes 3")
    assert progress.reward_per_step(report(1, reward=0.5)) == 0.5
    evaluation = dataclasses.replace(report(1), phase="eval", learners={})  # nobody learns
    assert progress.reward_per_step(evaluation) is None


def test_off_a_terminal_progress_is_whole_lines_at_most_every_interval():
    title = f"league {LONG}"
    for every, expected in ((1e9, [1, 10]), (0.0, list(range(1, 11)))):
        buffer = io.StringIO()
        console = progress.console(file=buffer)
        with progress.TrainDisplay(1400, title, console, log_every_s=every,
                                   first=(1000, 14_000)) as display:
            for r in range(1, 11):
                display.update(report(r, reward=0.01 * r))
        out = buffer.getvalue().splitlines()
        assert out[0] == f"{title}: 1,400 agent-steps to train; a progress line every round, at most " \
                         f"one per {every:g} s"
        rounds = out[1:]
        assert [int(line.split()[2].split("/")[0].replace(",", "")) // 140 for line in rounds] == expected
        assert all(line.startswith(f"{title} ") and len(line) > 160 for line in rounds)
        # the last line whole, with the running reward (the mean of 0.01 .. 0.10)
        assert rounds[-1].endswith("episodes 0 (the first ends after ~1,000 steps per world, "
                                   "~14,000 agent-steps) | harvest/agent-step 0.055")


def test_off_a_terminal_tasks_are_lines_too():
    buffer = io.StringIO()
    with progress.TaskProgress(progress.console(file=buffer), f"evaluating {LONG}",
                               log_every_s=1e9) as bar:
        for done in (1, 2, 3):
            bar.update(done, 3)
    out = buffer.getvalue().splitlines()
    assert out[0].startswith(f"evaluating {LONG}: started; a line as tasks finish")
    assert [line.split(": ")[1].split(",")[0] for line in out[1:]] == ["1/3 tasks done",
                                                                       "3/3 tasks done"]


def assert_whole_lines(result, *paths):
    """Every path appears whole on a line of its own stream: nothing wrapped at 80 columns."""
    text = result.stdout + result.stderr
    for path in paths:
        assert str(path) in text.replace("\n", "\0"), (path, text)
    assert not any(line.endswith("…") for line in text.splitlines())


def test_train_in_a_batch_job_results_on_stdout_progress_on_stderr(tmp_path):
    out = tmp_path / LONG / "run"
    result = popbased(tmp_path, "train", "open", *FAST, "--total-steps", 1400, "--rollout-length", 10,
                      "--out", out, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == [
        result.stdout.splitlines()[0], f"  m0: {out / 'm0.pt'}",
        f"play one: popbased substrates run open --policy {out / 'm0.pt'}"]
    assert result.stdout.startswith("trained 1,400 agent-steps in ")
    err = result.stderr.splitlines()
    assert err[0].startswith("training on the fast commons_harvest") and len(err[0]) > 80
    rounds = [line for line in err if line.startswith("open ") and "agent-steps |" in line]
    assert rounds[0].startswith("open 140/1,400 agent-steps | ")
    assert rounds[-1].startswith("open 1,400/1,400 agent-steps | ")  # the last round, whole
    assert all("episodes 0 (the first ends after ~1,000 steps per world, ~14,000 agent-steps) | "
               "harvest/agent-step " in line for line in rounds)
    assert_whole_lines(result, out / "m0.pt")
    as_json = popbased(tmp_path, "train", "open", *FAST, "--total-steps", 140, "--rollout-length", 10,
                       "--out", tmp_path / "j", "--json", timeout=300)
    assert json.loads(as_json.stdout)["agent_steps"] == 140  # stdout: the JSON alone


@pytest.mark.slow
def test_pbt_and_league_in_a_batch_job(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = tmp_path / LONG / "pbt"
    pbt = popbased(tmp_path, "pbt", POPS / "no_zap.toml", *FAST, "--rollout-length", 10,
                   "--steps-per-generation", 200, "--generations", 1, "--tracking-uri", uri,
                   "--out", out, timeout=600)
    assert pbt.returncode == 0, pbt.stderr[-3000:]
    stdout = pbt.stdout.splitlines()
    assert stdout[0] == f"MLflow ({uri}): experiment pbt-no_zap"
    assert any(line.startswith("1 generations, ") and line.endswith(f"; run folder {out}")
               for line in stdout)
    assert any(line.startswith("best member m") for line in stdout)
    assert any(line.startswith("play it: ") and str(out) in line for line in stdout)
    err = pbt.stderr.splitlines()
    assert any(line.startswith("generation 1/1: ") for line in err)
    assert any(line.startswith("pbt no_zap ") and "agent-steps |" in line for line in err)
    assert not any("generation 1/1" in line for line in stdout)
    assert_whole_lines(pbt, out)

    league_out = tmp_path / LONG / "league"
    league = popbased(tmp_path, "league", "launch", tiny_league(tmp_path, steps=700), *FAST,
                      "--rollout-length", 50, "--generations", 1, "--tracking-uri", uri,
                      "--out", league_out, timeout=600)
    assert league.returncode == 0, league.stderr[-3000:]
    assert any(line.startswith("best of open: ") for line in league.stdout.splitlines())
    assert "payoff, generation 1" in league.stderr.splitlines()  # progress: each generation
    rounds = [line for line in league.stderr.splitlines() if line.startswith("league tiny ")]
    assert rounds[-1].startswith("league tiny ") and "| generation 1 |" in rounds[-1]
    assert_whole_lines(league, league_out)


@pytest.mark.slow
def test_evaluate_in_a_batch_job(ray_local, tmp_path):
    out = tmp_path / LONG / "eval"
    result = popbased(tmp_path, "evaluate", "run", "random", "--env", "fast", "--episodes", 2,
                      "--max-episode-steps", 20, "-o", out, "--ray-address", ray_local["address"],
                      timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    err = result.stderr.splitlines()
    started = [i for i, line in enumerate(err) if line.startswith("evaluating (2 episodes per point): started")]
    done = [i for i, line in enumerate(err) if line.startswith("evaluating (2 episodes per point): 1/1 tasks done")]
    assert started and done and started[0] < done[0]
    stdout = result.stdout.splitlines()
    assert stdout[0].startswith("per-capita return (95% bootstrap CI)")  # the table, plain lines
    assert stdout[1].split("\t")[:3] == ["policy", "point", "episodes"]
    assert any(line.startswith("2 episodes in ") and str(out) in line for line in stdout)
    assert_whole_lines(result, out)
