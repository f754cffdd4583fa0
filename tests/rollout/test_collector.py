"""The collector (popbased.rollout.collector): rollout workers as real Ray actors on real
substrates; members and masks in a mixed arena, a killed worker restarted and its fragment
collected again, errors inside workers reaching the driver as one line; and (Ray's answers
played back) a worker that Ray is still restarting waited for, not counted as dead again."""

import os
import signal

import numpy as np
import pytest
import torch

from popbased.errors import BadInput, InternalError
from popbased.ppo.learner import Learner
from popbased.rollout.collector import Collector
from popbased.substrates import resolve


@pytest.mark.slow
def test_members_and_masks_in_a_mixed_arena(ray_local):
    """An open arena with a no_zap member (7 actions) and an open member (8 actions)."""
    spec = resolve("open")
    collector = Collector(spec, workers=1, envs_per_worker=2, seed=1, max_episode_steps=40)
    try:
        zapper = Learner("zapper", 11, collector.action_names, device="cpu", seed=1)
        pacifist = Learner("pacifist", 11, resolve("no_zap").action_names, device="cpu", seed=2)
        with torch.no_grad():  # make both want FIRE_ZAP (pacifist: its last output, TURN_RIGHT)
            zapper.policy.actor.bias[zapper.policy.action_names.index("FIRE_ZAP")] = 5.0
        handles = collector.publish([zapper.publication(), pacifist.publication()])
        seats = [["zapper", "pacifist"] * 7]
        result = collector.collect(handles, seats, length=60)
        batches = result.batches
        assert set(batches) == {"zapper", "pacifist"}
        z, p = batches["zapper"], batches["pacifist"]
        assert z.obs.shape == (60, 7, 11, 11, 3) and p.obs.shape == (60, 7, 11, 11, 3)
        assert p.masks.shape[-1] == 7 and "FIRE_ZAP" not in pacifist.policy.action_names
        assert (z.actions == zapper.policy.action_names.index("FIRE_ZAP")).mean() > 0.5
        for b in (z, p):
            taken = np.take_along_axis(b.masks, b.actions[..., None], -1)
            assert taken.all()
            assert np.isfinite(b.logp).all() and (b.logp <= 0).all()
        assert z.rewards.shape[-1] == len(collector.components)
        # episodes are cut at 40 steps: each env ended one, seats listed by member
        assert len(result.episodes) == 2
        assert result.episodes[0]["members"] == ["zapper", "pacifist"] * 3 + ["zapper"]
        assert z.dones.sum() == 7 and z.dones[39].all() and z.starts[40].all()
        # the arena forbids FIRE_ZAP for the zapper's seats: the member mask follows
        arena_no_zap = Collector(resolve("no_zap"), workers=1, envs_per_worker=1, seed=2)
        try:
            handles = arena_no_zap.publish([zapper.publication()])
            b = arena_no_zap.collect(handles, [["zapper"] * 7], length=30).batches["zapper"]
            assert not b.masks[..., zapper.policy.action_names.index("FIRE_ZAP")].any()
            assert (b.actions != zapper.policy.action_names.index("FIRE_ZAP")).all()
        finally:
            arena_no_zap.close()
    finally:
        collector.close()


@pytest.mark.slow
def test_killed_worker_is_restarted_and_its_fragment_recollected(ray_local):
    spec = resolve("open")
    collector = Collector(spec, workers=1, envs_per_worker=1, seed=3)
    try:
        learner = Learner("m0", 11, collector.action_names, device="cpu")
        handles = collector.publish([learner.publication()])
        first_pid = collector.worker_pids()[0]
        collector.submit(handles, [["m0"] * 7], length=200)
        os.kill(first_pid, signal.SIGKILL)  # dies with the fragment submitted
        result = collector.gather()
        assert collector.restarts >= 1
        assert result.batches["m0"].obs.shape[:2] == (200, 7)
        assert collector.worker_pids()[0] != first_pid
    finally:
        collector.close()


