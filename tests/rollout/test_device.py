"""popbased.rollout.device: the device-resident rollout gives batches with the Melting Pot
rollout's fields and meaning, and plays seats as the Ray rollout workers do (random and
frozen seats, action sets, recurrent state); on every device of the `device` fixture (the
collector, its env and the learners on it)."""

import numpy as np
import pytest
import torch

from popbased.env.fast.env import FastBatchedEnv
from popbased.env.instance import FAST_COMPONENTS
from popbased.ppo.actions import RANDOM
from popbased.ppo.batch import Batch
from popbased.ppo.config import NetConfig, PPOConfig
from popbased.ppo.learner import Learner, publication
from popbased.ppo.policy import masked_log_softmax
from popbased.rollout.device import DeviceCollector
from popbased.substrates import resolve

OPEN = resolve("open")
NO_ZAP_ACTIONS = tuple(a for a in OPEN.action_names if a != "FIRE_ZAP")


def _collector(device, worlds=3, seed=7, **kwargs):
    return DeviceCollector(OPEN, worlds=worlds, seed=seed, max_episode_steps=30, device=device,
                           **kwargs)


def test_a_fragment_replays_step_for_step_on_the_same_worlds(device):
    """What the batch says happened is what the env does: the same worlds (same seed)
    stepped with the batch's actions give the batch's observations, rewards and dones; the
    stored log-probabilities and values are the policy's for those observations."""
    collector = _collector(device)
    learner = Learner("m0", 11, collector.action_names, device=str(device), seed=1)
    fragment = collector.collect(collector.publish([learner.publication()]),
                                 [["m0"] * collector.num_seats], 40)
    batch = fragment.batches["m0"]
    assert set(fragment.batches) == {"m0"} and batch.agent_steps == 40 * 21
    env = FastBatchedEnv(OPEN, 3, seed=7, max_episode_steps=30, device=device)
    obs, _ = env.reset_tensors()
    for t in range(40):
        assert torch.equal(batch.obs[t], obs)
        out = env.step_tensors(batch.actions[t])  # one member with the arena's action set
        assert torch.equal(batch.rewards[t], out.rewards) and torch.equal(batch.dones[t], out.done)
        obs = out.rgb
    assert batch.starts[0].all() and torch.equal(batch.starts[1:], batch.dones[:-1])
    assert batch.dones[29].all() and not batch.dones[30:].any()  # episodes of 30 steps
    with torch.inference_mode():
        logits, values, _ = learner.policy(batch.obs.flatten(0, 1))
        logp = masked_log_softmax(logits, batch.masks.flatten(0, 1))
        chosen = logp.gather(-1, batch.actions.flatten().unsqueeze(-1)).squeeze(-1)
        _, last, _ = learner.policy(obs)
    torch.testing.assert_close(chosen, batch.logp.flatten(), rtol=0, atol=1e-5)
    torch.testing.assert_close(values, batch.values.flatten(), rtol=0, atol=1e-5)
    torch.testing.assert_close(last, batch.last_value, rtol=0, atol=1e-5)
    assert len(fragment.episodes) == 3
    assert {e["env"] for e in fragment.episodes} == {0, 1, 2}
    assert all(e["members"] == ["m0"] * 7 and e["steps"] == 30 for e in fragment.episodes)


def test_batches_have_the_melting_pot_rollouts_fields_and_meaning(ray_local, device):
    """A tiny fragment of each path: the same Batch fields, shapes, dtypes and components."""
    from popbased.rollout.worker import RolloutWorker

    learner = Learner("m0", 11, OPEN.action_names, device=str(device), seed=1)
    worker = RolloutWorker(OPEN, 1, backend="inline", seed=3)
    try:
        real = worker.collect({"m0": learner.publication()}, ["m0"] * 7, 12)["batches"][0]
    finally:
        worker.close()
    collector = _collector(device, worlds=1)
    fast = collector.collect(collector.publish([learner.publication()]), [["m0"] * 7], 12).batches["m0"]
    # the fast env's own components (last_apples) come after Melting Pot's
    assert fast.components == real.components + FAST_COMPONENTS and fast.member == real.member
    assert fast.policy_version == real.policy_version == (learner.uid, learner.version)
    for name in Batch.__dataclass_fields__:
        a, b = getattr(real, name), getattr(fast, name)
        if isinstance(a, np.ndarray) and name == "rewards":
            assert tuple(b.shape) == a.shape[:-1] + (len(fast.components),), name
        elif isinstance(a, np.ndarray):
            assert tuple(b.shape) == a.shape, name
            assert b.cpu().numpy().dtype == a.dtype, name
    assert real.starts[0].all() and fast.starts[0].all()
    assert (fast.masks.cpu().numpy() == real.masks).all()  # every action legal in open
    # both learn the same way (the learner takes numpy from Ray, tensors from the device)
    for batch in (real, fast):
        stats = learner.update(batch)
        assert stats["skipped"] == 0.0 and np.isfinite(stats["policy_loss"])


