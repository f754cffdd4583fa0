"""RolloutWorker: several envs of one substrate (a BatchedEnv) and the policies that sit in them.

Every seat of every env is played by a member, given by a seat -> member list. Each step,
the observations of one member's seats go through its policy in one batch (CPU, one
thread). Weights arrive as publications (see Learner.publication), fetched from Ray's
object store once per version. `collect` returns one `Batch` of numpy arrays per member
and the metrics of the episodes that ended. It is a plain class; `collector.py` runs it
as a Ray actor.

In league play (`matches` given), a seat changes hands only when its env starts a new
episode: each env plays one match (who sits where; the league's match object, which the
worker never reads, only carries into the env's episode summaries as `match`) from its first
step to its last. A seat may also be played
by `random` (uniform over the legal actions), by one of Melting Pot's bots (`bot:NAME`, see
rollout/bots.py: the worker then reads full-resolution views from its envs and downsamples them
for the members itself), by a scripted player (`scripted:NAME`, popbased.play.scripted: the
envs then carry their world state) or by a frozen member (a publication with
`frozen`: it acts, it is never trained, no batch is returned for it). A match keeps its
players until its episode ends, across generations: a frozen player that has left the
league's snapshot pool in the meantime plays on from the worker's own copy of its weights.

Envs run in their own processes (`backend='process'`, resets hidden by spares; the envs
are split in two groups that take turns, so one group steps while the policies act for
the other) or inside the worker (`backend='inline'`: least CPU per step, for machines
where every core is busy anyway).
"""

from __future__ import annotations

import os
import time
from types import SimpleNamespace
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from popbased.env import social
from popbased.env.engines import make_env
from popbased.env.instance import downsample
from popbased.errors import BadInput
from popbased.ppo.actions import RANDOM, ActionMap, is_scripted, random_legal
from popbased.ppo.batch import Batch
from popbased.ppo.config import NetConfig, from_mapping
from popbased.play.scripted import ScriptedAgent
from popbased.ppo.policy import Policy, act
from popbased.rollout.bots import BotSeats, frame_size, is_bot
from popbased.rollout.seating import Seating, to_load, weightless
from popbased.substrates.spec import Lab2dSpec



class _Seated:
    """One member's policy in this worker and the seats it plays."""

    def __init__(self, publication: Mapping[str, Any], arena_actions: Sequence[str]):
        net = from_mapping(NetConfig, publication["net"], f"member {publication['member']}: net")
        self.policy = Policy(publication["obs_size"], publication["action_names"], net)
        self.policy.requires_grad_(False)
        self.actions = ActionMap(publication["action_names"], arena_actions)
        self.version: tuple = ()
        self.frozen = bool(publication.get("frozen"))
        self.load(publication)

    def load(self, publication: Mapping[str, Any]) -> None:
        self.policy.load_state_dict({k: torch.from_numpy(np.array(v))
                                     for k, v in publication["weights"].items()})
        self.version = publication["version"]


