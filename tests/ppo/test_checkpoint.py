"""Checkpoints (popbased.ppo.checkpoint): bit-identical round trips, corrupt or mismatched
files as clear errors, atomic writes."""

import os

import pytest
import torch

from popbased.errors import BadInput
from popbased.ppo import checkpoint

from conftest import ACTIONS, learner_weights, make_batch, make_learner, same_weights


@pytest.mark.parametrize("lstm", [0, 16])
def test_checkpoint_round_trip_is_bit_identical(tmp_path, lstm):
    learner = make_learner(lstm)
    learner.update(make_batch(lstm=lstm, seed=5))
    path = tmp_path / "m0.pt"
    digest = checkpoint.save(learner, path, {"substrate": "open"})
    assert len(digest) == 64
    restored, extra = checkpoint.load_learner(path, device="cpu")
    assert extra == {"substrate": "open"} and restored.version == learner.version
    assert same_weights(learner_weights(learner), learner_weights(restored))
    # the same seed and the same batch give bit-identical updates and actions
    batch = make_batch(lstm=lstm, seed=6)
    learner.update(batch)
    restored.update(batch)
    assert same_weights(learner_weights(learner), learner_weights(restored))
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


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_checkpoints_get_the_umask_mode(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        checkpoint.save(make_learner(), tmp_path / "m0.pt")
    finally:
        os.umask(old)
    assert (tmp_path / "m0.pt").stat().st_mode & 0o777 == mode
