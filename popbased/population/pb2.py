"""PB2's explore (Parker-Holder et al. 2020, "Provably efficient online hyperparameter
optimization with population-based bandits"): a member that copied a donor takes the genes a
time-varying Gaussian process bandit (GP-UCB) proposes, instead of a random perturbation.

The GP is fitted on every interval the population has trained so far: (when it ended, the
fitness at its start, the genes it trained with) -> the change of fitness per agent-step over
it; the new genes maximise the upper confidence bound at (now, the donor's fitness), each held
within the data's range, away from the genes the other members are training with (Ray Tune's
PB2 takes the donor's last interval's end and start fitness instead). The data come from the
lineage, so a resumed run proposes what the unbroken run would. The GP and its acquisition are
Ray Tune's PB2 pieces (its time-varying kernel, UCB and optimiser on scikit-learn's
GaussianProcessRegressor), with a learned noise level added (see _gp_ucb). Genes live on
explore's normalised [0, 1] axis, so bounds and scales hold as with the Gaussian explore.
"""

from __future__ import annotations

import warnings
from typing import Mapping, Sequence

import numpy as np

from popbased.population.explore import denormalize, normalize
from popbased.population.lineage import LineageEvent
from popbased.population.spec import Gene

STARTS = 10
"""Random starts of the acquisition's optimiser (Ray's PB2: 10)."""

MIN_INTERVALS = 4
"""Intervals (a member's fitness measured at both ends with unchanged genes) the GP needs;
with fewer (the first PBT steps) explore falls back to the Gaussian perturbation."""


