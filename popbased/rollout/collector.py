"""Collector: RolloutWorkers as Ray actors, fragments gathered per member, failures recovered.

Melting Pot envs are stepped by RolloutWorkers (popbased.rollout.worker); the fast env on a
Ray cluster by FastShards (popbased.rollout.device), each a shard of worlds on its own
device. On one machine the fast env needs no actors: see DeviceCollector.

A worker that dies (its process is killed, its node goes away) is restarted by Ray
(`max_restarts=-1`); the fragment it was collecting is lost and collected again by the
restarted worker, and `restarts` counts it. Training never stops for it. While Ray is still
restarting it (ActorUnavailableError) the driver waits for it, up to START_TIMEOUT_S; a worker
that dies more than MAX_RETRIES times in a row stops the run.
"""

from __future__ import annotations

import math
import re
import time
from typing import Any, Mapping, Sequence

from popbased.env.arenas import allocate
from popbased.errors import BadInput, InternalError
from popbased.ppo.batch import Batch, concat
from popbased.rollout.device import FastShard
from popbased.rollout.fragment import Fragment
from popbased.rollout.worker import RolloutWorker
from popbased.substrates.spec import Lab2dSpec

MAX_RETRIES = 5
START_TIMEOUT_S = 300


RAY_UNITS = 10_000
"""Ray counts fractional resources in steps of 1/10,000 of a unit."""