@pytest.mark.slow  # starts Ray actors
def test_errors_inside_rollout_workers_reach_the_driver_as_one_line(ray_local):

    collector = Collector(resolve("open", {"players": 2}), workers=1, envs_per_worker=1,
                          env_backend="inline")
    try:
        with pytest.raises(BadInput) as bad:  # BadInput inside the worker: its message only
            collector.collect({}, [["random"] * 3], 5)
        assert str(bad.value) == "seat mapping has 3 entries; this worker has 2 seats"
        with pytest.raises(BadInput, match="^no weights published for member 'nobody'"):
            collector.collect({}, [["nobody", "random"]], 5)
        # a bug (here: weights of another shape than the network) is an internal error: one
        # line, the worker's traceback kept aside for the error log
        learner = Learner("m0", 11, collector.action_names, device="cpu")
        broken = learner.publication()
        name = next(iter(broken["weights"]))
        broken["weights"] = {**broken["weights"], name: np.zeros((3, 3), np.float32)}
        handles = collector.publish([broken])
        with pytest.raises(InternalError) as internal:
            collector.collect(handles, [["m0", "random"]], 5)
        message = str(internal.value)
        assert message.startswith("rollout worker 0 failed (RuntimeError: Error(s) in loading "
                                  "state_dict") and "\n" not in message
        detail = internal.value.detail
        assert 'worker.py", line' in detail and "in _publications" in detail and "\x1b" not in detail
        assert collector.collect({}, [["random", "random"]], 5).timing["steps"] == 5
    finally:
        collector.close()


class _Restarting:
    """Ray as the driver sees it while a killed worker is restarted slowly (a busy machine):
    the fragment's task died, then `unavailable` calls fail as 'the actor is restarting'."""

    def __init__(self, died: Exception, unavailable: int):
        import ray

        self.exceptions = ray.exceptions
        self.answers = [died] + [
            ray.exceptions.ActorUnavailableError("The actor is restarting", None)] * unavailable
        self.collect = self  # actor.collect.remote(...)

    def remote(self, *args):
        return self.answers.pop(0) if self.answers else {"batches": [], "episodes": [], "timing": {}}

    def wait(self, refs, num_returns=1):
        return refs[:1], refs[1:]

    def get(self, ref):
        if isinstance(ref, Exception):
            raise ref
        return ref


def _restarting_collector(died: Exception, unavailable: int) -> Collector:
    collector = Collector.__new__(Collector)
    collector._ray = fake = _Restarting(died, unavailable)
    collector.actors, collector.restarts = [fake], 0
    collector._pending = [(0, ({}, [], 10, None, None), fake.remote())]
    return collector


@pytest.mark.parametrize("died", ["ActorUnavailableError", "ActorDiedError"])
def test_a_worker_still_restarting_is_waited_for_and_is_not_another_death(monkeypatch, died):
    """The fragment in flight is lost (one death, whichever error Ray gives for it); asking
    again while Ray restarts the worker is waiting, however long it takes (up to a bound)."""
    import ray

    from popbased.rollout import collector as module

    died = (ray.exceptions.ActorDiedError() if died == "ActorDiedError" else
            ray.exceptions.ActorUnavailableError("The actor is restarting", None))
    monkeypatch.setattr(module.time, "sleep", lambda s: None)
    collector = _restarting_collector(died, unavailable=3 * module.MAX_RETRIES)
    assert collector.gather().batches == {} and collector.restarts == 1  # one death, not 16
    # ... but not forever: a worker that never comes back stops the run, saying so
    clock = iter(range(0, 10_000, 100))
    monkeypatch.setattr(module.time, "monotonic", lambda: float(next(clock)))
    with pytest.raises(RuntimeError, match="did not come back within 300 s"):
        _restarting_collector(died, unavailable=1000).gather()
