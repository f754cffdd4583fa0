"""Explore: new values for a member's genes (PPO hyperparameters, shaping weights).

Each gene lives on a normalised [0, 1] axis (its bounds, on its scale: linear, log, or
one_minus_log for gamma-like values); EvoTorch's GaussianMutation perturbs the normalised
vector (bounds are part of its problem, so they always hold), and each gene is resampled
from its initial range with `resample_probability` instead. Pure: the same values, genes
and seed give the same result, and the result says what changed.
"""

from __future__ import annotations

import logging
import math
import warnings
from typing import Mapping, Sequence

import numpy as np
import torch

from popbased.population.spec import Gene



def _to_axis(gene: Gene, value: float) -> float:
    if gene.scale == "log":
        return math.log(value)
    if gene.scale == "one_minus_log":
        return math.log(1.0 - value)
    return value


def _from_axis(gene: Gene, x: float) -> float:
    if gene.scale == "log":
        return math.exp(x)
    if gene.scale == "one_minus_log":
        return 1.0 - math.exp(x)
    return x


def normalize(gene: Gene, value: float) -> float:
    """value -> [0, 1] between the gene's bounds, on its scale (1 - x flips the order)."""
    low, high = (_to_axis(gene, b) for b in gene.bounds)
    if high == low:
        return 0.0
    return min(1.0, max(0.0, (_to_axis(gene, value) - low) / (high - low)))


def denormalize(gene: Gene, u: float) -> float:
    low, high = (_to_axis(gene, b) for b in gene.bounds)
    value = _from_axis(gene, low + min(1.0, max(0.0, u)) * (high - low))
    value = min(gene.bounds[1], max(gene.bounds[0], value))  # float round-off at the ends
    if gene.integer:
        value = float(min(math.floor(gene.bounds[1]), max(math.ceil(gene.bounds[0]), round(value))))
    return value


def sample_initial(gene: Gene, rng: np.random.Generator) -> float:
    """A value drawn uniformly from the gene's initial range, on its scale."""
    low, high = (_to_axis(gene, v) for v in gene.init)
    value = _from_axis(gene, rng.uniform(min(low, high), max(low, high)))
    if gene.bounds is not None:
        value = min(gene.bounds[1], max(gene.bounds[0], value))
    return float(round(value)) if gene.integer else float(value)


def grid_value(gene: Gene, index: int, size: int) -> float:
    """Member `index` of `size`'s starting value on a grid: evenly spaced across the gene's
    initial range on its scale, both ends included (the low end for a population of one)."""
    low, high = (_to_axis(gene, v) for v in gene.init)
    value = _from_axis(gene, low + (high - low) * (index / (size - 1) if size > 1 else 0.0))
    value = min(gene.init[1], max(gene.init[0], value))  # float round-off at the ends
    return float(round(value)) if gene.integer else float(value)


def load_evotorch():
    """EvoTorch's pieces explore uses. The first import takes seconds (EvoTorch imports Ray
    and cma): the engines call this at setup, so that it never stalls a generation's end."""
    with warnings.catch_warnings():  # evotorch's torch.jit.script use warns on import
        warnings.simplefilter("ignore", DeprecationWarning)
        from evotorch import Problem, SolutionBatch  # deferred: see the docstring
        from evotorch.operators import GaussianMutation
        from evotorch.operators.functional import simulated_binary_cross_over

    logging.getLogger("evotorch").setLevel(logging.WARNING)  # not one INFO line per Problem
    return Problem, SolutionBatch, GaussianMutation, simulated_binary_cross_over


def explore(genes: Sequence[Gene], values: Mapping[str, float], *, seed: int, stdev: float = 0.1,
            resample_probability: float = 0.25, partner: Mapping[str, float] | None = None,
            eta: float = 10.0) -> tuple[dict[str, float], dict[str, tuple]]:
    """Returns (new values, {name: (old, new, how)}) for the evolved genes (bounds set);
    fixed genes keep their values. With `partner`, the starting point is a child of
    EvoTorch's simulated binary cross-over of `values` and `partner` (crowding index `eta`)."""
    Problem, SolutionBatch, GaussianMutation, simulated_binary_cross_over = load_evotorch()

    evolved = [g for g in genes if g.bounds is not None]
    new = dict(values)
    changes: dict[str, tuple] = {}
    if not evolved:
        return new, changes
    rng = np.random.default_rng(seed)
    problem = Problem("max", lambda x: x.sum(-1), solution_length=len(evolved),
                      initial_bounds=(0.0, 1.0), bounds=(0.0, 1.0), vectorized=True,
                      seed=int(rng.integers(2**31)), device="cpu")
    batch = SolutionBatch(problem, popsize=1, empty=True)
    start = torch.tensor([[normalize(g, values[g.name]) for g in evolved]])
    how_moved = f"gaussian(sd={stdev:g})"
    if partner is not None:
        parents = torch.cat([start, torch.tensor([[normalize(g, partner[g.name]) for g in evolved]])])
        with torch.random.fork_rng(devices=[]):  # SBX draws from torch's global generator
            torch.manual_seed(int(rng.integers(2**31)))
            start = simulated_binary_cross_over(parents, eta=eta)[:1].clamp(0.0, 1.0)
        how_moved = f"sbx(eta={eta:g})+" + how_moved
    batch.set_values(start)
    mutated = GaussianMutation(problem, stdev=stdev)(batch).values[0].tolist()
    for gene, u in zip(evolved, mutated):
        old = values[gene.name]
        if rng.random() < resample_probability:
            value, how = sample_initial(gene, rng), "resample"
        else:
            value, how = denormalize(gene, u), how_moved
        new[gene.name] = value
        if value != old:
            changes[gene.name] = (old, value, how)
    return new, changes
