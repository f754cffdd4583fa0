"""Generalised advantage estimation, time-major (pure function), on the batch's device."""

from __future__ import annotations

import numpy as np
import torch


def gae(rewards, values, dones, last_value, gamma: float, lam: float):
    """Advantages and returns for rewards/values/dones [T, N] and last_value [N].

    dones[t] marks that the episode ended with rewards[t] (the next value belongs to a
    new episode and is not bootstrapped). Returns (advantages, returns), float32 [T, N]:
    tensors on the inputs' device, or numpy arrays when the inputs are numpy.
    """
    as_numpy = isinstance(rewards, np.ndarray)
    rewards, values, dones, last_value = (torch.as_tensor(np.asarray(a)) if isinstance(a, np.ndarray)
                                          else a for a in (rewards, values, dones, last_value))
    rewards = rewards.float()
    values = values.float()
    live = 1.0 - dones.float()
    # the TD errors and decays of all steps at once (the same float32 operations, in the same
    # order, as step by step); only the recursion itself walks back through time
    next_values = torch.cat([values[1:], last_value.float().unsqueeze(0)])
    deltas = rewards + gamma * next_values * live - values
    decays = gamma * lam * live
    adv = torch.empty_like(rewards)
    running = torch.zeros_like(rewards[0])
    for t in reversed(range(rewards.shape[0])):
        running = deltas[t] + decays[t] * running
        adv[t] = running
    ret = adv + values
    if as_numpy:
        return adv.numpy(), ret.numpy()
    return adv, ret