def test_random_frozen_recurrent_and_no_zap_seats_as_the_ray_workers_play_them(device):
    collector = _collector(device, worlds=2)
    a = Learner("a", 11, OPEN.action_names, device=str(device), seed=1)
    b = Learner("b", 11, NO_ZAP_ACTIONS, device=str(device), seed=2)  # no FIRE_ZAP output
    c = Learner("c", 11, OPEN.action_names, net=NetConfig(lstm=8), config=PPOConfig(bptt=10),
                device=str(device), seed=3)
    frozen = publication(a.policy, "a@g1", ("snap", 1), frozen=True)
    seats = ["a", "a", "b", "b", "c", "c", "c", RANDOM, RANDOM, "a@g1", "a@g1", "b", "a", "c"]
    handles = collector.publish([a.publication(), b.publication(), c.publication(), frozen])
    fragment = collector.collect(handles, [seats], 20, bptt=10)
    counts = {m: seats.count(m) for m in ("a", "b", "c")}
    assert sorted(fragment.batches) == ["a", "b", "c"]  # frozen and random seats: no batch
    for m, batch in fragment.batches.items():
        assert tuple(batch.actions.shape) == (20, counts[m])
    assert fragment.batches["b"].masks.shape[-1] == len(NO_ZAP_ACTIONS)
    assert fragment.batches["b"].masks.all()  # its own action set, all legal in open
    states = fragment.batches["c"].states
    assert tuple(states.shape) == (2, 4, 2, 8) and (states[0] == 0).all()  # first chunk: fresh
    # the recurrent state lives on: the next fragment's first chunk starts from it
    again = collector.collect(collector.publish([a.publication(), b.publication(), c.publication(),
                                                 frozen]), [seats], 20, bptt=10)
    assert again.batches["c"].states[0].abs().sum() > 0
    for learner in (a, b, c):  # every kind of batch trains (tensors, LSTM chunks, own actions)
        assert learner.update(again.batches[learner.member])["skipped"] == 0.0
    # a seat that changes hands starts with a fresh memory
    moved = list(seats)
    moved[4], moved[12] = "a", "c"
    third = collector.collect(collector.publish([a.publication(), b.publication(), c.publication(),
                                                 frozen]), [moved], 20, bptt=10)
    assert third.batches["c"].starts[0].tolist() == [False, False, True, False]  # seats 5 6 12 13
    # a frozen player no longer published plays on (league snapshots leaving the pool);
    # a learner without weights is an error
    collector.collect(collector.publish([a.publication(), b.publication(), c.publication()]),
                      [seats], 5)
    from popbased.errors import BadInput

    with pytest.raises(BadInput, match="no weights published for member 'c'"):
        collector.collect(collector.publish([a.publication(), b.publication()]), [seats], 5)


def test_random_seats_take_only_legal_actions(device):
    collector = _collector(device, worlds=1)
    mask = np.ones((7, 8), dtype=bool)
    mask[:, 7] = False  # no FIRE_ZAP anywhere
    collector.env.set_action_mask(mask)
    collector.arena_mask = torch.from_numpy(mask).to(device)  # indexed by the device's seats
    fired = []
    original = collector.env.step_tensors

    def spy(actions):
        fired.append(actions.clone())
        return original(actions)

    collector.env.step_tensors = spy
    collector.collect({}, [[RANDOM] * 7], 200)
    actions = torch.stack(fired)
    assert not (actions == 7).any() and len(actions.unique()) == 7


def test_background_collection_plays_the_published_weights_as_synchronous_collection_does(device):
    """With overlap, the next fragment is collected in a background thread while the learner
    updates in place: it plays the weights published before the update, exactly as a
    synchronous collector given the same publications does."""
    learner = Learner("m0", 11, OPEN.action_names, device=str(device), seed=1)
    sync, background = _collector(device, worlds=2), _collector(device, worlds=2, overlap=True)
    assert background.asynchronous and not sync.asynchronous
    seats = [["m0"] * 14]
    first = sync.publish([learner.publication()])
    background.submit(background.publish([learner.publication()]), seats, 15)
    expected = [sync.collect(first, seats, 15)]
    published = background.publish([learner.publication()])
    with torch.no_grad():  # the learner updates in place after publishing
        for p in learner.policy.parameters():
            p.add_(0.5)
    got = [background.gather(then=(published, seats, 15))]
    expected.append(sync.collect(first, seats, 15))
    got.append(background.gather())
    for e, g in zip(expected, got):
        for name in ("obs", "actions", "logp", "values", "rewards", "dones"):
            assert torch.equal(getattr(e.batches["m0"], name), getattr(g.batches["m0"], name)), name
    background.close()
    with pytest.raises(ValueError, match="synchronously"):
        sync.submit(first, seats, 5)
        sync.gather(then=(first, seats, 5))


def test_a_collector_step_reads_nothing_from_the_device_outside_the_env(monkeypatch):
    """The device collector's step (the padded stacked pass CUDA takes, run here on the CPU,
    Gumbel-max sampling, random seats, recurrent state, storage writes) reads no device value
    on the host: a fragment's reads outside the env's step do not grow with its length (what
    reads are there are per fragment: the seating's starts)."""
    import functools

    from tests_reads import ReadCounter
    from popbased.rollout import device as device_module

    torch.set_num_threads(1)
    monkeypatch.setattr(device_module, "RowPolicies",
                        functools.partial(device_module.RowPolicies, padded=True))
    collector = _collector("cpu", worlds=2)
    a = Learner("a", 11, OPEN.action_names, device="cpu", seed=1)
    b = Learner("b", 11, NO_ZAP_ACTIONS, device="cpu", seed=2)
    c = Learner("c", 11, OPEN.action_names, net=NetConfig(lstm=8), config=PPOConfig(bptt=10),
                device="cpu", seed=3)
    seats = ["a", "a", "b", "b", "c", "c", "c", RANDOM, RANDOM, "a", "b", "b", "a", "c"]
    counter = ReadCounter()
    original = collector.env.step_tensors

    def step(actions):
        counter.paused = True
        try:
            return original(actions)
        finally:
            counter.paused = False

    collector.env.step_tensors = step
    reads = []
    for length in (5, 25):
        handles = collector.publish([a.publication(), b.publication(), c.publication()])
        counter.calls.clear()
        with counter:
            collector.collect(handles, [seats], length, bptt=10)
        reads.append(dict(counter.calls))
    assert reads[0] == reads[1], reads
