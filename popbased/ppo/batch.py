"""Trajectories of one member, time-major: numpy arrays (what Ray rollout workers return)
or tensors on the learner's device (what the device collector returns)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Sequence

import numpy as np


@dataclass
class Batch:
    """T steps of N seats played by one member. Arrays (numpy or torch, all the same kind)
    are [T, N, ...] unless noted."""

    member: str
    components: tuple[str, ...]
    """Names of the reward components (the last axis of `rewards`)."""
    obs: np.ndarray
    """uint8 [T, N, s, s, 3]."""
    actions: np.ndarray
    """int64: indices into the member's own action set."""
    logp: np.ndarray
    """float32: log-probability of the action under the policy that collected it."""
    values: np.ndarray
    """float32: value estimates at collection."""
    rewards: np.ndarray
    """float32 [T, N, C]: unshaped reward components."""
    dones: np.ndarray
    """bool: the episode ended with this step's reward."""
    starts: np.ndarray
    """bool: this step is the first of an episode (the LSTM state is zeroed)."""
    masks: np.ndarray
    """bool [T, N, A]: the member's allowed actions."""
    last_value: np.ndarray
    """float32 [N]: value of the observation after the last step (for bootstrapping)."""
    states: np.ndarray | None = None
    """float32 [ceil(T / bptt), N, 2, H]: LSTM state at the start of each BPTT chunk."""
    policy_version: tuple = ()
    """(learner uid, version) of the weights that collected it."""

    @property
    def steps(self) -> int:
        return int(self.actions.shape[0])

    @property
    def agent_steps(self) -> int:
        return int(self.actions.shape[0] * self.actions.shape[1])


_SEAT_AXIS = {"last_value": 0}


def concat(batches: Sequence[Batch]) -> Batch:
    """Joins batches of the same member and length along the seat axis."""
    first = batches[0]
    if len(batches) == 1:
        return first
    if any(b.member != first.member or b.steps != first.steps or b.components != first.components
           for b in batches):
        raise ValueError("concat needs batches of one member, one length and one set of components")
    out = {}
    for f in fields(Batch):
        values = [getattr(b, f.name) for b in batches]
        if isinstance(values[0], np.ndarray):
            out[f.name] = np.concatenate(values, axis=_SEAT_AXIS.get(f.name, 1))
        else:
            out[f.name] = values[0]
    return Batch(**out)