def shard_gpus(gpus: float, workers: int, learner: bool = False) -> float:
    """The GPU fraction each FastShard asks Ray for, on a cluster of `gpus` GPUs: 1 / ceil(slots
    / gpus), `slots` being the workers plus one for the learner when it runs on CUDA in the
    driver (`learner`): an actor's fraction must fit on one GPU (Ray never splits it across
    two), so 2 GPUs and 3 workers at 2/3 each would place two and leave the third waiting,
    where 1/2 each places all three. Rounded down to Ray's resource unit, so that a GPU's
    shares never add up past one GPU in Ray's units (1/6: 0.1666). 0 without GPUs, at most 1.

    The learner's slot: Ray does not see the driver's CUDA work, so a learner on a GPU that Ray
    also lends counts as one more shard in the packing; Ray then keeps a slot's worth of GPU
    free (on a one-GPU machine, the learner's GPU: the shards leave it 1 / slots)."""
    whole = math.floor(gpus)
    if whole < 1 or workers < 1:
        return 0.0
    per_gpu = math.ceil((workers + (1 if learner else 0)) / whole)
    return (RAY_UNITS // per_gpu) / RAY_UNITS


def worker_error(index: int, err: Exception) -> Exception:
    """What a rollout worker raised, as the driver raises it: a BadInput stays one line for
    the user; anything else is an InternalError carrying the worker's traceback."""
    cause = getattr(err, "cause", None)
    if isinstance(cause, BadInput):
        return BadInput(str(cause))
    text = str(cause if cause is not None else err).strip()
    what = (f"{type(cause).__name__}: " if cause is not None else "") + (text.splitlines() or [""])[0]
    return InternalError(f"rollout worker {index} failed ({what})",
                         detail=re.sub(r"\x1b\[[0-9;]*m", "", str(err)))  # Ray colours it


class Collector:
    def __init__(self, spec: Lab2dSpec, *, workers: int, envs_per_worker: int, seed: int = 0,
                 obs_size: int = 11, apples_in_view: bool | None = None,
                 max_episode_steps: int | None = None, worker_cpus: float = 1.0,
                 env_backend: str = "process", bots: tuple[str, str] | None = None,
                 learner_gpu: bool = False, scripted: bool = False, arenas=None):
        """bots: (models root, Melting Pot substrate): the workers may seat Melting Pot's bots
        (rollout/bots.py; Melting Pot envs only); scripted: the workers may seat scripted players
        (their Melting Pot envs then carry the world state); arenas: (Arena, spec) pairs to train
        across, one per worker (the workers split between them by weight); learner_gpu: the driver's learner runs on
        CUDA (FastShards leave it a share: shard_gpus)."""
        import ray  # deferred: heavy, and only a Collector (a run on Ray) needs it

        self._ray = ray
        self.spec = spec
        gpus = 0.0
        if env_backend == "fast":  # each actor a shard of fast worlds on its own device
            gpus = shard_gpus(ray.cluster_resources().get("GPU", 0), workers, learner_gpu)
            actor = ray.remote(FastShard).options(max_restarts=-1, max_task_retries=0,
                                                  num_cpus=worker_cpus, num_gpus=gpus)
        else:
            actor = ray.remote(RolloutWorker).options(max_restarts=-1, max_task_retries=0,
                                                      num_cpus=worker_cpus)
        if bots is not None and env_backend == "fast":
            raise BadInput("Melting Pot's bots play on Melting Pot itself; use env = \"meltingpot\"")
        extra = {} if bots is None else {"bots": bots}
        if scripted and env_backend != "fast":
            extra["scripted"] = True
        specs, names = [spec] * workers, [None] * workers
        if arenas:
            counts = allocate(workers, [a.weight for a, _ in arenas], "rollout workers")
            specs = [s for (_, s), n in zip(arenas, counts) for _ in range(n)]
            names = [a.name for (a, _), n in zip(arenas, counts) for _ in range(n)]
        self.actors = [actor.remote(specs[i], envs_per_worker, seed=seed + 7919 * i, obs_size=obs_size,
                                    apples_in_view=apples_in_view,
                                    max_episode_steps=max_episode_steps, backend=env_backend,
                                    **extra, **({"arena": names[i]} if names[i] else {}))
                       for i in range(workers)]
        try:
            self.info = ray.get([a.info.remote() for a in self.actors], timeout=START_TIMEOUT_S)[0]
        except ray.exceptions.GetTimeoutError:
            for a in self.actors:
                ray.kill(a)
            asked = f"{worker_cpus} CPU" + (f" and {gpus:g} GPU" if gpus else "")
            have = ray.cluster_resources()
            raise RuntimeError(f"{workers} rollout workers ({asked} each) did not start within "
                               f"{START_TIMEOUT_S} s; the Ray cluster has {have.get('CPU', 0)} CPUs"
                               + (f" and {have.get('GPU', 0)} GPUs" if gpus else "")) from None
        self.components = tuple(self.info["components"])
        self.action_names = tuple(self.info["action_names"])
        self.seats_per_worker = self.info["num_seats"]
        self.players = self.info["players"]
        self.restarts = 0
        self._pending: list | None = None

    asynchronous = True
    """Fragments are collected by the workers while the driver learns (see gather's `then`)."""

    @property
    def shards(self) -> int:
        """Rollout workers, each with its own seat plan."""
        return len(self.actors)

    @property
    def pending(self) -> bool:
        """A fragment is being collected (submitted, not yet gathered)."""
        return self._pending is not None

    @property
    def num_seats(self) -> int:
        return self.seats_per_worker * len(self.actors)

    def publish(self, publications: Sequence[Mapping[str, Any]]) -> dict[str, dict]:
        """Puts each member's weights in the object store once; returns light handles."""
        return {p["member"]: {"member": p["member"], "version": p["version"],
                              "ref": self._ray.put(dict(p)),
                              **({"social": p["social"]} if p.get("social") else {})}
                for p in publications}

    def submit(self, handles: Mapping[str, dict], seat_members: Sequence[Sequence[str]],
               length: int, bptt: int | None = None, matches: Sequence[Sequence] | None = None) -> None:
        """Starts a fragment of `length` steps in every worker (seat_members: one list per
        worker; matches: one list of per-env match descriptions per worker, league play)."""
        if self._pending is not None:
            raise RuntimeError("a fragment is already being collected")
        self._pending = [self._start(i, handles, seat_members, length, bptt, matches)
                         for i in range(len(self.actors))]

    def _start(self, i: int, handles, seats, length: int, bptt: int | None, matches=None) -> tuple:
        args = (dict(handles), list(seats[i]), length, bptt,
                None if matches is None else list(matches[i]))
        return i, args, self.actors[i].collect.remote(*args)

    def gather(self, then: tuple | None = None) -> Fragment:
        """Waits for the submitted fragment; re-collects what dead workers lost.

        then = (handles, seat_members, length, bptt[, matches]): each worker starts that next
        fragment as soon as its current one is in, instead of idling until the slowest is done.
        """
        ray = self._ray
        pending, self._pending = self._pending, None
        following: list = [None] * len(self.actors)
        results: list[dict | None] = [None] * len(self.actors)
        attempts = [0] * len(self.actors)
        restarted: list[float | None] = [None] * len(self.actors)  # when its last death was seen
        while pending:
            refs = [ref for _, _, ref in pending]
            ready, _ = ray.wait(refs, num_returns=1)
            index = refs.index(ready[0])
            i, args, ref = pending.pop(index)
            try:
                results[i] = ray.get(ref)
                if then is not None:
                    following[i] = self._start(i, *then)
            except ray.exceptions.RayTaskError as err:  # collect() raised: not a lost worker
                self._drain([r for _, _, r in pending] + [f[2] for f in following if f])
                raise worker_error(i, err) from None
            except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError,
                    ray.exceptions.ObjectLostError) as err:
                restarting = isinstance(err, ray.exceptions.ActorUnavailableError)
                if restarting and restarted[i] is not None:
                    # asked again while Ray still restarts it (a new process imports for
                    # seconds, longer on a busy machine): not another death
                    if time.monotonic() - restarted[i] > START_TIMEOUT_S:
                        raise RuntimeError(f"rollout worker {i} was restarted but did not come "
                                           f"back within {START_TIMEOUT_S} s") from None
                    time.sleep(0.5)
                else:  # its fragment is lost: a death
                    attempts[i] += 1
                    self.restarts += 1
                    if attempts[i] > MAX_RETRIES:
                        raise RuntimeError(f"rollout worker {i} died {attempts[i]} times in a row")
                    restarted[i] = time.monotonic()
                    time.sleep(0.2 * attempts[i])
                pending.append((i, args, self.actors[i].collect.remote(*args)))
        if then is not None:
            self._pending = following
        by_member: dict[str, list[Batch]] = {}
        episodes: list[dict] = []
        timing: dict[str, float] = {}
        for i, result in enumerate(results):
            for batch in result["batches"]:
                by_member.setdefault(batch.member, []).append(batch)
            episodes += [{**summary, "worker": i} for summary in result["episodes"]]
            for key, value in result["timing"].items():
                timing[key] = timing.get(key, 0) + value
        return Fragment({m: concat(b) for m, b in by_member.items()}, tuple(episodes), timing)

    def _drain(self, refs: list, timeout: float = 60.0) -> None:
        """Waits for fragments still running after a failure, so that their results (errors,
        most likely the same one) are taken here rather than printed by Ray."""
        for ref in refs:
            try:
                self._ray.get(ref, timeout=timeout)
            except Exception:
                pass

    def collect(self, handles, seat_members, length, bptt=None, matches=None) -> Fragment:
        self.submit(handles, seat_members, length, bptt, matches)
        return self.gather()

    def worker_pids(self) -> list[int]:
        return self._ray.get([a.pid.remote() for a in self.actors])

    def close(self) -> None:
        for actor in self.actors:
            try:
                self._ray.get(actor.close.remote(), timeout=30)
            except Exception:
                pass
            self._ray.kill(actor)
        self.actors = []
