"""The typed messages between layers (match, round report, generation summary): frozen, built
once, and written to the run folder's JSON lines exactly as the dicts they replaced were."""

import dataclasses
import json
import pickle
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from popbased.league.match import Match
from popbased.population.lineage import LineageEvent
from popbased.population.reports import GenerationSummary, MemberSummary, RoundReport
from popbased.run.loop import Loop
from popbased.run.records import FolderRecords
from popbased.textio import json_safe


def line(record) -> str:
    """A record as the run folder's JSON-lines files hold it (textio.append)."""
    return json.dumps(json_safe(record))


# ---------------------------------------------------------------------- match

def test_a_match_is_frozen_picklable_and_round_trips():
    match = Match("visitor", "open", "no_zap@g2", [4, 1], "eval", 3)
    assert match.focal_seats == (4, 1) and match.cell == ("open", "no_zap@g2", "visitor")
    with pytest.raises(dataclasses.FrozenInstanceError):
        match.phase = "train"
    assert pickle.loads(pickle.dumps(match)) == match  # it travels to Ray actors
    assert Match.from_json(json.loads(json.dumps(match.to_json()))) == match
    assert list(match.to_json()) == ["mode", "focal", "background", "focal_seats", "phase",
                                     "generation"]


def test_the_matchmaker_builds_matches_and_the_payoff_table_reads_them(tmp_path):
    from popbased.league.matchmaking import Matchmaker
    from popbased.league.payoff import PayoffTable
    from popbased.league.spec import load

    pops = Path(__file__).resolve().parents[1] / "populations"
    league = tmp_path / "league.toml"
    league.write_text(f'[league]\nname = "tiny"\npopulations = ["{pops / "open.toml"}", '
                      f'"{pops / "no_zap.toml"}"]\narena = "open"\nsize = 2\n'
                      f'steps_per_generation = 1500\nepisode_steps = 100\n')
    spec = load(league)
    mm = Matchmaker(spec, {"open": ["open/m0", "open/m1"], "no_zap": ["no_zap/m0", "no_zap/m1"]}, 7)
    seats, matches = mm.plan(np.random.default_rng(0), 2, 3, "uniform", "eval", 4)
    assert [len(s) for s in seats] == [21, 21] and [len(m) for m in matches] == [3, 3]
    assert all(isinstance(m, Match) and m.phase == "eval" and m.generation == 4
               for ms in matches for m in ms)
    table = PayoffTable(4)
    episodes = [{"returns": [1.0] * 7, "gini": 0.0, "depleted": False, "match": m,
                 "members": seats[0][7 * e:7 * (e + 1)]} for e, m in enumerate(matches[0])]
    assert table.add(episodes + [{"returns": [1.0] * 7, "gini": 0.0}]) == 3  # no match: skipped
    assert all(p == "eval" for c in table.cells.values() for p in c["phase"])


# ---------------------------------------------------------------------- round report

def test_a_round_report_writes_the_records_rounds_jsonl_always_held():
    flags = ["update 3: non-finite rewards"]
    report = RoundReport(generation=2, phase="train", agent_steps=1400, total_steps=9000,
                         elapsed_s=3.5, agent_steps_per_s=400.0, episodes=2,
                         metrics={"per_capita_return": 3.0, "gini": 0.2}, learners={"m0": {"kl": 0.01}},
                         dropped=(), worker_restarts=1, flags={"m0": tuple(flags)})
    legacy = {"generation": 2, "phase": "train", "agent_steps": 1400, "total_steps": 9000,
              "elapsed_s": 3.5, "agent_steps_per_s": 400.0, "episodes": 2,
              "metrics": {"per_capita_return": 3.0, "gini": 0.2}, "learners": {"m0": {"kl": 0.01}},
              "dropped": [], "worker_restarts": 1, "flags": {"m0": flags}}
    assert line(report.to_json()) == line(legacy)
    assert RoundReport.from_json(json.loads(line(legacy))) == report
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.episodes = 3
    # self-play's rounds (metrics.jsonl) keep their own fields, in their own order
    train = RoundReport(round=1, agent_steps=700, total_steps=700, elapsed_s=1.0,
                        agent_steps_per_s=700.0, round_agent_steps=700, episodes=0, metrics={},
                        learners={}, timing={"learn_s": 0.5}, worker_restarts=0, flags={})
    assert list(train.to_json()) == ["round", "agent_steps", "total_steps", "elapsed_s",
                                     "agent_steps_per_s", "round_agent_steps", "episodes", "metrics",
                                     "learners", "timing", "worker_restarts", "flags"]


def test_the_progress_line_reads_a_round_report():
    from popbased.cli.progress import round_line

    report = RoundReport(generation=0, phase="eval", agent_steps=10, total_steps=20, elapsed_s=1.0,
                         agent_steps_per_s=10.0, episodes=1, metrics={"per_capita_return": 2.5},
                         learners={}, dropped=(), worker_restarts=2, flags={"m0": ("x",)})
    text = round_line(report)
    assert text.startswith("generation 1 (evaluation) | 10 agent-steps/s | return/capita 2.5")
    assert "worker restarts 2" in text and "skipped updates 1" in text


# ---------------------------------------------------------------------- generation summary

def _member(m, values, fitness, population="open"):
    learner = SimpleNamespace(agent_steps=500, flags=[])
    return SimpleNamespace(id=m, variant=population, fitness=fitness, objectives={"return_rate": 1.0},
                           values=values, parent=None, birth_generation=0, learner=learner)


