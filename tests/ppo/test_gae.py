"""Generalised advantage estimation (popbased.ppo.gae) against hand-computed values and,
bit for bit, against its recursion taken one step at a time."""

import numpy as np
import pytest
import torch

from popbased.ppo.gae import gae


def test_gae_by_hand():
    # one seat, three steps, the episode ends after step 1 (index 1)
    r = np.array([[1.0], [2.0], [3.0]], dtype=np.float32)
    v = np.array([[0.5], [1.0], [1.5]], dtype=np.float32)
    d = np.array([[False], [True], [False]])
    last = np.array([2.0], dtype=np.float32)
    g, lam = 0.9, 0.8
    d2 = 3 + g * 2.0 - 1.5                      # bootstraps from last_value
    a2 = d2
    d1 = 2 - 1.0                                # episode ended: no bootstrap, no carry
    a1 = d1
    d0 = 1 + g * 1.0 - 0.5
    a0 = d0 + g * lam * a1
    adv, ret = gae(r, v, d, last, g, lam)
    assert adv[:, 0] == pytest.approx([a0, a1, a2])
    assert ret[:, 0] == pytest.approx([a0 + 0.5, a1 + 1.0, a2 + 1.5])


def test_gae_lambda_one_is_discounted_return():
    rng = np.random.default_rng(0)
    r = rng.normal(size=(6, 2)).astype(np.float32)
    v = rng.normal(size=(6, 2)).astype(np.float32)
    d = np.zeros((6, 2), dtype=bool)
    last = np.zeros(2, dtype=np.float32)
    _, ret = gae(r, v, d, last, 0.5, 1.0)
    expected = [sum(0.5 ** k * r[t + k, 0] for k in range(6 - t)) for t in range(6)]
    assert ret[:, 0] == pytest.approx(expected, rel=1e-5)


def _step_by_step(r, v, d, last, g, lam):
    """GAE as its recursion reads, one step at a time (the reference)."""
    live = 1.0 - d.float()
    adv, running, next_value = torch.zeros_like(r), torch.zeros_like(r[0]), last
    for t in reversed(range(r.shape[0])):
        delta = r[t] + g * next_value * live[t] - v[t]
        running = delta + g * lam * live[t] * running
        adv[t], next_value = running, v[t]
    return adv, adv + v


def test_gae_equals_the_step_by_step_recursion_bit_for_bit():
    rng = np.random.default_rng(1)
    for _ in range(50):
        steps, seats = int(rng.integers(1, 60)), int(rng.integers(1, 40))
        r = torch.from_numpy(rng.normal(size=(steps, seats)).astype(np.float32) * 10)
        v = torch.from_numpy(rng.normal(size=(steps, seats)).astype(np.float32))
        d = torch.from_numpy(rng.random((steps, seats)) < 0.1)
        last = torch.from_numpy(rng.normal(size=seats).astype(np.float32))
        g, lam = float(rng.uniform(0.9, 0.999)), float(rng.uniform(0.8, 1.0))
        for got, want in zip(gae(r, v, d, last, g, lam), _step_by_step(r, v, d, last, g, lam)):
            assert torch.equal(got, want)
