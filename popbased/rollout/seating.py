"""Who plays each seat of a shard of envs (a rollout worker's, or the device collector's).

Self-play reseats every fragment. In league play (matches given) an env keeps its match,
who sits where, from its episode's first step to its last: a new match takes an env at a
fragment boundary where the env's episode has just started; a new match that keeps the env's
seats as they are (only its description changed: PBT's world seating after a copy, where the
match carries the member's new learner uid) takes the env at its next episode start, inside a
fragment too. (Episodes that end of themselves rarely end on a fragment boundary: a
commons_harvest episode lasts 1,000 + 100k steps less one, so without this a world's match
would hardly ever change.)
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from popbased.errors import BadInput
from popbased.ppo.actions import RANDOM, is_scripted
from popbased.rollout.bots import is_bot


def weightless(label: Any) -> bool:
    """A seat played without a member's weights: `random`, a bot (`bot:NAME`) or a scripted
    player (`scripted:NAME`)."""
    return label == RANDOM or is_bot(label) or is_scripted(label)


class Seating:
    def __init__(self, num_envs: int, players: int):
        self.players = players
        self.num_seats = num_envs * players
        self.seats: np.ndarray | None = None
        """[seats] object: the member label playing each seat (None before the first fragment)."""
        self.matches: list[Any] = [None] * num_envs
        """The match each env plays (league play), carried into its episode summaries."""
        self.pending: list[Any] = [None] * num_envs
        """A new match with the env's own seats, taken at the env's next episode start."""

    def assign(self, seat_members: Sequence[str], matches: Sequence[Any] | None,
               starts: np.ndarray) -> np.ndarray | None:
        """The fragment's plan; `starts` [seats] bool: each seat's episode has just begun.
        Returns the seats that changed hands (bool [seats]), or None when none did."""
        seat_members = np.asarray(seat_members, dtype=object)
        if seat_members.shape != (self.num_seats,):
            raise BadInput(f"seat mapping has {seat_members.size} entries; this worker has "
                           f"{self.num_seats} seats")
        if matches is not None:
            if len(matches) != len(self.matches):
                raise BadInput(f"{len(matches)} matches for {len(self.matches)} envs")
            if self.seats is not None:  # an env keeps its match until its episode ends
                seat_members = seat_members.copy()
                for e in range(len(self.matches)):
                    seats = self.env_seats(e)
                    if starts[seats].all():
                        self.matches[e], self.pending[e] = matches[e], None
                    else:
                        same = np.array_equal(seat_members[seats], self.seats[seats])
                        self.pending[e] = matches[e] if same and matches[e] != self.matches[e] else None
                        seat_members[seats] = self.seats[seats]
            else:
                self.matches = list(matches)
        if self.seats is not None and np.array_equal(seat_members, self.seats):
            return None
        changed = (np.ones(self.num_seats, dtype=bool) if self.seats is None
                   else seat_members != self.seats)
        self.seats = seat_members
        return changed

    def env_seats(self, env: int) -> slice:
        return slice(env * self.players, (env + 1) * self.players)

    def episode_fields(self, env: int) -> dict[str, Any]:
        """What an env's episode summary carries about its players: members (and match).
        Called once as each episode ends: a pending match takes the env for its next one."""
        match = {} if self.matches[env] is None else {"match": self.matches[env]}
        if self.pending[env] is not None:
            self.matches[env], self.pending[env] = self.pending[env], None
        return {**match, "members": list(self.seats[self.env_seats(env)])}


def to_load(seats: np.ndarray, publications: Mapping[str, Any], held: dict[str, Any],
            where: str = "this worker") -> list[str]:
    """The players a shard must (re)load for its seats: `held` maps a member to what the
    shard holds of it (with `.version` and `.frozen`); members seated nowhere are removed
    from it (their copy freed). A frozen player (snapshot) that has left the league's pool
    since its match began has no publication: the match keeps it to the end of its episode,
    from the shard's own copy (frozen weights never change). Any other seated member
    without a publication is an error."""
    seated_now = {s for s in set(seats) if not weightless(s)}
    for gone in set(held) - seated_now:
        del held[gone]
    out = []
    for member in sorted(seated_now):
        pub, have = publications.get(member), held.get(member)
        if pub is None:
            if have is not None and have.frozen:
                continue
            raise BadInput(f"no weights published for member {member!r}, which plays seats of "
                           f"{where}")
        if have is None or have.version != pub["version"]:
            out.append(member)
    return out
