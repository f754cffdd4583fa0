"""Where a run folder stands and what is wrong in it (popbased.runs.status), on real folders of
every kind: a tiny train run, PBT run and league on the fast env, an evaluation's results
folder (its episodes made up: no Ray), and a study folder holding them; each folder audited as
it was written, then damaged."""

import json
import shutil

import pytest

from popbased.errors import BadInput
from popbased.league.audit import audit
from popbased.runs import status as runs

from conftest import POPS, invoke, tiny_league, write_evaluation

FAST = ["--env", "fast", "--workers", 1, "--envs-per-worker", 2, "--device", "cpu"]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """WORK/runs/{train,pbt,tiny} (a league), WORK/eval, WORK/study: never changed by the tests
    (they damage copies)."""
    work = tmp_path_factory.mktemp("status")
    uri = f"sqlite:///{work / 'mlflow.db'}"
    made = invoke("train", "open", *FAST, "--total-steps", 1400, "--rollout-length", 10,
                  "--out", work / "runs" / "train")
    assert made.exit_code == 0, made.output
    made = invoke("pbt", POPS / "no_zap.toml", *FAST, "--rollout-length", 10,
                  "--steps-per-generation", 200, "--generations", 2, "--tracking-uri", uri,
                  "--out", work / "runs" / "pbt")
    assert made.exit_code == 0, made.output
    made = invoke("league", "launch", tiny_league(work, steps=700), *FAST, "--rollout-length", 50,
                  "--generations", 1, "--tracking-uri", uri, "--out", work / "runs" / "tiny")
    assert made.exit_code == 0, made.output
    write_evaluation(work / "eval")
    study = work / "study"
    (study / "steps").mkdir(parents=True)
    (study / "logs").mkdir()
    (study / "steps" / "train-open.json").write_text(json.dumps({"step": "train/open"}))
    (study / "logs" / "train-open.log").write_text("")
    (study / "logs" / "eval-home.log").write_text("")  # started, never finished
    shutil.copytree(work / "runs" / "train", study / "runs" / "open")
    shutil.copytree(work / "eval", study / "eval" / "home")
    return work


def test_status_of_a_train_run(work):
    now = runs.status(work / "runs" / "train")
    assert now["kind"] == "train" and now["substrate"] == "open" and now["env"] == "fast"
    assert now["agent_steps"] == now["total_steps"] == 1400 and now["finished"]
    assert now["left_steps"] == 0 and now["rounds"] == 10 and now["members"] == 1
    assert list(now["checkpoints"]) == ["m0"]
    # no episode ends before 1,000 steps in any of the 2 worlds of 7 players
    assert now["last_round"]["episodes"] == 0 and now["first_episode"] == (1000, 14000)
    assert "episode_summaries" not in now["last_round"] and now["idle_s"] >= 0


def test_status_of_a_pbt_run_and_a_league(work):
    pbt = runs.status(work / "runs" / "pbt")
    assert pbt["kind"] == "pbt" and pbt["name"] == "no_zap" and pbt["substrate"] == "no_zap"
    assert pbt["generation"] == pbt["generations"] == 2 and pbt["finished"]
    assert pbt["left_generations"] == 0 and pbt["in_progress"] is None
    assert [m["id"] for m in pbt["members"]["no_zap"]] == ["m0", "m1", "m2", "m3"]
    best = pbt["best"]["no_zap"]
    assert best["fitness"] == max(m["fitness"] for m in pbt["members"]["no_zap"])
    assert best["checkpoint"].endswith(f"gen-0002/{best['id']}.pt")
    assert pbt["last_round"]["generation"] == 1 and pbt["tracking"]["generation"] == 2
    league = runs.status(work / "runs" / "tiny")
    assert league["kind"] == "league" and league["league"]["name"] == "tiny"
    assert league["generation"] == league["generations"] == 1 and league["finished"]
    assert sorted(league["members"]) == ["no_zap", "open"] and sorted(league["best"]) == ["no_zap", "open"]
    assert league["payoff"]["generation"] == 1 and league["snapshots"]


def test_what_is_left_of_a_stopped_run(work, tmp_path):
    folder = shutil.copytree(work / "runs" / "pbt", tmp_path / "pbt")
    options = json.loads((folder / "options.json").read_text())
    (folder / "options.json").write_text(json.dumps({**options, "generations": 5}))
    now = runs.status(folder)
    assert now["generations"] == 5 and now["left_generations"] == 3 and not now["finished"]
    # a round of generation 3 was played before the run stopped: that generation is under way
    rounds = (folder / "rounds.jsonl").read_text().splitlines()
    last = json.loads(rounds[-1])
    (folder / "rounds.jsonl").write_text("\n".join(rounds + [json.dumps({**last, "generation": 2})])
                                         + "\n" + '{"round": ')  # and a torn last line
    assert runs.status(folder)["in_progress"] == 3


def test_status_of_an_evaluation_and_a_study(work):
    ev = runs.status(work / "eval")
    assert ev["kind"] == "evaluation" and ev["policies"] == ["champion", "random"]
    assert ev["points"] == 2 and ev["episodes"] == 2 and len(ev["summary"]) == 4
    assert {r["policy"] for r in ev["summary"]} == {"champion", "random"}
    study = runs.status(work / "study")
    assert study["kind"] == "study" and study["done"] == ["train/open"]
    assert study["unfinished"] == ["eval/home"]
    assert {k: v["kind"] for k, v in study["parts"].items()} == {"runs/open": "train",
                                                                 "eval/home": "evaluation"}


