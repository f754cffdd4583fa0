"""The one loop (popbased.run.loop) with recording strategies and a scripted session: the
order of its steps, fresh and resumed starts, stop, interrupt and errors. The real loops
(train, PBT, leagues, on both engines) are tested in tests/run/test_train.py,
tests/population/test_population_run.py and tests/league/."""

from types import SimpleNamespace

import numpy as np
import pytest

from popbased.population.member import Member
from popbased.run import loop as loop_module
from popbased.run.loop import Loop
from popbased.selfplay import TrainConfig

STEPS = 10  # agent-steps each member plays per round


class Collector:
    restarts, components, action_names = 0, ("reward",), ("NOOP",)

    def __init__(self, log):
        self.log = log

    def close(self):
        self.log.append("collector.close")


class ScriptedSession:
    """Plays `round` as a Session does, without envs: every member trains STEPS agent-steps."""

    def __init__(self, config, collector, learners, seats=None):
        self.collector, self.learners, self.seats = collector, learners, seats
        self.rng = np.random.default_rng(0)
        self.round_steps = STEPS * len(learners)
        self.log = collector.log
        self.raise_in_round = None

    def round(self, more=True, learn=True):
        self.log.append(("round", more, learn))
        if self.raise_in_round:
            raise self.raise_in_round
        batches = {m: SimpleNamespace(agent_steps=STEPS) for m in self.learners}
        return SimpleNamespace(batches=batches, dropped=(), episodes=[]), {}

    def finish(self):
        self.log.append("session.finish")


class Selection:
    """Two rounds per generation; selection returns one event per generation."""

    name = "test"

    def __init__(self, log):
        self.log = log
        self.done = 0

    def arena(self, config):
        return ("spec", None)

    def new_members(self, loop, collector):
        self.log.append("new_members")
        return {m: Member(m, "pop", SimpleNamespace(flags=[], agent_steps=0), {}) for m in ("m0", "m1")}

    def load_options(self, collector):
        return {"expect_actions": collector.action_names}

    def seats(self):
        return "seats"

    def begin(self, loop, state):
        self.log.append(("begin", state is None))

    def tracker(self, members, components):
        return None

    def begin_generation(self, loop):
        self.log.append("begin_generation")
        self.done = 0

    def trained(self, loop):
        return self.done >= 2

    def more(self, loop):
        return self.done < 1

    def after_round(self, loop, fragment):
        self.done += 1

    def on_fragment(self, fragment):
        pass

    def evaluate(self, loop):
        self.log.append("evaluate")

    def select(self, loop):
        self.log.append("select")
        return [f"event {loop.generation}"]

    def close(self):
        self.log.append("selection.close")


class Records:
    lineage = None

    def __init__(self, log, state=None):
        self.log, self.state = log, state

    def begin(self, loop):
        self.log.append("records.begin")

    def load(self, loop, collector, expect):
        self.log.append(("records.load", expect))
        loop.members = Selection(self.log).new_members(loop, collector)
        loop.generation, loop.agent_steps = self.state["generation"], self.state["agent_steps"]

    def commit(self, loop):
        self.log.append(("commit", loop.generation))

    def round_fields(self, loop, session, fragment):
        return {"round": loop.rounds}

    def round(self, loop, report, fragment):
        self.log.append(("report", report.round, report.agent_steps))

    def end_generation(self, loop, events, started, rounds_done, values):
        self.log.append(("end_generation", loop.generation, tuple(events)))
        return f"summary {loop.generation}"

    def final(self, loop, interrupted):
        self.log.append(("final", interrupted))
        return {"generation": loop.generation, "agent_steps": loop.agent_steps}

    def close(self):
        self.log.append("records.close")


@pytest.fixture
def log(monkeypatch):
    log = []
    monkeypatch.setattr(loop_module, "start_collector", lambda config, *arena: (Collector(log), None))
    monkeypatch.setattr(loop_module, "Session", ScriptedSession)
    monkeypatch.setattr(loop_module, "learner_threads", lambda config, collector: None)
    return log


def _loop(log, generations=2, state=None, **callbacks):
    config = TrainConfig("open", steps=1000, env="fast", device="cpu")
    return Loop(config, Selection(log), Records(log, state), generations, **callbacks)


def test_a_fresh_run_goes_round_by_round_then_selects_and_commits_each_generation(log):
    summaries = []
    report = _loop(log, on_generation=summaries.append).run()
    generation = ["begin_generation", ("round", True, True), ("report", 1, 20), ("round", False, True),
                  ("report", 2, 40), "evaluate", "select", ("end_generation", 1, ("event 1",))]
    assert log[:4] == ["new_members", "records.begin", ("begin", True), ("commit", 0)]
    assert log[4:12] == generation
    assert log[12:16] == ["begin_generation", ("round", True, True), ("report", 3, 60),
                          ("round", False, True)]
    assert log[-5:] == ["session.finish", ("final", False), "selection.close", "records.close",
                        "collector.close"]
    assert summaries == ["summary 1", "summary 2"]
    assert report == {"generation": 2, "agent_steps": 80, "ray": None}


def test_a_resumed_run_loads_its_members_restores_seating_and_commits_nothing_first(log):
    rng = np.random.default_rng(42)
    rng.random()
    state = {"generation": 1, "agent_steps": 40, "seating_rng": rng.bit_generator.state}
    loop = _loop(log, state=state)
    report = loop.run()
    assert log[:3] == [("records.load", {"expect_actions": ("NOOP",)}), "new_members", ("begin", False)]
    assert ("commit", 1) not in log and ("commit", 0) not in log
    assert loop.session.rng.bit_generator.state == rng.bit_generator.state
    assert [e for e in log if isinstance(e, tuple) and e[0] == "end_generation"] == [
        ("end_generation", 2, ("event 2",))]
    assert report["generation"] == 2 and report["agent_steps"] == 80
    assert loop.start_steps == 40


def test_on_round_true_stops_where_it_is_and_the_final_report_is_not_interrupted(log):
    report = _loop(log, on_round=lambda r: r.round == 3).run()
    assert report["generation"] == 1 and report["agent_steps"] == 60
    assert "session.finish" not in log and log[-4:] == [("final", False), "selection.close",
                                                        "records.close", "collector.close"]


def test_an_interrupt_reports_interrupted_and_closes_everything(log):
    def interrupt(report):
        if report.round == 2:
            raise KeyboardInterrupt

    report = _loop(log, on_round=interrupt).run()
    assert report["generation"] == 0 and ("final", True) in log
    assert "select" not in log and log[-3:] == ["selection.close", "records.close", "collector.close"]


def test_an_error_closes_everything_and_reaches_the_caller(log, monkeypatch):
    def broken(self, loop):
        raise KeyError("a bug at the end of a generation")

    monkeypatch.setattr(Selection, "select", broken)
    with pytest.raises(KeyError):
        _loop(log).run()
    assert not any(isinstance(e, tuple) and e[0] in ("final", "end_generation") for e in log)
    assert log[-3:] == ["selection.close", "records.close", "collector.close"]
