"""The PPO learner: updates, non-finite containment, checkpoints (round trip, corruption)."""

import os

import numpy as np
import pytest
import torch

from popbased.errors import BadInput
from popbased.ppo import checkpoint
from popbased.ppo.batch import concat
from popbased.ppo.config import NetConfig, PPOConfig
from popbased.ppo.learner import Learner, resolve_device

from conftest import ACTIONS, make_batch

def weights(learner):
    return [p.detach().clone() for p in learner.policy.parameters()]


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


def make_learner(lstm=0, **ppo):
    return Learner("m0", 11, ACTIONS, net=NetConfig(lstm=lstm),
                   config=PPOConfig(minibatch_size=40, bptt=10, **ppo), device="cpu", seed=3)


@pytest.mark.parametrize("lstm", [0, 16])
def test_update_changes_weights_and_reports(lstm):
    learner = make_learner(lstm)
    before = weights(learner)
    stats = learner.update(make_batch(lstm=lstm))
    assert not same(before, weights(learner))
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
    before = weights(learner)
    stats = learner.update(batch)
    assert stats["skipped"] == 1.0 and same(before, weights(learner))
    assert learner.flagged and "non-finite" in learner.flags[0]
    assert learner.update(make_batch(seed=1))["skipped"] == 0.0  # it goes on afterwards


def test_nonfinite_gradient_never_reaches_the_weights():
    learner = make_learner()
    before = weights(learner)
    opt_state = {k: v for k, v in learner.optimizer.state_dict()["state"].items()}
    handle = learner.policy.actor.weight.register_hook(lambda g: g * float("nan"))
    stats = learner.update(make_batch())
    handle.remove()
    assert stats["skipped"] == 1.0 and "gradient" in learner.flags[0]
    assert same(before, weights(learner)) and learner.weights_finite()
    assert learner.optimizer.state_dict()["state"] == opt_state  # Adam's moments untouched


def test_nonfinite_loss_is_contained():
    learner = make_learner()
    batch = make_batch()
    batch.logp[:] = -1e30  # finite inputs whose ratio overflows to inf
    before = weights(learner)
    stats = learner.update(batch)
    assert stats["skipped"] == 1.0 and same(before, weights(learner))


@pytest.mark.parametrize("lstm", [0, 16])
def test_checkpoint_round_trip_is_bit_identical(tmp_path, lstm):
    learner = make_learner(lstm)
    learner.update(make_batch(lstm=lstm, seed=5))
    path = tmp_path / "m0.pt"
    digest = checkpoint.save(learner, path, {"substrate": "open"})
    assert len(digest) == 64
    restored, extra = checkpoint.load_learner(path, device="cpu")
    assert extra == {"substrate": "open"} and restored.version == learner.version
    assert same(weights(learner), weights(restored))
    # the same seed and the same batch give bit-identical updates and actions
    batch = make_batch(lstm=lstm, seed=6)
    learner.update(batch)
    restored.update(batch)
    assert same(weights(learner), weights(restored))
    obs = torch.from_numpy(batch.obs[0])
    state = learner.policy.initial_state(6)
    torch.manual_seed(9)
    a = learner.policy.get_action_and_value(obs, state)[0]
    torch.manual_seed(9)
    b = restored.policy.get_action_and_value(obs, state)[0]
    assert torch.equal(a, b)


def test_corrupt_or_mismatched_checkpoints_are_clear_errors(tmp_path):
    learner = make_learner()
    path = tmp_path / "m0.pt"
    checkpoint.save(learner, path)
    data = path.read_bytes()
    (tmp_path / "trunc.pt").write_bytes(data[:len(data) // 2])
    with pytest.raises(BadInput, match="hash mismatch"):
        checkpoint.read(tmp_path / "trunc.pt")
    flipped = bytearray(data)
    flipped[-100] ^= 0xFF
    (tmp_path / "flip.pt").write_bytes(bytes(flipped))
    with pytest.raises(BadInput, match="hash mismatch"):
        checkpoint.read(tmp_path / "flip.pt")
    (tmp_path / "other.pt").write_bytes(b"hello\n" + data)
    with pytest.raises(BadInput, match="not a popbased checkpoint"):
        checkpoint.read(tmp_path / "other.pt")
    with pytest.raises(BadInput, match="no such file"):
        checkpoint.read(tmp_path / "missing.pt")
    with pytest.raises(BadInput, match="actions"):
        checkpoint.load_learner(path, device="cpu", expect_actions=ACTIONS[:7])
    with pytest.raises(BadInput, match="observations"):
        checkpoint.load_policy(path, obs_size=88)


def test_failed_write_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    learner = make_learner()
    path = tmp_path / "m0.pt"
    checkpoint.save(learner, path)
    old = path.read_bytes()
    learner.update(make_batch())

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        checkpoint.save(learner, path)
    assert path.read_bytes() == old and os.listdir(tmp_path) == ["m0.pt"]


def test_concat_joins_seats():
    a, b = make_batch(seats=2), make_batch(seats=3, seed=1)
    joined = concat([a, b])
    assert joined.obs.shape[:2] == (20, 5) and joined.last_value.shape == (5,)
    assert np.array_equal(joined.actions[:, 2:], b.actions)


def test_device_choice():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(BadInput):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(BadInput, match="no CUDA"):
            resolve_device("cuda")
