"""RolloutWorker: several envs of one substrate (a BatchedEnv) and the policies that sit in them.

Every seat of every env is played by a member, given by a seat -> member list. Each step,
the observations of one member's seats go through its policy in one batch (CPU, one
thread). Weights arrive as publications (see Learner.publication), fetched from Ray's
object store once per version. `collect` returns one `Batch` of numpy arrays per member
and the metrics of the episodes that ended. It is a plain class; `collector.py` runs it
as a Ray actor.
"""

from __future__ import annotations

import os
import time
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from popbased.env.pool import BatchedEnv
from popbased.errors import BadInput
from popbased.ppo.actions import ActionMap
from popbased.ppo.batch import Batch
from popbased.ppo.config import NetConfig, from_mapping
from popbased.ppo.policy import Policy, masked_log_softmax, sample
from popbased.substrates.spec import Lab2dSpec


class _Seated:
    """One member's policy in this worker and the seats it plays."""

    def __init__(self, publication: Mapping[str, Any], arena_actions: Sequence[str]):
        net = from_mapping(NetConfig, publication["net"], f"member {publication['member']}: net")
        self.policy = Policy(publication["obs_size"], publication["action_names"], net)
        self.policy.requires_grad_(False)
        self.actions = ActionMap(publication["action_names"], arena_actions)
        self.version: tuple = ()
        self.load(publication)

    def load(self, publication: Mapping[str, Any]) -> None:
        self.policy.load_state_dict({k: torch.from_numpy(np.array(v))
                                     for k, v in publication["weights"].items()})
        self.version = publication["version"]