def _loop(members, fields=None):
    """A loop just far enough along to summarise its generation, and its run folder's records."""
    from popbased.population.member_stats import MemberStats

    loop = object.__new__(Loop)
    loop.members, loop.stats, loop.arena_episodes = members, MemberStats(), Counter()
    loop.generation, loop.agent_steps, loop.inner_s = 3, 4200, 12.5
    loop.started = time.perf_counter()
    loop.session = SimpleNamespace(collector=SimpleNamespace(restarts=0))
    records = object.__new__(FolderRecords)
    records.selection = SimpleNamespace(summary_fields=lambda: dict(fields or {}))
    return loop, records


def _legacy_summary(loop, fields, events, timing, summary):
    """The dict the generation engine built before GenerationSummary (with its time stamps)."""
    return {"generation": loop.generation, "agent_steps": loop.agent_steps,
            "time_ms": summary.time_ms, "elapsed_s": summary.elapsed_s, "best": loop.best(),
            **(fields or {}),
            "members": {m: {"population": x.variant, "fitness": x.fitness,
                            "objectives": x.objectives, "values": x.values, "parent": x.parent,
                            "birth_generation": x.birth_generation,
                            "agent_steps": x.learner.agent_steps, "stats": loop.stats.of(m)}
                        for m, x in loop.members.items()},
            "events": [dataclasses.asdict(e) for e in events if e.kind != "keep"],
            "inner_loop_s": loop.inner_s, "worker_restarts": 0, "timing": timing}


@pytest.mark.parametrize("league", [False, True])
def test_a_generation_summary_is_built_once_and_writes_the_old_records(league):
    members = {"m0": _member("m0", {"lr": 1e-3}, 2.0), "m1": _member("m1", {"lr": 2e-3}, None)}
    fields = {"scores": {"open": 1.0, "no_zap": float("nan")},
              "rows": ({"focal": "open", "background": "self", "mode": "self_play", "episodes": 2,
                        "return": 3.0},),
              "snapshots": ("open@g2",)} if league else {}
    loop, records = _loop(members, fields)
    events = [LineageEvent("m1", 3, 500, "exploit", {"lr": 1e-3}, donor="m0", fitness=None,
                           donor_fitness=2.0, reason="worse"),
              LineageEvent("m0", 3, 500, "keep", {"lr": 1e-3})]
    timing = {"generation_s": 5.0, "end_of_generation_s": 0.5}
    summary = records.summary(loop, events, timing)
    assert line(summary.to_json()) == line(_legacy_summary(loop, fields, events, timing, summary))
    assert [e.kind for e in summary.events] == ["exploit"] and summary.best == "m0"
    assert GenerationSummary.from_json(summary.to_json()) == summary
    assert ("scores" in summary.to_json()) == league
    # the summary is the generation's: the members' later changes do not reach it
    members["m0"].values["lr"] = 5.0
    members["m0"].objectives["return_rate"] = 9.0
    assert summary.members["m0"].values == {"lr": 1e-3}
    assert summary.members["m0"].objectives == {"return_rate": 1.0}
    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.best = "m1"
    # with the values the members trained with (before the PBT step): recorded, read back
    trained = records.summary(loop, events, timing, {"m0": {"lr": 1e-3}, "m1": {"lr": 2e-3}})
    assert trained.to_json()["members"]["m1"]["trained_values"] == {"lr": 2e-3}
    assert GenerationSummary.from_json(trained.to_json()) == trained


def test_older_generation_records_still_read():
    """generations.jsonl from before members had a population, stats or time stamps (tracking
    reads a resumed run's unlogged generations from it)."""
    old = {"generation": 1, "agent_steps": 100, "elapsed_s": 2.0, "best": "m0",
           "members": {"m0": {"fitness": 1.5, "objectives": None, "values": {"lr": 0.1},
                              "parent": None, "birth_generation": 0, "agent_steps": 50}},
           "events": []}
    summary = GenerationSummary.from_json(old)
    assert summary.time_ms is None and summary.scores is None and summary.events == ()
    assert summary.members["m0"] == MemberSummary(None, 1.5, None, {"lr": 0.1}, None, 0, 50, {})


def test_the_generation_lines_read_a_summary():
    from popbased.league.report import generation_lines
    from popbased.population.report import generation_line

    event = LineageEvent("b", 2, 10, "exploit", {}, donor="a", fitness=0.5, donor_fitness=1.0,
                         reason="worse")
    members = {"a": MemberSummary("open", 1.0, None, {}, None, 0, 10),
               "b": MemberSummary("open", 0.5, None, {}, "a", 2, 10)}
    summary = GenerationSummary(generation=2, agent_steps=1000, elapsed_s=1.0, best="a",
                                members=members, events=(event,), scores={"open": 1.0},
                                rows=({"episodes": 3},), snapshots=("open@g2",))
    assert generation_line(summary, 5).splitlines() == [
        "generation 2/5: 1,000 agent-steps, fitness a=1 b=0.5, best a",
        "  b <- a (fitness 0.5 vs 1; worse)"]
    assert generation_lines(summary, 5) == [
        "generation 2/5: 1,000 agent-steps, 3 match episodes; league score open 1.00; best a (1)",
        "  background pool: open@g2", "  b <- a (fitness 0.5 vs 1; worse)"]
