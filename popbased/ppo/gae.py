"""Generalised advantage estimation, time-major (pure function)."""

from __future__ import annotations

import numpy as np


def gae(rewards: np.ndarray, values: np.ndarray, dones: np.ndarray, last_value: np.ndarray,
        gamma: float, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Advantages and returns for rewards/values/dones [T, N] and last_value [N].

    dones[t] marks that the episode ended with rewards[t] (the next value belongs to a
    new episode and is not bootstrapped). Returns (advantages, returns), float32 [T, N].
    """
    steps = rewards.shape[0]
    adv = np.zeros(rewards.shape, dtype=np.float32)
    next_value = np.asarray(last_value, dtype=np.float32)
    running = np.zeros(rewards.shape[1:], dtype=np.float32)
    for t in reversed(range(steps)):
        live = 1.0 - dones[t].astype(np.float32)
        delta = rewards[t] + gamma * next_value * live - values[t]
        running = delta + gamma * lam * live * running
        adv[t] = running
        next_value = values[t]
    return adv, (adv + values).astype(np.float32)
