"""DeviceCollector: the fast commons_harvest and every member's policy on the learner's device.

The Collector's interface (publish, submit, gather -> Fragment), in this process, with no
Ray actors, no numpy and no pickles on the hot path:

    worlds   one FastBatchedEnv of `worlds` commons_harvest worlds on `device` (CPU or CUDA), or
             a MixedFastEnv of several arenas' worlds (training across arenas)
    policies the seated members' weights per network shape (RowPolicies): each step, one
             pass over all their seats' rows, in member order (action sets padded to one
             width, so that no_zap members share it with the others)
    storage  [T, rows, ...] tensors on the device; each member's Batch is a slice of them,
             tensors the learner uses as they are (GAE runs there too)

Semantics are those of the Ray RolloutWorker (popbased.rollout.worker): seat plans per
fragment, league matches that keep their seats until their episode ends, `random` seats
(uniform over the legal actions), scripted players (`scripted:NAME`: popbased.env.fast.scripted
on the worlds' own tensors, every such seat in one pass per kind), frozen players (snapshots: they act, no batch), per-seat
action masks mapped onto each member's action set, recurrent state per seat (zeroed when
a seat changes hands or an episode starts), episode summaries with the env, its members
and its match.

With `overlap` (the default, as on Ray), a fragment is collected in a background thread
while the learners update on the previous one (a policy lag of one fragment, corrected by
PPO's ratio, as with Ray workers): torch releases the GIL in its kernels, so collection
and learning each keep a core busy with one intra-op thread apiece, which on a shared or
small machine beats every core taking turns (multi-threaded small kernels stall when
another process holds a core). Without it, collection and learning take turns.
"""

from __future__ import annotations

import dataclasses
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from popbased.devices import sync
from popbased.env.fast.env import FastBatchedEnv
from popbased.env import social
from popbased.env.fast.mixed import MixedFastEnv
from popbased.env.fast.scripted import move_actions
from popbased.ppo.actions import RANDOM, ActionMap, is_scripted, scripted_kind
from popbased.ppo.batch import Batch
from popbased.ppo.learner import resolve_device
from popbased.ppo.policy import MASKED_LOGIT, masked_log_softmax, sample
from popbased.ppo.stacked import RowPolicies, pad_actions, signature
from popbased.rollout.fragment import Fragment
from popbased.rollout.seating import Seating, to_load, weightless

SYNC_TIMINGS_ENV = "POPBASED_SYNC_TIMINGS"
"""Set to 1, device collectors synchronise their device at the boundaries of their timed parts
(policy inference, env stepping), so that on CUDA a fragment's `env_s` / `inference_s` split
GPU work rather than kernel launches (scripts/bench_train sets it; each sync stalls the GPU's
queue, two per step, so training leaves it unset). Nothing changes on a CPU."""


@dataclass
class _Held:
    """A member's weights as this collector holds them (on its device)."""

    weights: dict[str, torch.Tensor]
    version: tuple
    frozen: bool
    signature: tuple


@dataclass
class _Group:
    """The seated members of one network shape: their seats as flat rows in member order
    (member j plays rows offsets[j]:offsets[j + 1]), each row's mask and action map
    (member actions, padded to the group's widest action set, -> arena actions)."""

    members: list[str]
    rows: torch.Tensor
    policy: RowPolicies
    to_arena: torch.Tensor  # [R, A]
    mask: torch.Tensor  # [R, A]
    actions: list[int]  # each member's own number of actions
    frozen: list[bool]