class RolloutWorker:
    def __init__(self, spec: Lab2dSpec, num_envs: int, *, seed: int = 0, obs_size: int = 11,
                 apples_in_view: bool | None = None, max_episode_steps: int | None = None,
                 backend: str = "process", spares: int | None = None):
        torch.set_num_threads(1)
        self.env = BatchedEnv(spec, num_envs, seed=seed, obs_size=obs_size, backend=backend,
                              spares=spares, apples_in_view=apples_in_view,
                              max_episode_steps=max_episode_steps)
        self.obs = self.env.reset()
        self.rng = torch.Generator().manual_seed(seed)
        self.seats: np.ndarray | None = None
        self.members: dict[str, _Seated] = {}
        self.states: dict[str, torch.Tensor | None] = {}
        self.starts = np.ones(self.env.num_seats, dtype=bool)

    def pid(self) -> int:
        return os.getpid()

    def info(self) -> dict[str, Any]:
        return {"num_seats": self.env.num_seats, "players": self.env.players,
                "components": list(self.env.components), "action_names": list(self.env.action_names)}

    # ---------------------------------------------------------------- seating
    def _seat(self, seat_members: Sequence[str]) -> None:
        seat_members = np.asarray(seat_members, dtype=object)
        if seat_members.shape != (self.env.num_seats,):
            raise BadInput(f"seat mapping has {seat_members.size} entries; this worker has "
                           f"{self.env.num_seats} seats")
        if self.seats is not None and np.array_equal(seat_members, self.seats):
            return
        changed = np.ones(self.env.num_seats, dtype=bool) if self.seats is None else (
            seat_members != self.seats)
        self.starts |= changed  # a new player in a seat starts with a fresh memory
        self.seats = seat_members
        self.states = {}

    def _publications(self, publications: Mapping[str, Any]) -> None:
        import ray  # only needed when publications are object refs

        for member in set(self.seats):
            pub = publications.get(member)
            if pub is None:
                raise BadInput(f"no weights published for member {member!r}")
            version = pub["version"]
            seated = self.members.get(member)
            if seated is not None and seated.version == version:
                continue
            full = pub
            if "weights" not in pub:
                full = ray.get(pub["ref"])
            if seated is None or seated.version[0] != version[0]:  # another learner: rebuild
                self.members[member] = _Seated(full, self.env.action_names)
                self.states.pop(member, None)
            else:
                seated.load(full)

    # ---------------------------------------------------------------- collect
    def collect(self, publications: Mapping[str, Any], seat_members: Sequence[str], length: int,
                bptt: int | None = None) -> dict[str, Any]:
        """Plays `length` steps in every env; returns {'batches', 'episodes', 'timing'}."""
        t_start = time.perf_counter()
        self._seat(seat_members)
        self._publications(publications)
        env, obs = self.env, self.obs
        groups = {m: np.flatnonzero(self.seats == m) for m in sorted(set(self.seats))}
        bufs = {m: self._buffers(m, seats.size, length, bptt) for m, seats in groups.items()}
        for m, seats in groups.items():
            if self.members[m].policy.recurrent and m not in self.states:
                self.states[m] = self.members[m].policy.initial_state(seats.size)
        episodes: list[dict[str, Any]] = []
        arena_actions = np.zeros(env.num_seats, dtype=np.int64)
        env_s = infer_s = 0.0
        for t in range(length):
            t0 = time.perf_counter()
            for m, seats in groups.items():
                self._act(m, seats, obs, bufs[m], t, bptt, arena_actions)
            t1 = time.perf_counter()
            out = env.step(arena_actions)
            t2 = time.perf_counter()
            infer_s += t1 - t0
            env_s += t2 - t1
            for m, seats in groups.items():
                b = bufs[m]
                b["rewards"][t] = out.rewards[seats]
                b["dones"][t] = out.done[seats]
            self.starts = out.done.copy()
            for summary in out.episodes:
                e = summary["env"]
                summary["members"] = list(self.seats[e * env.players:(e + 1) * env.players])
                episodes.append(summary)
            obs = out.obs
        self.obs = obs
        t0 = time.perf_counter()
        batches = []
        for m, seats in groups.items():
            seated = self.members[m]
            with torch.inference_mode():
                _, value, _ = seated.policy(torch.from_numpy(obs.rgb[seats]), self.states.get(m),
                                            torch.from_numpy(self.starts[seats]))
            b = bufs[m]
            batches.append(Batch(member=m, components=tuple(env.components), last_value=value.numpy(),
                                 policy_version=seated.version, **b))
        infer_s += time.perf_counter() - t0
        total = time.perf_counter() - t_start
        return {"batches": batches, "episodes": episodes,
                "timing": {"env_s": env_s, "inference_s": infer_s, "total_s": total,
                           "steps": length, "agent_steps": length * env.num_seats,
                           "reset_wait_s": env.stats["reset_wait_s"]}}

    def _buffers(self, member: str, n: int, length: int, bptt: int | None) -> dict[str, np.ndarray]:
        env = self.env
        seated = self.members[member]
        s = env.obs_size
        bufs = {
            "obs": np.empty((length, n, s, s, 3), dtype=np.uint8),
            "actions": np.empty((length, n), dtype=np.int64),
            "logp": np.empty((length, n), dtype=np.float32),
            "values": np.empty((length, n), dtype=np.float32),
            "rewards": np.empty((length, n, len(env.components)), dtype=np.float32),
            "dones": np.empty((length, n), dtype=bool),
            "starts": np.empty((length, n), dtype=bool),
            "masks": np.empty((length, n, len(seated.policy.action_names)), dtype=bool),
        }
        if seated.policy.recurrent:
            chunk = bptt or length
            bufs["states"] = np.empty((-(-length // chunk), n, 2, seated.policy.net.lstm),
                                      dtype=np.float32)
        return bufs

    def _act(self, member: str, seats: np.ndarray, obs, buf: dict, t: int, bptt: int | None,
             arena_actions: np.ndarray) -> None:
        seated = self.members[member]
        rgb = obs.rgb[seats]
        starts = self.starts[seats]
        mask = seated.actions.member_mask(obs.action_mask[seats])
        state = self.states.get(member)
        if state is not None and t % (bptt or buf["obs"].shape[0]) == 0:
            keep = torch.from_numpy(~starts).float().view(-1, 1, 1)
            buf["states"][t // (bptt or buf["obs"].shape[0])] = (state * keep).numpy()
        with torch.inference_mode():
            logits, value, state = seated.policy(torch.from_numpy(rgb), state,
                                                 torch.from_numpy(starts))
            logp = masked_log_softmax(logits, torch.from_numpy(mask))
            action = sample_with(logp, self.rng)
            chosen = logp.gather(-1, action.unsqueeze(-1)).squeeze(-1)
        if state is not None:
            self.states[member] = state
        a = action.numpy()
        buf["obs"][t] = rgb
        buf["actions"][t] = a
        buf["logp"][t] = chosen.numpy()
        buf["values"][t] = value.numpy()
        buf["starts"][t] = starts
        buf["masks"][t] = mask
        arena_actions[seats] = seated.actions.to_arena[a]

    def close(self) -> None:
        self.env.close()


def sample_with(logp: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return torch.multinomial(logp.exp(), 1, generator=generator).squeeze(-1)


__all__ = ["RolloutWorker", "sample"]
