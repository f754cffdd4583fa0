"""RolloutWorker in-process (inline envs): LSTM state bookkeeping, seating changes."""

import numpy as np
import pytest

from popbased.errors import BadInput
from popbased.env.pool import BatchedEnv
from popbased.ppo.config import NetConfig
from popbased.ppo.learner import Learner
from popbased.rollout.worker import RolloutWorker
from popbased.substrates import resolve


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


def test_async_steps():
    with BatchedEnv(resolve("open"), 2, seed=1, backend="inline") as env:
        env.reset()
        actions = np.zeros(env.num_seats, dtype=np.int64)
        with pytest.raises(RuntimeError):
            env.step_wait()
        env.step_async(actions)
        with pytest.raises(RuntimeError):
            env.step_async(actions)
        out = env.step_wait()
        assert out.rewards.shape == (14, len(env.components))
