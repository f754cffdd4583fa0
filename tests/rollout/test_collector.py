"""The collector (popbased.rollout.collector): rollout workers as real Ray actors on real
substrates; members and masks in a mixed arena, a killed worker restarted and its fragment
collected again, errors inside workers reaching the driver as one line; and (Ray's answers
played back) a worker that Ray is still restarting waited for, not counted as dead again; the
FastShards' GPU fraction fits on one GPU (shard_gpus), shown on a real Ray with declared GPUs."""

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


# ---------------------------------------------------------------------- FastShards' GPU share
def test_shard_gpus_always_fit_on_one_gpu():
    from popbased.rollout.collector import shard_gpus

    assert shard_gpus(0, 3) == 0.0 and shard_gpus(2, 0) == 0.0
    assert shard_gpus(2, 3) == 0.5  # not 2/3: a third shard at 2/3 fits on neither GPU
    assert shard_gpus(1, 1) == 1.0 and shard_gpus(4, 2) == 1.0  # never more than one GPU
    assert shard_gpus(1, 1, learner=True) == 0.5  # the learner's GPU keeps a share
    assert shard_gpus(2, 3, learner=True) == 0.5 and shard_gpus(2, 4, learner=True) == 0.3333
    for gpus in (1, 2, 3, 8):
        for workers in range(1, 65):
            for learner in (False, True):
                f = shard_gpus(gpus, workers, learner)
                per_gpu = -(-(workers + learner) // gpus)
                units = round(f * 1e4)  # as Ray counts it (1/10,000 of a GPU)
                assert abs(units - f * 1e4) < 1e-6 and units * per_gpu <= 10_000  # all fit
                assert per_gpu * gpus >= workers + learner  # slots for everyone


PLACEMENT = r'''
import json, sys
import ray
from ray.util.placement_group import placement_group

from popbased.rollout.collector import shard_gpus

ray.init(num_cpus=2, num_gpus=2, address="local", include_dashboard=False, log_to_driver=False)


@ray.remote(num_cpus=0)
class Shard:
    def gpus(self):
        return ray.get_gpu_ids()


f = shard_gpus(ray.cluster_resources()["GPU"], 3)
actors = [Shard.options(num_gpus=f).remote() for _ in range(3)]
ready, waiting = ray.wait([a.gpus.remote() for a in actors], num_returns=3, timeout=120)
ids = [ray.get(r) for r in ready]
for a in actors:
    ray.kill(a)
# without starting processes: bundles as Ray reserves them for actors (a group places whole)
def places(fraction, n):
    pg = placement_group([{"GPU": fraction}] * n, strategy="PACK")
    ok = pg.wait(timeout_seconds=10)
    ray.util.remove_placement_group(pg)
    return ok
out = {"fraction": f, "placed": len(ready), "gpu_ids": ids,
       "old_three": places(min(1.0, 2 / 3), 3), "twelve": places(shard_gpus(2, 12), 12)}
print(json.dumps(out))
ray.shutdown()
'''


def test_three_shards_place_on_two_declared_gpus(tmp_path):
    """A real local Ray with 2 declared GPUs (none present): three actors asking shard_gpus's
    fraction all start, each on one GPU; the old min(1, gpus / workers) = 2/3 places only two of
    three (a placement group of three such bundles never places); twelve at 1/6 (rounded down
    to Ray's unit) place."""
    import json
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    out = subprocess.run([sys.executable, "-c", PLACEMENT], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["fraction"] == 0.5 and result["placed"] == 3
    assert all(len(ids) == 1 for ids in result["gpu_ids"])
    on = [ids[0] for ids in result["gpu_ids"]]
    assert max(on.count(i) for i in on) == 2  # two halves share a GPU, the third has one alone
    assert not result["old_three"] and result["twelve"]