def intervals(events: Sequence[LineageEvent], genes: Sequence[Gene],
              ends: Mapping[str, tuple[int, float | None]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The training intervals in `events` (a lineage, in order) as PB2's data: X rows
    (agent-step at the end, fitness at the start, each gene on its [0, 1] axis) and y (the
    change of fitness per agent-step). An interval starts at a PBT step where the member kept
    its genes or took only a donor's genes (fitness: its own, its weights went on) or copied
    a donor (fitness: the donor's, whose weights it took) and ends at the member's next PBT step; one with an unknown fitness at either end is
    left out (the first, from the initial draw, has none at its start). `ends`: member ->
    (agent-step, fitness) measured at the PBT step under way, which closes the intervals its
    events have not closed yet."""
    start: dict[str, tuple[int, float | None, dict[str, float]]] = {}
    rows, changes = [], []

    def close(member: str, end: int, fitness_now: float | None) -> None:
        step, fitness, values = start[member]
        if fitness is not None and fitness_now is not None and end > step:
            rows.append([end, fitness] + [normalize(g, values[g.name]) for g in genes])
            changes.append((fitness_now - fitness) / (end - step))

    for event in events:
        member = event.member
        if event.kind == "init":
            start[member] = (event.agent_step, None, dict(event.values))
        elif member not in start:
            continue
        elif event.kind in ("keep", "exploit", "adopt"):
            close(member, event.agent_step, event.fitness)
            begun_at = event.donor_fitness if event.kind == "exploit" else event.fitness
            start[member] = (event.agent_step, begun_at, dict(event.values))
        elif event.kind == "explore":
            start[member] = (*start[member][:2], dict(event.values))
    for member, (end, fitness_now) in (ends or {}).items():
        if member in start:
            close(member, end, fitness_now)
    width = 2 + len(genes)
    return np.array(rows, dtype=float).reshape(-1, width), np.array(changes, dtype=float)


def propose(genes: Sequence[Gene], values: Mapping[str, float], history: Sequence[LineageEvent], *,
            now: int, donor_fitness: float, others: Sequence[Mapping[str, float]],
            seed: int, ends: Mapping[str, tuple[int, float | None]] | None = None,
            radius: float = 1.0) -> dict[str, float] | None:
    """New values for the evolved `genes` of a member that copied a donor with
    `donor_fitness` at agent-step `now` (its `values` are the donor's; with `[pbt] inherit =
    "genes"`, `donor_fitness` is the member's own, whose weights go on), the others training
    with `others`; None when the lineage (with `ends`, see intervals) holds fewer than
    MIN_INTERVALS intervals. The search is held within `radius` of `values` on each gene's
    [0, 1] axis (1: the whole range, as in PB2's paper and Ray Tune; with a population's few
    intervals in a wide range, UCB there proposes the far corners, where it knows least,
    whatever the data say). The same inputs give the same proposal."""
    evolved = [g for g in genes if g.bounds is not None]
    X, y = intervals(history, evolved, ends)
    if not evolved or len(y) < MIN_INTERVALS or not np.isfinite(donor_fitness):
        return None
    bounds = np.array([[0.0, 1.0]] * len(evolved)).T  # rows: low, high
    # PB2 scales time and fitness by the data's range, and a point outside it (a first PBT step
    # whose intervals all ended at once; a donor fitter than any start) would be far from every
    # datum, where the GP knows nothing: the point is held inside the data's range
    where = np.array([min(float(now), X[:, 0].max()), np.clip(donor_fitness, X[:, 1].min(), X[:, 1].max())])
    current = np.array([[normalize(g, o[g.name]) for g in evolved] for o in others], dtype=float)
    start = np.array([normalize(g, values[g.name]) for g in evolved])
    state = np.random.get_state()  # PB2's acquisition draws its starts from NumPy's global generator
    np.random.seed(seed % 2**32)
    try:
        with warnings.catch_warnings():  # sklearn's fits at a bound, SciPy's deprecated options
            warnings.simplefilter("ignore")
            point = _gp_ucb(X, y, where, current, bounds, np.clip(start - radius, 0.0, 1.0),
                            np.clip(start + radius, 0.0, 1.0))
    finally:
        np.random.set_state(state)
    new = dict(values)
    for gene, u in zip(evolved, point):
        new[gene.name] = denormalize(gene, float(u))
    return new


def _gp_ucb(X: np.ndarray, y: np.ndarray, where: np.ndarray, current: np.ndarray,
            bounds: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """PB2's selection (Ray Tune's `_select_config`, from its pieces): the GP fitted on the
    intervals scaled to [0, 1] (time and fitness by the data's range) and their standardised
    fitness changes; a second GP that also holds the other members' genes at `where` (so their
    variance is low and the proposal goes elsewhere); the UCB maximised over the genes between
    `low` and `high` (on their [0, 1] axes) from STARTS random starts. Unlike Ray's, the GPs
    learn a noise level (a WhiteKernel beside PB2's time-varying kernel): a member's fitness
    change is noisy, and without one the fit collapses to a length-scale at its lower bound,
    where the UCB is flat and the proposal is just the first random start; and the search may
    be held near the donor's genes (see propose)."""
    from ray.tune.schedulers.pb2_utils import UCB, TV_SquaredExp, normalize as scaled, standardize
    from scipy.optimize import minimize
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import WhiteKernel

    def fit(inputs, targets):
        kernel = (TV_SquaredExp(variance=1.0, lengthscale=1.0, epsilon=0.1)
                  + WhiteKernel(0.1, (1e-3, 10.0)))
        model = GaussianProcessRegressor(kernel=kernel, optimizer="fmin_l_bfgs_b", alpha=1e-10)
        return model.fit(inputs, targets)

    fixed_part = X[:, :2]
    limits = np.concatenate([np.stack([fixed_part.max(axis=0), fixed_part.min(axis=0)]), bounds], axis=1)
    inputs = scaled(X, limits)
    targets = standardize(y).reshape(-1, 1)
    fixed = scaled(where, fixed_part)
    model = fit(inputs, targets)
    if len(current):
        held = np.hstack([np.repeat(fixed[None, :], len(current), axis=0), current])
        with_others = fit(np.vstack([inputs, held]), np.vstack([targets, np.zeros((len(current), 1))]))
    else:
        with_others = model
    best, best_value = (low + high) / 2, -np.inf
    for _ in range(STARTS):  # Ray's optimize_acq, over `low`-`high` instead of the whole [0, 1]
        found = minimize(lambda x: -UCB(model, with_others, x, fixed), np.random.uniform(low, high),
                         bounds=list(zip(low, high)), method="L-BFGS-B", options={"maxiter": 200})
        value = UCB(model, with_others, found.x, fixed)
        if value > best_value:
            best, best_value = found.x, value
    return np.clip(best, low, high)
