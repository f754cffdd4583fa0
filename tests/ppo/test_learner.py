"""The PPO learner (popbased.ppo.learner): updates, the learning-rate schedule, non-finite
containment, the device choice."""

import numpy as np
import pytest
import torch

from popbased.errors import BadInput
from popbased.ppo.config import PPOConfig
from popbased.ppo.learner import Learner, resolve_device

from conftest import ACTIONS, learner_weights, make_batch, make_learner, same_weights


@pytest.mark.parametrize("lstm", [0, 16])
def test_update_changes_weights_and_reports(lstm):
    learner = make_learner(lstm)
    before = learner_weights(learner)
    stats = learner.update(make_batch(lstm=lstm))
    assert not same_weights(before, learner_weights(learner))
    assert stats["skipped"] == 0 and np.isfinite(stats["policy_loss"]) and stats["entropy"] > 1.5
    assert learner.version == 1 and learner.agent_steps == 120 and not learner.flagged


def test_linear_lr_schedule():
    learner = Learner("m0", 11, ACTIONS, config=PPOConfig(lr=1e-3, lr_schedule="linear"),
                      device="cpu", total_steps=240)
    assert learner.update(make_batch())["lr"] == pytest.approx(1e-3 * 0.5)


def test_nonfinite_reward_never_reaches_the_weights():
    learner = make_learner()
    batch = make_batch()
    batch.rewards[3, 2, 0] = np.nan
    before = learner_weights(learner)
    stats = learner.update(batch)
    assert stats["skipped"] == 1.0 and same_weights(before, learner_weights(learner))
    assert learner.flagged and "non-finite" in learner.flags[0]
    assert learner.update(make_batch(seed=1))["skipped"] == 0.0  # it goes on afterwards


def test_nonfinite_gradient_never_reaches_the_weights():
    learner = make_learner()
    before = learner_weights(learner)
    opt_state = {k: v for k, v in learner.optimizer.state_dict()["state"].items()}
    handle = learner.policy.actor.weight.register_hook(lambda g: g * float("nan"))
    stats = learner.update(make_batch())
    handle.remove()
    assert stats["skipped"] == 1.0 and "gradient" in learner.flags[0]
    assert same_weights(before, learner_weights(learner)) and learner.weights_finite()
    assert learner.optimizer.state_dict()["state"] == opt_state  # Adam's moments untouched


def test_nonfinite_loss_is_contained():
    learner = make_learner()
    batch = make_batch()
    batch.logp[:] = -1e30  # finite inputs whose ratio overflows to inf
    before = learner_weights(learner)
    stats = learner.update(batch)
    assert stats["skipped"] == 1.0 and same_weights(before, learner_weights(learner))


def test_device_choice():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(BadInput):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(BadInput, match="no CUDA"):
            resolve_device("cuda")


def test_a_snapshot_keeps_its_weights_when_its_member_goes_on_training():
    import torch

    from popbased.ppo.learner import Learner, publication

    learner = Learner("open/m0", 11, ["NOOP", "FORWARD"], seed=0)
    frozen = publication(learner.policy, "open@g1", ("snapshot:open@g1", 0), frozen=True)
    before = {k: v.copy() for k, v in frozen["weights"].items()}
    with torch.no_grad():
        for p in learner.policy.parameters():
            p.add_(1.0)  # in place, as Adam and PBT's copy do
    assert all(np.array_equal(frozen["weights"][k], before[k]) for k in before)


@pytest.mark.parametrize("seats, sizes", [(140, [1000] * 7), (23, [1150]), (30, [750, 750]),
                                          (8, [400]), (29, [1450]), (31, [775, 775])])
def test_minibatches_are_equal_parts_of_about_the_minibatch_size(seats, sizes):
    """round(n / minibatch_size) equal parts: one optimizer step per about minibatch_size
    samples, whatever a member's share of the seats (no small remainder minibatch)."""
    learner = Learner("m0", 11, ACTIONS, config=PPOConfig(minibatch_size=1000), device="cpu")
    batch = make_batch(steps=50, seats=seats)
    parts = learner._minibatches(batch)
    assert [len(p) for p in parts] == sizes
    assert sorted(torch.cat(parts).tolist()) == list(range(50 * seats))  # each sample once


@pytest.mark.parametrize("lstm", [0, 16])
def test_an_update_reads_the_device_a_fixed_number_of_times(lstm):
    """An update reads device values on the host twice whatever its number of minibatches:
    whether its inputs are finite (before anything else) and, at the end, its stats with the
    number of steps taken and why it was abandoned, if it was (the steps' containment runs on
    the device). With the LSTM the steps within the batch are found on the host, from the
    host's minibatch indices (a nonzero of a CPU tensor, not a device read)."""
    from tests_reads import ReadCounter

    torch.set_num_threads(1)
    reads = []
    for epochs in (1, 4):
        learner = make_learner(lstm, epochs=epochs)
        batch = make_batch(lstm=lstm)
        counter = ReadCounter()
        with counter:
            stats = learner.update(batch)
        assert stats["skipped"] == 0.0
        calls = dict(counter.calls)
        if lstm:  # the host's own nonzero, one per minibatch (on CPU tensors)
            assert calls.pop("nonzero") == 3 * epochs
        reads.append(calls)
    assert reads[0] == reads[1] == {"__bool__": 1, "tolist": 1}, reads
