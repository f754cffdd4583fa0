"""Social-preference reward components: inequity aversion and social value orientation.

Both are computed in the env from every player's extrinsic per-step reward r_i(t) (the
harvest, before any shaping), through temporally smoothed rewards

    e_i(t) = lambda * e_i(t-1) + r_i(t),    e_i = 0 before an episode's first step,

with lambda the variant parameter `inequity_decay` (default 0.975; Hughes et al. 2018 used
gamma * lambda = 0.99 * 0.975 ~ 0.965). With N players, each step reports per player i:

    disadvantageous_inequity = 1/(N-1) * sum_j max(e_j - e_i, 0)    (others ahead of i)
    advantageous_inequity    = 1/(N-1) * sum_j max(e_i - e_j, 0)    (i ahead of others)
    svo_distance             = |theta - atan2(mean_{j != i} e_j, e_i)|   (radians)

with theta the variant parameter `svo_angle` (degrees in the file: 0 individualistic, 45
prosocial, 90 altruistic; McKee et al. 2020) and atan2(0, 0) = 0 (so before anyone has
eaten, the distance is |theta|). The components are per-member shaping weights like any
other: Hughes' inequity-averse reward r_i - alpha * DI - beta * AI is `reward = 1,
disadvantageous_inequity = -alpha, advantageous_inequity = -beta`, and McKee's SVO reward
r_i - w * |theta - theta(e)| is `reward = 1, svo_distance = -w`; alpha, beta and w can be
PBT genes (`[shaping.disadvantageous_inequity]` with init and bounds in a population file).

lambda and theta are parameters of the env (one value for every player of a variant: `-p
inequity_decay=0.95 -p svo_angle=30`, or a population file's `params`), or each member's own
genes (`[social.inequity_decay]`, `[social.svo_angle]` in a population file): then every player
i keeps its own traces of everyone, e^i_j(t) = lambda_i * e^i_j(t-1) + r_j(t), and its
components read its own row with its own theta_i (`observer_components`; with one lambda and
theta for all, the same numbers as above). The collectors compute those per seat (the fast env
through `FastBatchedEnv.set_social`, Melting Pot's rollout workers from the seats' rewards);
seats of players without such genes (random, bots, snapshots) use the variant's values. A seat
that changes hands mid-episode (self-play reseats every fragment) keeps its row of traces: the
new player sees the episode's rewards so far, smoothed with the last player's lambda until its
own takes over.

This module is the Melting Pot side (numpy, one instance); the fast env computes the same
numbers in torch over [worlds, players] (popbased.env.fast.social). The columns are there
only when the variant sets `social=true` (popbased.env.instance.component_names).
"""

from __future__ import annotations

import math

import numpy as np

SOCIAL_COMPONENTS = ("disadvantageous_inequity", "advantageous_inequity", "svo_distance")


def hint(name: str) -> str:
    """What to add to an 'unknown reward component' error about `name` (empty when it is not
    one of the social components)."""
    return (" (the social components are there with the variant parameter social=true)"
            if name in SOCIAL_COMPONENTS else "")


def components(traces: np.ndarray, svo_angle: float) -> np.ndarray:
    """traces [..., N] (smoothed rewards, N >= 2) -> [..., N, 3] float32: each player's
    disadvantageous_inequity, advantageous_inequity and svo_distance (`svo_angle` in
    radians)."""
    e = np.asarray(traces, dtype=np.float32)
    n = e.shape[-1]
    diff = e[..., None, :] - e[..., :, None]  # [..., i, j] = e_j - e_i
    scale = np.float32(1.0 / (n - 1))
    behind = np.maximum(diff, 0).sum(-1) * scale
    ahead = np.maximum(-diff, 0).sum(-1) * scale
    others = (e.sum(-1, keepdims=True) - e) * scale
    # + 0 turns -0.0 into 0.0, so atan2(0, 0) is 0 whatever the zeros' signs
    angle = np.arctan2(others + np.float32(0), e + np.float32(0))
    distance = np.abs(np.float32(svo_angle) - angle)
    return np.stack([behind, ahead, distance], -1).astype(np.float32)


def observer_components(traces: np.ndarray, svo_angle: np.ndarray) -> np.ndarray:
    """traces [..., N, N] (row i: player i's smoothed rewards of every player), svo_angle [N]
    radians (player i's theta) -> [..., N, 3] float32: each player's components from its own
    row, as `components` computes them from one row of traces."""
    e = np.asarray(traces, dtype=np.float32)
    n = e.shape[-1]
    own = np.diagonal(e, axis1=-2, axis2=-1)[..., None]  # [..., i, 1] = e^i_i
    diff = e - own  # [..., i, j] = e^i_j - e^i_i
    scale = np.float32(1.0 / (n - 1))
    behind = np.maximum(diff, 0).sum(-1) * scale
    ahead = np.maximum(-diff, 0).sum(-1) * scale
    mine = own[..., 0]
    others = (e.sum(-1) - mine) * scale
    angle = np.arctan2(others + np.float32(0), mine + np.float32(0))
    distance = np.abs(np.asarray(svo_angle, dtype=np.float32) - angle)
    return np.stack([behind, ahead, distance], -1).astype(np.float32)


def seat_params(seats, handles) -> tuple[np.ndarray, np.ndarray] | None:
    """Each seat's own (inequity_decay, svo_angle in radians) from the publications (`handles`:
    member -> its publication, with `social` when the member has social genes), NaN where the
    seat's player has none (the variant's values then); None when no seated player has any."""
    own = {m: h["social"] for m, h in handles.items() if isinstance(h, dict) and h.get("social")}
    if not any(s in own for s in set(seats)):
        return None
    decay = np.array([own.get(s, {}).get("inequity_decay", np.nan) for s in seats], np.float64)
    angle = np.radians([own.get(s, {}).get("svo_angle", np.nan) for s in seats])
    return decay, angle


class ObserverTraces:
    """Every player's own traces of everyone ([envs, N, N]), with its own lambda and theta."""

    def __init__(self, envs: int, players: int):
        self.traces = np.zeros((envs, players, players), dtype=np.float32)

    def update(self, reward: np.ndarray, decay: np.ndarray, svo_angle: np.ndarray,
               done: np.ndarray) -> np.ndarray:
        """This step's rewards [envs, N], each player's lambda and theta (radians) [envs, N],
        the envs whose episode ended [envs] -> the components [envs, N, 3] (the ended envs'
        traces are zeroed after)."""
        d = np.asarray(decay, dtype=np.float32)[..., None]
        self.traces = d * self.traces + np.asarray(reward, dtype=np.float32)[:, None, :]
        out = observer_components(self.traces, np.asarray(svo_angle, dtype=np.float32))
        self.traces[np.asarray(done, dtype=bool)] = 0.0
        return out


class SocialTraces:
    """The smoothed rewards of one instance's players, updated once per step."""

    def __init__(self, players: int, decay: float, svo_angle_degrees: float):
        self.decay = np.float32(decay)
        self.svo_angle = math.radians(svo_angle_degrees)
        self.traces = np.zeros(players, dtype=np.float32)

    def reset(self) -> None:
        self.traces[:] = 0.0

    def update(self, reward: np.ndarray) -> np.ndarray:
        """This step's rewards [N] -> the components [N, 3] (the traces include this step)."""
        self.traces = self.decay * self.traces + np.asarray(reward, dtype=np.float32)
        return components(self.traces, self.svo_angle)