def test_locate_by_folder_or_name_and_what_is_not_a_run(work, tmp_path, monkeypatch):
    assert runs.locate(work / "runs" / "pbt") == (work / "runs" / "pbt", "pbt")
    assert runs.locate(work / "study")[1] == "study" and runs.locate(work / "eval")[1] == "evaluation"
    monkeypatch.chdir(work)
    path, kind = runs.locate("tiny")  # a league's name: its newest run under ./runs
    assert kind == "league" and path.resolve() == (work / "runs" / "tiny").resolve()
    assert runs.locate("no_zap")[1] == "pbt"  # a population's name
    (tmp_path / "empty").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    for ref, text in ((tmp_path / "empty", "an empty folder"), (tmp_path / "other", "not a run folder"),
                      ("nosuch", "no such run folder, league name or MLflow run id")):
        with pytest.raises(BadInput, match=text):
            runs.locate(ref)


def test_every_kind_as_written_checks_out(work):
    for name, kind, what in (("runs/train", "train", "train run, 10 rounds, 1,400 agent-steps, 1 "
                                                      "checkpoint"),
                             ("runs/pbt", "pbt", "generation 2"), ("runs/tiny", "league", "generation 1"),
                             ("eval", "evaluation", "evaluation, 2 policies, 4 summary rows"),
                             ("study", "study", "study, 1 steps done, 2 run and evaluation folders")):
        assert runs.check(work / name) == ([], what), name
    # a PBT run has no payoff records, snapshots or matchmaking statistics to audit
    assert audit(work / "runs" / "pbt", kind="pbt") == []
    assert not (work / "runs" / "pbt" / "payoff.jsonl").exists()


def test_a_damaged_pbt_run_says_what_is_wrong(work, tmp_path):
    folder = shutil.copytree(work / "runs" / "pbt", tmp_path / "pbt")
    summaries = (folder / "generations.jsonl").read_text().splitlines()
    (folder / "generations.jsonl").write_text("\n".join(summaries + summaries[-1:]) + "\n")
    problems, _ = runs.check(folder, mlflow=False)
    assert problems[0].startswith("generations.jsonl: generations [1, 2, 2] (duplicated [2]")
    victim = folder / "gen-0002" / "m0.pt"
    victim.write_bytes(victim.read_bytes()[:-100])  # torn: the state falls back to generation 1
    problems, _ = runs.check(folder, mlflow=False)
    assert any(p.startswith("state: ") and "generation 1 instead" in p for p in problems), problems
    for gen in ("gen-0000", "gen-0001"):
        shutil.rmtree(folder / gen)  # no intact state left
    problems, what = runs.check(folder, mlflow=False)
    assert len(problems) == 1 and "no intact PBT state" in problems[0] and what == "a PBT run"


def test_a_damaged_train_run_and_evaluation_say_what_is_wrong(work, tmp_path):
    folder = shutil.copytree(work / "runs" / "train", tmp_path / "train")
    metrics = (folder / "metrics.jsonl").read_text().splitlines()
    (folder / "metrics.jsonl").write_text("\n".join(metrics + metrics[:2]) + "\n")  # a second run
    (folder / "m0.pt").write_bytes((folder / "m0.pt").read_bytes()[:-100])
    problems, _ = runs.check(folder)
    assert problems[0] == ("metrics.jsonl: rounds [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2], not "
                           "1..12 once each (round 1 2 times: the records of more than one run)")
    assert problems[1] == "metrics.jsonl: agent-steps go back"
    assert len(problems) == 3 and "m0.pt" in problems[2]
    (folder / "metrics.jsonl").write_text('{"round": 1}\nnot json\n')
    assert "metrics.jsonl:2: not a JSON record" in runs.check(folder)[0][0]

    ev = shutil.copytree(work / "eval", tmp_path / "eval")
    (ev / "summary.parquet").unlink()
    (ev / "report.html").unlink()
    assert runs.check(ev)[0] == ["summary.parquet: missing", "report.html: missing"]
    study = shutil.copytree(work / "study", tmp_path / "study")
    (study / "eval" / "home" / "points.csv").unlink()
    (study / "steps" / "train-open.json").write_text("{")
    problems, _ = runs.check(study)
    assert problems[0].startswith(f"{study / 'steps' / 'train-open.json'}: not readable JSON")
    assert problems[1:] == ["eval/home: points.csv: missing"]


def test_the_last_record_is_read_from_the_end(tmp_path):
    path = tmp_path / "rounds.jsonl"
    assert runs.last_record(path) is None
    path.write_text("".join(json.dumps({"round": i, "pad": "x" * 50}) + "\n" for i in range(1, 500))
                    + '{"round": 500, "pa')  # torn while appending
    assert runs.last_record(path, chunk=64)["round"] == 499
    path.write_text('{"round": 1}\n')
    assert runs.last_record(path, chunk=4) == {"round": 1}
