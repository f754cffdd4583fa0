"""Rounds of collection and learning on one collector, and who sits where.

A Session plays one fragment on its collector with the seats its seating strategy draws,
then each learner seated in it runs a PPO update on the seats it played. Two seatings:

    SelfPlaySeats   every member an equal share of all seats (±1), shuffled every fragment
                    (world seating: whole worlds, dealt once)
    MatchSeats      one match per env per episode, drawn by a league's matchmaker

With `overlap` (the default) the next fragment is collected with the current weights while
the learners update (a policy lag of one fragment, corrected by PPO's importance ratio), so
env workers and learners use the cores at the same time. A batch collected by a learner that
has since been replaced (another `uid`: PBT copied a donor into it) is dropped, not learned
from: its actions came from weights that no longer exist.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque

import numpy as np

from popbased.errors import BadInput
from popbased.ppo.joint import update_all
from popbased.ppo.learner import Learner
from popbased.rollout.fragment import Fragment


def seating(rng: np.random.Generator, members: list[str], workers: int, seats: int,
            players: int | None = None) -> list[list[str]]:
    """Self-play seating: every member gets an equal share of all seats (±1), shuffled; with
    `players` (a world's seats), whole worlds instead: an equal share of the worlds (±1), each
    world's seats all one member's."""
    if players:
        worlds = seats // players
        pool = np.array([members[i % len(members)] for i in range(workers * worlds)], dtype=object)
        rng.shuffle(pool)
        return [[m for m in pool[w * worlds:(w + 1) * worlds] for _ in range(players)]
                for w in range(workers)]
    total = workers * seats
    pool = np.array([members[i % len(members)] for i in range(total)], dtype=object)
    rng.shuffle(pool)
    return [list(pool[w * seats:(w + 1) * seats]) for w in range(workers)]


class SelfPlaySeats:
    """Every learner an equal share of all seats, reseated every fragment (`per_world`: of the
    worlds, each world's seats one learner's: PBT's [pbt] seating = "world"; the worlds are
    dealt once, in equal shares, and each keeps its member for the session, so every episode
    is played by copies of one member from its first step to its last. A world's match is
    (member, the member's learner uid): after PBT copies a donor into the member, the world
    takes the new uid at its next episode start (rollout.seating), so an episode begun by the
    replaced weights carries the old uid and fitness can tell it apart)."""

    phase = "train"
    plan_s = 0.0  # drawn as it goes: nothing to set apart from the inner loop's time

    def __init__(self, per_world: bool = False):
        self.per_world = per_world
        self.worlds: tuple[tuple, list[list[str]]] | None = None  # (who and where, the deal)

    def plan(self, rng: np.random.Generator, collector, learners):
        if not self.per_world:
            return seating(rng, list(learners), collector.shards, collector.seats_per_worker), None
        players = collector.players
        worlds = collector.shards * (collector.seats_per_worker // players)
        if worlds < len(learners):
            raise BadInput(f"[pbt] seating = \"world\" needs at least one world per member: "
                           f"{len(learners)} members, {worlds} worlds ({collector.shards} x "
                           f"{collector.seats_per_worker // players}); allowed: more workers or "
                           f"envs per worker, or seating = \"mixed\"")
        key = (tuple(learners), collector.shards, collector.seats_per_worker, players)
        if self.worlds is None or self.worlds[0] != key:
            self.worlds = key, seating(rng, list(learners), collector.shards,
                                       collector.seats_per_worker, players)
        seats = self.worlds[1]
        # each env's "match" is its member and the member's learner uid: the collectors keep it
        # until the env's episode ends
        return seats, [[(s[e * players], learners[s[e * players]].uid) for e in range(len(s) // players)]
                       for s in seats]


class MatchSeats:
    """A league's seating: one match per env per episode, drawn by `matchmaker` under `rule`
    for `phase` ('train' or 'eval') of `generation`; `plan_s` is the time it took."""

    def __init__(self, matchmaker, rule: str, phase: str = "train"):
        self.matchmaker, self.rule, self.phase = matchmaker, rule, phase
        self.generation = 0
        self.plan_s = 0.0

    def plan(self, rng: np.random.Generator, collector, learners):
        t0 = time.perf_counter()
        envs = collector.seats_per_worker // self.matchmaker.players
        out = self.matchmaker.plan(rng, collector.shards, envs, self.rule, self.phase,
                                   self.generation)
        self.plan_s += time.perf_counter() - t0
        return out


class EpisodeWindow:
    """Running means over the last episodes (what the progress line shows)."""

    def __init__(self, size: int = 20):
        self.episodes: deque = deque(maxlen=size)
        self.count = 0

    def add(self, summaries: list[dict]) -> None:
        self.episodes.extend(summaries)
        self.count += len(summaries)

    def summary(self) -> dict[str, float]:
        if not self.episodes:
            return {}
        eps = list(self.episodes)
        out = {"per_capita_return": float(np.mean([e["per_capita_return"] for e in eps])),
               "gini": float(np.mean([e["gini"] for e in eps])),
               "episode_steps": float(np.mean([e["steps"] for e in eps])),
               "zap_hits_per_capita": float(np.mean([np.mean(e["zap_hits"]) for e in eps]))}
        depleted = [e["depleted"] for e in eps if e.get("depleted") is not None]
        if depleted:
            out["depleted_fraction"] = float(np.mean(depleted))
        return out


class Session:
    """Rounds on one collector (see the module docstring); `seats` draws the seating and
    `rng` is what it draws from."""

    def __init__(self, config, collector, learners: dict[str, Learner], seats=None):
        self.config = config
        self.collector = collector
        self.learners = learners
        self.seats = seats or SelfPlaySeats()
        self.rng = np.random.default_rng(config.seed)
        self.bptt = config.ppo.bptt if config.net.lstm else None
        self.handles: dict | None = None
        self.frozen_handles: dict = {}
        self.totals = {"collect_wait_s": 0.0, "learn_s": 0.0, "env_s": 0.0, "inference_s": 0.0}
        self.dropped_batches = 0

    @property
    def round_steps(self) -> int:
        return self.collector.num_seats * self.config.rollout_length

    def set_frozen(self, publications: list[dict]) -> None:
        """Frozen players (snapshots) the seats may name: published once, never trained."""
        self.frozen_handles = self.collector.publish(publications) if publications else {}
        self.refresh()

    def refresh(self) -> None:
        """Publishes the current weights now (after PBT replaced some), so the next fragment
        already plays them."""
        self.handles = {**self.frozen_handles,
                        **self.collector.publish([l.publication() for l in self.learners.values()])}

    def round(self, more: bool = True, learn: bool = True) -> tuple[Fragment, dict[str, dict]]:
        """Plays one fragment and updates (unless not `learn`: evaluation); `more`: another
        round follows (start it now)."""
        length = self.config.rollout_length
        if not self.collector.pending:
            self.refresh()
            self.collector.submit(self.handles, *self._plan_args(length))
        t0 = time.perf_counter()
        overlap = self.config.overlap and self.collector.asynchronous
        follow = ((self.handles,) + self._plan_args(length)) if overlap and more else None
        fragment = self.collector.gather(then=follow)
        t1 = time.perf_counter()
        keep, dropped = {}, []
        for m, batch in fragment.batches.items():
            if tuple(batch.policy_version)[:1] != (self.learners[m].uid,) or not learn:
                dropped.append(m)
            else:
                keep[m] = batch
        stats = update_all(self.learners, keep, joint=self.config.joint_update)
        self.dropped_batches += len(dropped) if learn else 0
        fragment = dataclasses.replace(fragment, dropped=tuple(dropped))
        self.refresh()
        self.totals["collect_wait_s"] += t1 - t0
        self.totals["learn_s"] += time.perf_counter() - t1
        self.totals["env_s"] += fragment.timing["env_s"]
        self.totals["inference_s"] += fragment.timing["inference_s"]
        return fragment, stats

    def _plan_args(self, length: int) -> tuple:
        seats, matches = self.seats.plan(self.rng, self.collector, self.learners)
        return seats, length, self.bptt, matches

    def finish(self) -> None:
        """Waits for a fragment still being collected (its data is not used)."""
        if self.collector.pending:
            self.collector.gather()