class RolloutWorker:
    """See the module docstring. With `groups=2` the envs are split in two halves that
    take turns: one half steps in its processes while the policies act for the other."""

    def __init__(self, spec: Lab2dSpec, num_envs: int, *, seed: int = 0, obs_size: int = 11,
                 apples_in_view: bool | None = None, max_episode_steps: int | None = None,
                 backend: str = "process", groups: int | None = None, bots: tuple[str, str] | None = None,
                 scripted: bool = False, arena: str | None = None):
        """bots: (models root, Melting Pot substrate) when seats may be played by Melting Pot's
        bots (their views are that substrate's full-resolution RGB); scripted: when seats may be
        played by scripted players (the envs carry their world state); arena: the name of the
        arena it plays when a run trains across arenas (popbased.env.arenas), in its episodes."""
        self.arena = arena
        torch.set_num_threads(1)
        self.bots = None
        env_obs_size = obs_size
        if bots is not None:
            self.bots = BotSeats(bots[0])
            env_obs_size = frame_size(bots[1])
        groups = groups or (2 if num_envs >= 2 and backend == "process" else 1)
        if not 1 <= groups <= num_envs:
            raise BadInput(f"groups={groups}: must be between 1 and num_envs={num_envs}")
        sizes = [num_envs // groups + (1 if g < num_envs % groups else 0) for g in range(groups)]
        self.envs = [make_env(spec, n, seed=seed * 101 + g, obs_size=env_obs_size, backend=backend,
                              apples_in_view=apples_in_view, max_episode_steps=max_episode_steps,
                              world_state=scripted)
                     for g, n in enumerate(sizes)]
        self.params = spec.params
        self.social_params: tuple[np.ndarray, np.ndarray] | None = None
        """Each seat's own (inequity_decay, svo_angle radians) this fragment (social genes)."""
        self.observers = [social.ObserverTraces(env.num_seats // spec.num_players, spec.num_players)
                          for env in self.envs] if getattr(spec.params, "social", False) else None
        self.scripted: dict[str, ScriptedAgent] = {}
        self.players = spec.num_players
        self.num_seats = num_envs * self.players
        self.components = self.envs[0].components
        self.action_names = self.envs[0].action_names
        self.obs_size = obs_size
        self.offsets = np.cumsum([0] + [e.num_seats for e in self.envs])
        self.obs = [env.reset() for env in self.envs]
        self.small = [self._small(o) for o in self.obs]
        self.last_reward = np.zeros(self.num_seats)
        self.rng = torch.Generator().manual_seed(seed)
        self.random_rng = np.random.default_rng([seed, 1])  # the seats played by `random`
        self.seating = Seating(num_envs, self.players)
        self.members: dict[str, _Seated] = {}
        self.states: dict[str, torch.Tensor | None] = {}
        self.starts = np.ones(self.num_seats, dtype=bool)

    def pid(self) -> int:
        return os.getpid()

    def _small(self, obs) -> np.ndarray | None:
        """The members' views of full-resolution observations (None: the envs give them)."""
        if self.bots is None:
            return None
        out = np.empty((obs.rgb.shape[0], self.obs_size, self.obs_size, 3), dtype=np.uint8)
        downsample(obs.rgb, out)
        return out

    def _rgb(self, g: int) -> np.ndarray:
        """Group g's views at the members' size."""
        return self.obs[g].rgb if self.small[g] is None else self.small[g]

    def info(self) -> dict[str, Any]:
        return {"num_seats": self.num_seats, "players": self.players,
                "components": list(self.components), "action_names": list(self.action_names)}

    # ---------------------------------------------------------------- seating
    @property
    def seats(self) -> np.ndarray | None:
        return self.seating.seats

    @property
    def matches(self) -> list[Any]:
        return self.seating.matches

    def _seat(self, seat_members: Sequence[str], matches: Sequence[Any] | None = None) -> None:
        old_seats = self.seats
        changed = self.seating.assign(seat_members, matches, self.starts)
        if changed is None:
            return
        self.starts |= changed  # a new player in a seat starts with a fresh memory
        self._remap_states(old_seats)

    def _remap_states(self, old_seats: np.ndarray | None) -> None:
        """Recurrent states follow their seats when other seats change hands."""
        old_states, self.states = self.states, {}
        if old_seats is None:
            return
        for member, state in old_states.items():
            if state is None:
                continue
            old_cols = {s: c for c, s in enumerate(np.flatnonzero(old_seats == member))}
            seats = np.flatnonzero(self.seats == member)
            if seats.size == 0:
                continue
            new = state.new_zeros((seats.size,) + tuple(state.shape[1:]))
            for c, s in enumerate(seats):
                if s in old_cols:
                    new[c] = state[old_cols[s]]
            self.states[member] = new

    def _publications(self, publications: Mapping[str, Any]) -> None:
        import ray  # deferred: heavy, only needed when publications are object refs

        for member in to_load(self.seats, publications, self.members):
            pub, seated = publications[member], self.members.get(member)
            full = pub if "weights" in pub else ray.get(pub["ref"])
            if seated is None or seated.version[0] != pub["version"][0]:  # another learner
                self.members[member] = _Seated(full, self.action_names)
                self.states.pop(member, None)
            else:
                seated.load(full)

    def _plan(self) -> dict[str, list[tuple[int, np.ndarray, np.ndarray]]]:
        """member -> [(group, seats within the group, columns in the member's buffers)]."""
        plan: dict[str, list] = {}
        for m in sorted(set(self.seats)):
            seats = np.flatnonzero(self.seats == m)
            if weightless(m):
                continue
            cols = np.arange(seats.size)
            for g in range(len(self.envs)):
                lo, hi = self.offsets[g], self.offsets[g + 1]
                inside = (seats >= lo) & (seats < hi)
                if inside.any():
                    plan.setdefault(m, []).append((g, seats[inside] - lo, cols[inside]))
        return plan

    # ---------------------------------------------------------------- collect
    def collect(self, publications: Mapping[str, Any], seat_members: Sequence[str], length: int,
                bptt: int | None = None, matches: Sequence[Any] | None = None) -> dict[str, Any]:
        """Plays `length` steps in every env; returns {'batches', 'episodes', 'timing'}.

        matches: one per env (league play): seats change only at an env's episode start."""
        t_start = time.perf_counter()
        self._seat(seat_members, matches)
        self._publications(publications)
        if self.observers is not None:
            self.social_params = social.seat_params(self.seats, publications)
        plan = self._plan()
        bufs = {m: self._buffers(m, sum(c.size for _, _, c in parts), length, bptt)
                for m, parts in plan.items()}
        for m in plan:
            if self.members[m].policy.recurrent and m not in self.states:
                self.states[m] = self.members[m].policy.initial_state(bufs[m]["obs"].shape[1])
        by_group = [[(m, seats, cols) for m, parts in plan.items() for g2, seats, cols in parts
                     if g2 == g] for g in range(len(self.envs))]
        episodes: list[dict[str, Any]] = []
        actions = [np.zeros(env.num_seats, dtype=np.int64) for env in self.envs]
        chunk = bptt or length
        timing = {"env_s": 0.0, "inference_s": 0.0}
        for t in range(length + 1):
            for g, env in enumerate(self.envs):
                if t > 0:
                    t0 = time.perf_counter()
                    out = env.step_wait()
                    timing["env_s"] += time.perf_counter() - t0
                    self._record(g, out, by_group[g], bufs, t - 1, episodes)
                if t == length:
                    continue
                t0 = time.perf_counter()
                self._random_actions(g, actions[g])
                self._bot_actions(g, actions[g])
                self._scripted_actions(g, actions[g])
                for m, seats, cols in by_group[g]:
                    self._act(m, g, seats, cols, bufs[m], t, t // chunk if t % chunk == 0 else None,
                              actions[g])
                env.step_async(actions[g])
                timing["inference_s"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        batches = [self._finish(m, parts, bufs[m]) for m, parts in plan.items()
                   if not self.members[m].frozen]
        timing["inference_s"] += time.perf_counter() - t0
        timing.update(total_s=time.perf_counter() - t_start, steps=length,
                      agent_steps=length * self.num_seats,
                      reset_wait_s=sum(e.stats["reset_wait_s"] for e in self.envs))
        return {"batches": batches, "episodes": episodes, "timing": timing}

    def _own_social(self, g: int, out) -> None:
        """Keeps every player's own traces of group g's envs (per observer, with its lambda and
        theta; the variant's where a seat has none) and, when a seated member has social genes,
        puts their components in the env's social columns (popbased.env.social)."""
        lo, hi = self.offsets[g], self.offsets[g + 1]
        P = self.players
        if self.social_params is None:
            decay = angle = np.full(hi - lo, np.nan)
        else:
            decay, angle = (x[lo:hi] for x in self.social_params)
        decay = np.where(np.isnan(decay), self.params.inequity_decay, decay).reshape(-1, P)
        angle = np.where(np.isnan(angle), np.radians(self.params.svo_angle), angle).reshape(-1, P)
        col = list(self.components)
        values = self.observers[g].update(out.rewards[:, col.index("reward")].reshape(-1, P), decay, angle,
                                          out.done.reshape(-1, P)[:, 0])
        if self.social_params is None:
            return
        for k, name in enumerate(social.SOCIAL_COMPONENTS):
            out.rewards[:, col.index(name)] = values[..., k].reshape(-1)

    def _record(self, g: int, out, group_plan, bufs, t: int, episodes: list) -> None:
        lo = self.offsets[g]
        if self.observers is not None:
            self._own_social(g, out)
        for m, seats, cols in group_plan:
            b = bufs[m]
            b["rewards"][t, cols] = out.rewards[seats]
            b["dones"][t, cols] = out.done[seats]
        self.starts[lo:self.offsets[g + 1]] = out.done
        self.obs[g] = out.obs
        self.small[g] = self._small(out.obs)
        self.last_reward[lo:self.offsets[g + 1]] = out.rewards[:, 0]  # the substrate's own reward
        first_env = lo // self.players
        for summary in out.episodes:
            e = first_env + summary["env"]
            episodes.append({**summary, "env": e, **self.seating.episode_fields(e),
                             **({"arena": self.arena} if self.arena else {})})

    def _random_actions(self, g: int, arena_actions: np.ndarray) -> None:
        lo, hi = self.offsets[g], self.offsets[g + 1]
        seats = np.flatnonzero(self.seats[lo:hi] == RANDOM)
        if seats.size:
            arena_actions[seats] = random_legal(self.obs[g].action_mask[seats], self.random_rng)

    def _bot_actions(self, g: int, arena_actions: np.ndarray) -> None:
        lo, hi = self.offsets[g], self.offsets[g + 1]
        seats = np.flatnonzero([is_bot(s) for s in self.seats[lo:hi]])
        if not seats.size:
            return
        if self.bots is None:
            raise BadInput(f"seat {self.seats[lo + seats[0]]}: a bot, but this rollout worker was "
                           f"started without a bots root")
        obs = self.obs[g]
        collective = self.last_reward[lo:hi].reshape(-1, self.players).sum(axis=1).repeat(self.players)
        arena_actions[seats] = self.bots.act(lo + seats, self.seats[lo + seats], obs.rgb[seats],
                                             obs.ready_to_shoot[seats], self.last_reward[lo + seats],
                                             collective[seats], self.starts[lo + seats])

    def _scripted_actions(self, g: int, arena_actions: np.ndarray) -> None:
        labels = self.seats[self.offsets[g]:self.offsets[g + 1]]
        for label in sorted({s for s in labels if is_scripted(s)}):
            if label not in self.scripted:
                self.scripted[label] = ScriptedAgent(label, self.action_names, self.params)
            seats = np.flatnonzero(labels == label)
            arena_actions[seats] = self.scripted[label].act(SimpleNamespace(world=self.obs[g].world,
                                                                            seats=seats))

    def _finish(self, member: str, parts, buf: dict) -> Batch:
        seated = self.members[member]
        last_value = np.empty(buf["obs"].shape[1], dtype=np.float32)
        state = self.states.get(member)
        for g, seats, cols in parts:
            lo = self.offsets[g]
            with torch.inference_mode():
                _, value, _ = seated.policy(torch.from_numpy(self._rgb(g)[seats]),
                                            None if state is None else state[cols],
                                            torch.from_numpy(self.starts[lo + seats]))
            last_value[cols] = value.numpy()
        return Batch(member=member, components=tuple(self.components), last_value=last_value,
                     policy_version=seated.version, **buf)

    def _buffers(self, member: str, n: int, length: int, bptt: int | None) -> dict[str, np.ndarray]:
        seated = self.members[member]
        s = self.obs_size
        bufs = {
            "obs": np.empty((length, n, s, s, 3), dtype=np.uint8),
            "actions": np.empty((length, n), dtype=np.int64),
            "logp": np.empty((length, n), dtype=np.float32),
            "values": np.empty((length, n), dtype=np.float32),
            "rewards": np.empty((length, n, len(self.components)), dtype=np.float32),
            "dones": np.empty((length, n), dtype=bool),
            "starts": np.empty((length, n), dtype=bool),
            "masks": np.empty((length, n, len(seated.policy.action_names)), dtype=bool),
        }
        if seated.policy.recurrent:
            chunk = bptt or length
            bufs["states"] = np.empty((-(-length // chunk), n, 2, seated.policy.net.lstm),
                                      dtype=np.float32)
        return bufs

    def _act(self, member: str, g: int, seats: np.ndarray, cols: np.ndarray, buf: dict, t: int,
             chunk_index: int | None, arena_actions: np.ndarray) -> None:
        seated = self.members[member]
        obs = self.obs[g]
        rgb = self._rgb(g)[seats]
        starts = self.starts[self.offsets[g] + seats]
        mask = seated.actions.member_mask(obs.action_mask[seats])
        state = self.states.get(member)
        if state is not None:
            state = state[cols]
            if chunk_index is not None:
                keep = torch.from_numpy(~starts).float().view(-1, 1, 1)
                buf["states"][chunk_index, cols] = (state * keep).numpy()
        a, chosen, value, state = act(seated.policy, rgb, mask, state, starts, self.rng)
        if state is not None:
            self.states[member][cols] = state
        buf["obs"][t, cols] = rgb
        buf["actions"][t, cols] = a
        buf["logp"][t, cols] = chosen
        buf["values"][t, cols] = value
        buf["starts"][t, cols] = starts
        buf["masks"][t, cols] = mask
        arena_actions[seats] = seated.actions.to_arena[a]

    def close(self) -> None:
        for env in self.envs:
            env.close()
        if self.bots is not None:
            self.bots.close()