class DeviceCollector:
    """See the module docstring."""

    shards = 1
    restarts = 0

    def __init__(self, spec, *, worlds: int, device: torch.device | str = "cpu", seed: int = 0,
                 obs_size: int = 11, apples_in_view: bool | None = None,
                 max_episode_steps: int | None = None, overlap: bool = False, arenas=None):
        """arenas: (Arena, spec) pairs to train across (popbased.env.arenas), the worlds split
        between them by weight; None: every world plays `spec`."""
        self.asynchronous = overlap
        """Collect in a background thread (gather's `then` starts the next fragment)."""
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="collect") if overlap else None
        self.device = resolve_device(str(device))  # on CUDA: TF32 off, as the learner's
        if arenas:
            self.env = MixedFastEnv(arenas, worlds, seed=seed, device=self.device, obs_size=obs_size,
                                    apples_in_view=apples_in_view, max_episode_steps=max_episode_steps)
        else:
            self.env = FastBatchedEnv(spec, worlds, seed=seed, device=self.device, obs_size=obs_size,
                                      apples_in_view=apples_in_view,
                                      max_episode_steps=max_episode_steps)
        self.spec = spec
        self.players = spec.num_players
        self.num_seats = self.seats_per_worker = self.env.num_seats
        self.components = tuple(self.env.components)
        self.action_names = tuple(self.env.action_names)
        self.obs, _ = self.env.reset_tensors()
        self.arena_mask = torch.from_numpy(self.env.action_mask).to(self.device)
        self.starts = torch.ones(self.num_seats, dtype=torch.bool, device=self.device)
        self.seating = Seating(worlds, self.players)
        self.held: dict[str, _Held] = {}
        self._social_set = False  # set_social was called (members with social genes seated)
        self.states: dict[tuple, torch.Tensor] = {}  # architecture -> [seats, 2, H]
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self._pending: tuple | Future | None = None
        self.exact_timings = os.environ.get(SYNC_TIMINGS_ENV) == "1"
        """Synchronise at the timed parts' boundaries (see SYNC_TIMINGS_ENV)."""

    # ------------------------------------------------------------------ Collector API
    @property
    def pending(self) -> bool:
        return self._pending is not None

    def publish(self, publications: Sequence[Mapping[str, Any]]) -> dict[str, dict]:
        """Each publication with its weights copied to the device now (a learner updates its
        parameters in place while a fragment is collected with the published ones)."""
        return {p["member"]: {**p, "weights": {k: _tensor(v, self.device, copy=True)
                                               for k, v in p["weights"].items()}}
                for p in publications}

    def submit(self, handles: Mapping[str, dict], seat_members: Sequence[Sequence[str]],
               length: int, bptt: int | None = None, matches: Sequence[Sequence] | None = None) -> None:
        if self._pending is not None:
            raise RuntimeError("a fragment is already being collected")
        if len(seat_members) != 1:
            raise ValueError(f"the device collector is one shard; got {len(seat_members)} seat plans")
        args = (dict(handles), list(seat_members[0]), length, bptt,
                None if matches is None else list(matches[0]))
        self._pending = self._thread.submit(self._collect, *args) if self._thread else args

    def gather(self, then: tuple | None = None) -> Fragment:
        """The submitted fragment (collected now, or waited for when collected in the
        background); then = (handles, seat_members, length, bptt[, matches]): start that next
        fragment at once, in the background (only when `asynchronous`)."""
        if self._pending is None:
            raise RuntimeError("gather() without submit()")
        if then is not None and not self.asynchronous:
            raise ValueError("this device collector collects synchronously; do not pass `then`")
        pending, self._pending = self._pending, None
        fragment = pending.result() if isinstance(pending, Future) else self._collect(*pending)
        if then is not None:
            self.submit(*then)
        return fragment

    def collect(self, handles, seat_members, length, bptt=None, matches=None) -> Fragment:
        self.submit(handles, seat_members, length, bptt, matches)
        return self.gather()

    def worker_pids(self) -> list[int]:
        return [os.getpid()]

    def close(self) -> None:
        if self._thread is not None:
            if isinstance(self._pending, Future):
                try:  # a fragment still being collected: its data is not used
                    self._pending.result()
                except Exception:
                    pass
            self._thread.shutdown()
        self._pending = None
        self.env.close()

    # ------------------------------------------------------------------ seating
    def _seat(self, handles, seat_members, matches) -> None:
        changed = self.seating.assign(seat_members, matches, self.starts.cpu().numpy())
        if changed is not None:  # a new player in a seat starts with a fresh memory
            self.starts |= torch.from_numpy(changed).to(self.device)
        for member in to_load(self.seating.seats, handles, self.held, "the device collector"):
            pub = handles[member]
            if "weights" not in pub:  # a Ray object ref (a FastShard on a cluster)
                import ray  # deferred: heavy, only on a Ray cluster

                pub = ray.get(pub["ref"])
            self.held[member] = _Held(
                {k: _tensor(v, self.device) for k, v in pub["weights"].items()},
                tuple(pub["version"]), bool(pub.get("frozen")), signature(pub))
        own = social.seat_params(self.seating.seats, handles)
        if own is not None or self._social_set:  # members' own social genes (or no longer)
            decay, angle = own if own is not None else (np.full(self.num_seats, np.nan),) * 2
            self.env.set_social(torch.from_numpy(decay), torch.from_numpy(angle))
            self._social_set = True

    def _groups(self) -> list[_Group]:
        seats = self.seating.seats
        by_net: dict[tuple, list[str]] = {}
        for member in sorted(s for s in set(seats) if not weightless(s)):
            obs_size, _, net = self.held[member].signature
            by_net.setdefault((obs_size, net), []).append(member)
        groups = []
        for (_, net), members in by_net.items():
            positions = [np.flatnonzero(seats == m) for m in members]
            maps = [ActionMap(self.held[m].signature[1], self.action_names) for m in members]
            width = max(len(a.member_actions) for a in maps)
            to_arena = np.zeros((len(members), width), dtype=np.int64)
            available = np.zeros((len(members), width), dtype=bool)
            for j, a in enumerate(maps):
                to_arena[j, :a.to_arena.size] = np.maximum(a.to_arena, 0)
                available[j, :a.available.size] = a.available
            owner = np.repeat(np.arange(len(members)), [p.size for p in positions])
            rows = torch.from_numpy(np.concatenate(positions)).to(self.device)
            row_to_arena = torch.from_numpy(to_arena[owner]).to(self.device)
            mask = (self.arena_mask[rows].gather(1, row_to_arena)
                    & torch.from_numpy(available[owner]).to(self.device))
            policy = RowPolicies(net, [pad_actions(self.held[m].weights, width) for m in members],
                                 [p.size for p in positions], self.device)
            groups.append(_Group(members, rows, policy, row_to_arena, mask,
                                 [len(a.member_actions) for a in maps],
                                 [self.held[m].frozen for m in members]))
        return groups

    # ------------------------------------------------------------------ collect
    def _collect(self, handles, seat_members, length: int, bptt: int | None, matches) -> Fragment:
        t_start = time.perf_counter()
        self._seat(handles, seat_members, matches)
        groups = self._groups()
        random_seats = torch.from_numpy(np.flatnonzero(self.seating.seats == RANDOM)).to(self.device)
        # uniform over each random seat's legal actions: equal logits, the illegal ones masked
        random_logits = torch.zeros(random_seats.numel(), self.arena_mask.shape[1],
                                    device=self.device).masked_fill_(~self.arena_mask[random_seats],
                                                                     MASKED_LOGIT)
        scripted = self._scripted_seats()
        chunk = bptt or length
        bufs = [self._buffers(g, length, chunk) for g in groups]
        episodes: list[dict[str, Any]] = []
        timing = {"env_s": 0.0, "inference_s": 0.0}
        clock = self._synced_clock if self.exact_timings else time.perf_counter
        for t in range(length):
            t0 = clock()
            actions = torch.zeros(self.num_seats, dtype=torch.long, device=self.device)
            for g, buf in zip(groups, bufs):
                self._act(g, buf, t, t // chunk if t % chunk == 0 else None, actions)
            if random_seats.numel():
                actions[random_seats] = sample(random_logits, self.generator)
            for kind, seats, table in scripted:
                actions[seats] = table[self.env.scripted_moves(kind)[seats]]
            t1 = clock()
            out = self.env.step_tensors(actions)
            timing["env_s"] += clock() - t1
            timing["inference_s"] += t1 - t0
            for g, buf in zip(groups, bufs):
                buf["rewards"][t] = out.rewards[g.rows]
                buf["dones"][t] = out.done[g.rows]
            self.starts = out.done.clone()
            self.obs = out.rgb
            for summary in out.episodes:
                episodes.append({**summary, **self.seating.episode_fields(summary["env"]),
                                 "worker": 0})
        t0 = clock()
        batches = {}
        for g, buf in zip(groups, bufs):
            if all(g.frozen):
                continue
            state = self._state(g)
            _, last_value, _ = g.policy(self.obs[g.rows], state, self.starts[g.rows])
            for j, member in enumerate(g.members):
                if not g.frozen[j]:
                    batches[member] = self._batch(member, g, buf, last_value, j)
        timing["inference_s"] += clock() - t0
        sync(self.device)  # the fragment's tensors are complete: total_s counts their work
        timing.update(total_s=time.perf_counter() - t_start, steps=length,
                      agent_steps=length * self.num_seats, reset_wait_s=0.0)
        return Fragment(batches, tuple(episodes), timing)

    def _scripted_seats(self) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
        """(kind, seats, arena action of each code) of every scripted player seated."""
        out = []
        for label in sorted(s for s in set(self.seating.seats) if is_scripted(s)):
            kind = scripted_kind(label)
            seats = np.flatnonzero(self.seating.seats == label)
            table = torch.from_numpy(move_actions(self.action_names, kind)).to(self.device)
            out.append((kind, torch.from_numpy(seats).to(self.device), table))
        return out

    def _synced_clock(self) -> float:
        """perf_counter once the device has run what was queued (exact_timings)."""
        sync(self.device)
        return time.perf_counter()

    def _state(self, g: _Group) -> torch.Tensor | None:
        if not g.policy.recurrent:
            return None
        key = (g.policy.net.lstm,)
        if key not in self.states:
            self.states[key] = torch.zeros(self.num_seats, 2, g.policy.net.lstm, device=self.device)
        return self.states[key][g.rows]

    def _act(self, g: _Group, buf: dict, t: int, chunk_index: int | None,
             actions: torch.Tensor) -> None:
        obs = self.obs[g.rows]  # [R, s, s, 3]
        starts = self.starts[g.rows]
        state = self._state(g)
        if state is not None and chunk_index is not None:
            buf["states"][chunk_index] = state * (~starts).float()[:, None, None]
        logits, values, state = g.policy(obs, state, starts)
        logp = masked_log_softmax(logits, g.mask)
        action = sample(logp, self.generator)
        buf["obs"][t] = obs
        buf["actions"][t] = action
        buf["logp"][t] = logp.gather(-1, action.unsqueeze(-1)).squeeze(-1)
        buf["values"][t] = values
        buf["starts"][t] = starts
        actions[g.rows] = g.to_arena.gather(1, action.unsqueeze(-1)).squeeze(-1)
        if state is not None:
            self.states[(g.policy.net.lstm,)][g.rows] = state

    def _buffers(self, g: _Group, length: int, chunk: int) -> dict[str, torch.Tensor]:
        r = g.rows.numel()
        s, dev = self.obs.shape[1], self.device
        bufs = {
            "obs": torch.empty((length, r, s, s, 3), dtype=torch.uint8, device=dev),
            "actions": torch.empty((length, r), dtype=torch.long, device=dev),
            "logp": torch.empty((length, r), device=dev),
            "values": torch.empty((length, r), device=dev),
            "rewards": torch.empty((length, r, len(self.components)), device=dev),
            "dones": torch.empty((length, r), dtype=torch.bool, device=dev),
            "starts": torch.empty((length, r), dtype=torch.bool, device=dev),
        }
        if g.policy.recurrent:
            bufs["states"] = torch.empty((-(-length // chunk), r, 2, g.policy.net.lstm), device=dev)
        return bufs

    def _batch(self, member: str, g: _Group, buf: dict, last_value: torch.Tensor, j: int) -> Batch:
        lo, hi = g.policy.offsets[j], g.policy.offsets[j + 1]
        part = {name: buf[name][:, lo:hi].contiguous() for name in buf}
        length = part["actions"].shape[0]
        masks = g.mask[lo:hi, :g.actions[j]].unsqueeze(0).expand(length, -1, -1).contiguous()
        return Batch(member=member, components=self.components, masks=masks,
                     last_value=last_value[lo:hi].contiguous(),
                     policy_version=self.held[member].version, **part)


def _tensor(value, device: torch.device, copy: bool = False) -> torch.Tensor:
    """A weight (numpy array or tensor) on `device`; `copy`: never sharing its memory."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value)).to(device)
    return value.detach().to(device, copy=copy)


class FastShard:
    """A Ray actor's shard of fast worlds (the fast env on a Ray cluster): a DeviceCollector
    on the actor's device (its GPU when Ray gave it one, else its CPU), answering as a
    RolloutWorker does (numpy batches, episode summaries, timing) so that the Collector
    drives it like any rollout worker."""

    def __init__(self, spec, num_envs: int, *, seed: int = 0, obs_size: int = 11,
                 apples_in_view: bool | None = None, max_episode_steps: int | None = None,
                 backend: str = "fast", arena: str | None = None):
        """arena: the arena's name when a run trains across arenas (in its episodes)."""
        import ray  # deferred: heavy, only in a Ray actor

        self.arena = arena
        device = "cuda" if ray.get_gpu_ids() else "cpu"
        if device == "cpu":
            torch.set_num_threads(1)
        self.collector = DeviceCollector(spec, worlds=num_envs, device=device, seed=seed,
                                         obs_size=obs_size, apples_in_view=apples_in_view,
                                         max_episode_steps=max_episode_steps)

    def pid(self) -> int:
        return os.getpid()

    def info(self) -> dict[str, Any]:
        c = self.collector
        return {"num_seats": c.num_seats, "players": c.players, "components": list(c.components),
                "action_names": list(c.action_names), "device": str(c.device)}

    def collect(self, publications, seat_members, length: int, bptt: int | None = None,
                matches=None) -> dict[str, Any]:
        fragment = self.collector.collect(publications, [seat_members], length, bptt,
                                          None if matches is None else [matches])
        return {"batches": [_numpy(b) for b in fragment.batches.values()],
                "episodes": [{**e, "arena": self.arena} if self.arena else e for e in fragment.episodes],
                "timing": dict(fragment.timing)}

    def close(self) -> None:
        self.collector.close()


def _numpy(batch: Batch) -> Batch:
    """A batch of tensors as the numpy batch Ray workers send."""
    return dataclasses.replace(batch, **{
        f.name: getattr(batch, f.name).cpu().numpy() for f in dataclasses.fields(Batch)
        if torch.is_tensor(getattr(batch, f.name))})


__all__ = ["DeviceCollector", "FastShard"]
