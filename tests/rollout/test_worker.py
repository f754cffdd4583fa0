"""RolloutWorker in-process (popbased.rollout.worker, inline envs): LSTM state bookkeeping,
seating changes, asymmetric seating of no_zap members in an open arena."""

import numpy as np
import pytest

from popbased.errors import BadInput
from popbased.ppo.config import NetConfig
from popbased.ppo.learner import Learner
from popbased.rollout.worker import RolloutWorker
from popbased.substrates import resolve

from conftest import POPS


@pytest.fixture(scope="module")
def worker():
    w = RolloutWorker(resolve("open"), 2, seed=5, backend="inline", max_episode_steps=25)
    yield w
    w.close()


def test_recurrent_member_states_and_continuation(worker):
    rnn = Learner("rnn", 11, worker.action_names, net=NetConfig(lstm=8), device="cpu", seed=1)
    flat = Learner("flat", 11, worker.action_names, device="cpu", seed=2)
    pubs = {"rnn": rnn.publication(), "flat": flat.publication()}
    seats = ["rnn"] * 7 + ["flat"] * 7
    first = {b.member: b for b in worker.collect(pubs, seats, 20, bptt=10)["batches"]}
    b = first["rnn"]
    assert b.states.shape == (2, 7, 2, 8) and first["flat"].states is None
    assert not b.states[0].any()            # a fresh seat starts from zeros
    assert b.states[1].any()                 # the state carried into the second chunk
    assert b.starts[0].all() and not b.starts[1:20][~b.dones[:19]].any()
    second = {b.member: b for b in worker.collect(pubs, seats, 20, bptt=10)["batches"]}
    # the episodes were cut at 25 steps: step 5 of the second fragment starts new ones
    assert second["rnn"].starts[5].all() and not second["rnn"].starts[0].any()
    assert second["rnn"].states[0].any()     # memory carried over between fragments
    result = worker.collect(pubs, ["flat"] * 7 + ["rnn"] * 7, 10, bptt=10)
    moved = {b.member: b for b in result["batches"]}["rnn"]
    assert moved.starts[0].all() and not moved.states[0].any()  # new seats, fresh memory


def test_bad_seating_is_a_clear_error(worker):
    flat = Learner("flat", 11, worker.action_names, device="cpu")
    with pytest.raises(BadInput, match="14 seats"):
        worker.collect({"flat": flat.publication()}, ["flat"] * 3, 5)
    with pytest.raises(BadInput, match="no weights published"):
        worker.collect({"flat": flat.publication()}, ["flat"] * 13 + ["ghost"], 5)


def _publication(pop_file, member):
    from popbased.league.arena import action_names
    from popbased.population.spec import load as load_population
    from popbased.ppo.learner import Learner

    learner = Learner(member, 11, action_names(load_population(pop_file)), seed=1)
    return learner.publication()


def test_no_zap_members_never_zap_in_an_open_arena_and_seats_change_only_between_episodes():
    """Asymmetric seating: no_zap members play an open arena with FIRE_ZAP masked, beside
    open members who can zap. A worker told to reseat every fragment keeps each env's match
    until its episode ends."""
    from popbased.rollout.worker import RolloutWorker
    from popbased.substrates import resolve

    arena = resolve("open", {})
    worker = RolloutWorker(arena, 2, seed=3, max_episode_steps=100, backend="inline")
    pubs = {"open/m0": _publication(POPS / "open.toml", "open/m0"),
            "no_zap/m0": _publication(POPS / "no_zap.toml", "no_zap/m0"),
            "open@g1": {**_publication(POPS / "open.toml", "open@g1"), "frozen": True}}
    assert "FIRE_ZAP" not in pubs["no_zap/m0"]["action_names"]
    rng = np.random.default_rng(0)
    episodes = []
    for fragment in range(6):  # 6 x 50 steps = 3 episodes per env
        seats, matches = [], []
        for env in range(2):
            mine = sorted(rng.choice(7, size=3, replace=False).tolist())
            labels = ["no_zap/m0" if s in mine else str(rng.choice(["open/m0", "random", "open@g1"]))
                      for s in range(7)]
            seats += labels
            matches.append({"fragment": fragment, "env": env, "labels": labels})
        result = worker.collect(pubs, seats, 50, matches=matches)
        # a frozen snapshot plays but is never trained: no batch for it
        assert {b.member for b in result["batches"]} <= {"open/m0", "no_zap/m0"}
        episodes += result["episodes"]
    worker.close()
    assert len(episodes) == 6
    zaps_by_no_zap = zaps_by_others = 0
    for e in episodes:
        match = e["match"]
        assert match["fragment"] % 2 == 0  # seated at the episode's first fragment, kept after
        assert e["members"] == match["labels"]
        for seat, member in enumerate(e["members"]):
            if member == "no_zap/m0":
                zaps_by_no_zap += e["zaps_fired"][seat]
            else:
                zaps_by_others += e["zaps_fired"][seat]
    assert zaps_by_no_zap == 0
    assert zaps_by_others > 0  # the open, snapshot and random seats beside them do zap
    assert {"open@g1", "random"} <= {m for e in episodes for m in e["members"]}
