"""The statistics an experiment reports, as pure functions over plain arrays and dicts (no I/O).

One metric per claim, each named where it is computed:

- a run's score (`run_score`): per-capita return per 1,000 steps, averaged over the run's
  evaluation episodes on real Melting Pot; `normalise` puts it on 0 = random play,
  1 = the reference;
- across the runs of an arm (its seeds): IQM, mean and median with stratified-bootstrap 95%
  CIs (`aggregate`), the probability that one arm's run beats another's
  (`probability_of_improvement`) and the fraction of runs above each threshold
  (`performance_profile`);
- depletion of one run's episodes, both ways always (`depletion`): the world count and the
  study's proxy, with the fraction of the map's apple patches that died;
- a run's harvest efficiency (`harvest_efficiency`): its harvest rate over the map's
  sustainable ceiling (popbased.env.fast.ceiling), 1 = the ceiling.

Every CI here is over seeds (independent training runs), never over the evaluation episodes
of one run: the episodes make one run's score, the seeds the method's. The aggregates,
bootstraps and profiles are rliable's (Agarwal et al. 2021, "Deep RL at the Edge of the
Statistical Precipice"), not re-implemented: `rliable.library.get_interval_estimates` with
`rliable.metrics`, and `rliable.library.create_performance_profile`. Scores are arrays [seeds] (one task) or [seeds, tasks] (rliable's runs x
tasks); bootstraps resample seeds within each task (stratified) and are seeded, so the same
scores give the same intervals whatever other arms are passed beside them.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
import json
import math
import os
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Hashable, Mapping, Sequence

import numpy as np

from popbased.errors import BadInput

REPS = 50_000
"""Bootstrap replications for intervals (rliable's default for `get_interval_estimates`)."""
POI_REPS = 2_000
"""Bootstrap replications for probability of improvement (as rliable's own examples use: each
replication runs a Mann-Whitney U test, about 0.7 ms; 50,000 take 36 s a pair on 2 cores)."""
PROFILE_REPS = 2_000
"""Bootstrap replications for performance-profile bands (rliable's default for profiles)."""
CONFIDENCE = 0.95
EPISODES = 30
"""Evaluation episodes per run the experiments use (issue 30): fewer, and the episode
length's spread (1,099-5,000 steps) still shows in a run's score."""
METRICS = ("iqm", "mean", "median")


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its interval (95% unless said otherwise)."""

    point: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float]:
        return {"point": self.point, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class Profile:
    """A performance profile: at each threshold tau, the fraction of runs (x tasks) whose
    score is above tau, with its 95% band over seeds."""

    taus: np.ndarray
    fraction: np.ndarray
    low: np.ndarray
    high: np.ndarray


# ------------------------------------------------------------------ rliable, imported once
@functools.cache
def _rliable():
    """rliable's `library` and `metrics` modules (imported once: `_three` asks for them at every
    bootstrap replication).

    rliable 1.2.0 (the latest) needs arch < 8 (arch 8 dropped the `random_state` argument
    rliable passes), and arch 7.2.0, the last before 8, fails on import under pandas 3: it
    decorates one method (`ARCHModelFixedResult.plot`'s `type` -> `plot_type`) with pandas'
    private `deprecate_kwarg` in its pandas-2 form, which pandas 3 changed (a warning class
    first). While arch is imported, and only then, that decorator also takes the old form; the
    bootstrap code rliable uses does not touch it."""
    if "arch.bootstrap" not in sys.modules:
        from pandas.util import _decorators

        original = _decorators.deprecate_kwarg
        params = list(inspect.signature(original).parameters)
        if params and params[0] == "klass":
            def either_form(*args, **kwargs):
                if args and isinstance(args[0], type) and issubclass(args[0], Warning):
                    return original(*args, **kwargs)
                return original(FutureWarning, *args, **kwargs)

            _decorators.deprecate_kwarg = either_form
            try:
                importlib.import_module("arch.bootstrap")
            finally:
                _decorators.deprecate_kwarg = original
    from rliable import library, metrics

    return library, metrics


@contextmanager
def _seeded(seed: int):
    """numpy's global generator seeded with `seed`, its state given back afterwards.

    rliable's bootstraps resample with the global generator (`np.random.choice` in its
    `StratifiedBootstrap`): the `random_state` that `get_interval_estimates` takes reaches arch,
    not the resampling, and `create_performance_profile` takes none. Seeding the global one for
    the call is what makes its intervals reproducible."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


_CACHE: dict[str, list] | None = None
"""Interval estimates already computed, by their inputs (`cached`); None: none kept."""


@contextmanager
def cached(path: str | Path, workers: int | None = None):
    """Within the block, every interval estimate is kept in the JSON file `path` by what made
    it (the function, the scores' values and shape, reps, seed, confidence, rliable's version)
    and read back instead of bootstrapping again: the same numbers, bit for bit, without the
    time. A report rewritten after one more run finished recomputes only what that run changed
    (a 5-seed interval at 50,000 replications took 11 s on 2 busy cores; a report of 11 arms,
    7 metrics, 55 pairs and a cross-play table, over 20 minutes). The file is also written
    every FLUSH_SECONDS of new estimates, so a report stopped part-way (a session's end, a
    kill) keeps what it had bootstrapped. An unreadable file is started afresh.

    The estimates one call needs (every arm of `aggregate`, every pair of
    `probability_of_improvement`, when they are POOL_MIN_REPS replications or more) are
    bootstrapped side by side on `workers` processes (default `report_workers()`), started
    when first needed and stopped with the block; each seeds its own generator as one process
    would, so the numbers are the same."""
    global _CACHE, _CACHE_FILE, _POOL
    path = Path(path)
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError):
        loaded = {}
    _CACHE = loaded if isinstance(loaded, dict) else {}
    _CACHE_FILE = [path, len(_CACHE), time.monotonic()]
    _POOL = [report_workers() if workers is None else workers, None]
    try:
        yield
    finally:
        pool, _POOL = _POOL[1], None
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        _flush(force=True)
        _CACHE, _CACHE_FILE = None, None


def report_workers() -> int:
    """Processes a report bootstraps on: POPBASED_REPORT_WORKERS, else the CPUs this process
    may use that are idle (their count less the last minute's load average, at most 8; at
    least 1). On 2 cores already busy with an experiment's 2 steps, 2 workers wrote a report in
    222 s against 184 s for one process (scripts/bench_report): workers help only where CPUs
    are free."""
    given = os.environ.get("POPBASED_REPORT_WORKERS", "").strip()
    if given:
        if not given.isdigit() or int(given) < 1:
            raise BadInput(f"POPBASED_REPORT_WORKERS={given!r}: expected a whole number of processes, 1 or more")
        return int(given)
    cpus = len(os.sched_getaffinity(0))
    return max(1, min(8, cpus - round(os.getloadavg()[0])))


FLUSH_SECONDS = 60.0
"""How often (at most) `cached` writes its file while new estimates come in."""
_CACHE_FILE: list | None = None
"""[path, entries it holds, when it was last written] while a `cached` block runs."""
_POOL: list | None = None
"""[workers, their pool once started] while a `cached` block runs."""
POOL_MIN_REPS = 20_000
"""Fewer replications than this in one call's missing estimates (about 4 s of bootstrapping)
are done in this process: starting the workers (about 2 s) would cost more than it saves."""


def _flush(force: bool = False) -> None:
    """Writes the cache's file when it gained entries, at most every FLUSH_SECONDS unless forced."""
    path, size, when = _CACHE_FILE
    if len(_CACHE) != size and (force or time.monotonic() - when >= FLUSH_SECONDS):
        from popbased.textio import write_atomic  # deferred: only where a cache is kept

        write_atomic(path, json.dumps(_CACHE).encode())
        _CACHE_FILE[1:] = [len(_CACHE), time.monotonic()]


def _pool():
    """The block's worker processes (started on first use), or None: one process, no block, or
    a main module that spawned processes cannot import (a script read from stdin)."""
    if _POOL is None or _POOL[0] < 2:
        return None
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    if main is not None and not Path(main).is_file():
        return None
    if _POOL[1] is None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawned, not forked: the report's process may hold threads (torch's, Ray's)
        _POOL[1] = ProcessPoolExecutor(_POOL[0], mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_rliable)
    return _POOL[1]


def _key(func, arrays, reps: int, seed: int) -> str:
    from importlib.metadata import version

    digest = hashlib.sha256(f"{func.__module__}.{func.__qualname__}|{reps}|{seed}|{CONFIDENCE}|"
                            f"rliable {version('rliable')}".encode())
    for a in arrays:
        a = np.ascontiguousarray(a, dtype=np.float64)
        digest.update(repr(a.shape).encode() + a.tobytes())
    return digest.hexdigest()


def _three(x):
    """IQM, mean and median of runs x tasks (what `aggregate` bootstraps)."""
    _, metrics = _rliable()
    return np.array([metrics.aggregate_iqm(x), metrics.aggregate_mean(x), metrics.aggregate_median(x)])


def _func(name: str):
    metrics = _rliable()[1]
    return {"three": _three, "mean": metrics.aggregate_mean}.get(name, metrics.probability_of_improvement)


def resamples(*arrays: np.ndarray) -> int:
    """How many different resamples, as multisets, a stratified bootstrap can draw from
    `arrays` (each runs x tasks): within each task, n runs drawn n times with replacement make
    C(2n - 1, n) multisets (126 for 5 seeds, 92,378 for 10), independently per task and array."""
    return math.prod(math.comb(2 * a.shape[0] - 1, a.shape[0]) ** int(np.prod(a.shape[1:]))
                     for a in arrays)


class ByMultiset:
    """A statistic of runs x tasks arrays that depends on each task's runs as a multiset (the
    IQM, mean and median of `_three`, the probability of improvement), computed once per
    distinct resample and read back for the others. rliable's bootstrap calls its statistic
    once per replication; with 5 seeds of one task 50,000 replications draw only 126 different
    multisets, and the statistic (scipy's trim_mean behind rliable's IQM) is most of the time.
    The resampling, its generator and the percentile intervals stay rliable's and arch's. The
    statistic is computed on each task's runs sorted, so its value is the multiset's whatever
    order a replication drew them in (the same as the unsorted order's up to floating-point
    rounding of a sum, ~1e-16)."""

    def __init__(self, func):
        self.func, self.seen = func, {}  # multiset -> the statistic (its count: how many computed)

    def __call__(self, *arrays):
        ordered = [np.sort(a, axis=0) for a in arrays]
        key = b"|".join(repr(a.shape).encode() + a.tobytes() for a in ordered)
        if key not in self.seen:
            self.seen[key] = self.func(*ordered)
        return self.seen[key]


MEMO_SHARE = 0.25
"""`_bootstrap` reads a statistic back by its resample's multiset (`ByMultiset`) when there are
at most this share of the replications' count of different ones (`resamples`): otherwise few
replications repeat one, and sorting and hashing each costs more than it saves."""


def _bootstrap(name: str, scores, reps: int, seed: int):
    """rliable's stratified bootstrap of function `name` ("three", "mean" or "poi") over
    `scores` (one entry), numpy's generator seeded by `seed` for the call; in this process or a
    worker; the statistic read back by multiset where few exist (`ByMultiset`)."""
    library, _ = _rliable()
    func = _func(name)
    if resamples(*(scores if isinstance(scores, tuple) else (scores,))) <= MEMO_SHARE * reps:
        func = ByMultiset(func)
    with _seeded(seed):
        points, intervals = library.get_interval_estimates(
            {"x": scores}, func, reps=reps, confidence_interval_size=CONFIDENCE)
    return np.atleast_1d(np.asarray(points["x"], dtype=np.float64)), np.asarray(intervals["x"], dtype=np.float64)


def _intervals(name: str, jobs: Sequence, reps: int, seed: int) -> list:
    """`_bootstrap` of each of `jobs` (scores: an array, or a pair's tuple of two), read from
    the cache where one is kept (`cached`), the rest on the block's workers when more than one
    is left and they are worth starting (POOL_MIN_REPS)."""
    func = _func(name)
    keys = [_key(func, s if isinstance(s, tuple) else (s,), reps, seed) if _CACHE is not None else None
            for s in jobs]
    made: list = [None] * len(jobs)
    for i, key in enumerate(keys):
        if key is not None and key in _CACHE:
            points, intervals = _CACHE[key]
            made[i] = np.asarray(points, dtype=np.float64), np.asarray(intervals, dtype=np.float64)
    missing = [i for i, m in enumerate(made) if m is None]
    pool = _pool() if len(missing) > 1 and reps * len(missing) >= POOL_MIN_REPS else None
    results = (_bootstrap(name, jobs[i], reps, seed) for i in missing)
    if pool is not None:
        try:
            results = list(pool.map(_bootstrap, *zip(*[(name, jobs[i], reps, seed) for i in missing])))
        except BrokenProcessPool as err:  # a worker died: this process does the work, the same numbers
            print(f"popbased: report workers stopped ({err}); bootstrapping in this process", file=sys.stderr)
            _POOL[0] = 1
    for i, result in zip(missing, results):
        made[i] = result
        if keys[i] is not None:
            _CACHE[keys[i]] = [result[0].tolist(), result[1].tolist()]
            _flush()
    return made


def _runs(arm: Hashable, scores: Any) -> np.ndarray:
    """An arm's scores as rliable's matrix [runs (seeds), tasks]."""
    x = np.asarray(scores, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"arm {arm!r}: scores must be an array [seeds] or [seeds, tasks] with at "
                         f"least one seed, got shape {np.shape(scores)}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"arm {arm!r}: scores must be finite numbers, got {x.ravel().tolist()}")
    return x


# ------------------------------------------------------------------ one run
def run_score(episodes: Sequence[Mapping[str, Any]]) -> float:
    """Metric: a run's score, its per-capita return per 1,000 steps (the substrate's own
    reward, never shaped), averaged over its evaluation episodes.

    Each episode is an episode summary (`popbased.env.metrics.EpisodeTracker.summary`):
    `per_capita_return` and `steps` are read. Per 1,000 steps, not per episode, because a
    Melting Pot episode's length is random (1,099-5,000 steps on commons_harvest): a return
    per episode would mostly measure how long the episode ran. Each episode gives
    1000 x per_capita_return / steps and the run's score is their mean (each episode weighs
    the same). This is one run's number: a CI is over seeds (`aggregate`), not these
    episodes."""
    if not episodes:
        raise ValueError("run_score needs at least one episode")
    rates = []
    for i, e in enumerate(episodes):
        steps = e["steps"]
        if not steps or steps <= 0:
            raise ValueError(f"episode {i}: steps must be positive, got {steps!r}")
        rates.append(1000.0 * float(e["per_capita_return"]) / float(steps))
    return float(np.mean(rates))


def normalise(score, random, reference):
    """Metric: the normalised score, (score - random) / (reference - random): 0 = random play,
    1 = the reference (the scripted sustainable policy, or the map's computed ceiling; the
    caller passes their scores, measured the same way as `score`, e.g. with `run_score`).

    Works on numbers or arrays (broadcast, e.g. [seeds, tasks] with a reference per task);
    returns a float for numbers. Normalise before aggregating, so an arm's IQM and its CI are
    on this scale."""
    s, r, ref = (np.asarray(v, dtype=np.float64) for v in (score, random, reference))
    span = ref - r
    if np.any(span == 0) or not np.all(np.isfinite(span)):
        raise ValueError(f"normalise: the reference ({reference!r}) must differ from random play "
                         f"({random!r}) and both be finite")
    out = (s - r) / span
    return float(out) if out.ndim == 0 else out


def depletion(episodes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Metric: the fraction of one run's episodes that depleted, both ways, always:

    - `world`: by the world count (`depleted`): the live apples read from the world reached 0.
      Depletion is absorbing (regrowth needs live neighbours), so this is "fully depleted";
    - `proxy`: by the study's proxy (`proxy_depleted`): at some step no player had gained
      reward for 50 steps. It also fires while apples remain (players waiting for regrowth,
      or kept away by zaps), so it can read higher than the world count; a verdict names which
      of the two it uses.

    and, beside them, patch deaths:

    - `patch_deaths`: the mean over the episodes of the fraction of the map's apple patches
      that died (`patch_deaths / patches` of each summary: a patch, one of the connected
      groups of apple cells of `popbased.env.fast.ceiling.patches`, dies when its live apples
      reach 0; the open map has 6, so 0.5 = three patches died in an average episode). None
      where the episodes do not all carry the counts (evaluations made before they were
      recorded, or a substrate without a world count): the other two are reported all the same.

    Both world counts have the same one-step exception: the count regrowth reads is two steps
    old, so a waiting apple can still regrow in the step after the last apple went; such an
    episode or patch counts as depleted (see popbased.env.metrics).

    Returns {"episodes": n, "world": fraction, "proxy": fraction, "patch_deaths": fraction or
    None}. Each is one run's number: pass each arm's per-run fractions [seeds] to `aggregate`
    for a CI over seeds. Episodes may be summaries or rows of an evaluation's episodes table
    (a missing number there reads NaN)."""
    if not episodes:
        raise ValueError("depletion needs at least one episode")
    world, proxy, patches = [], [], []
    for i, e in enumerate(episodes):
        if not _given(e.get("depleted")):
            raise ValueError(f"episode {i}: no world count of apples ('depleted' is missing or None): "
                             f"depletion is reported both ways, the world count and the study's proxy")
        world.append(bool(e["depleted"]))
        proxy.append(bool(e["proxy_depleted"]))
        if _given(e.get("patches")) and _given(e.get("patch_deaths")) and e["patches"] > 0:
            patches.append(float(e["patch_deaths"]) / float(e["patches"]))
    return {"episodes": len(episodes), "world": float(np.mean(world)), "proxy": float(np.mean(proxy)),
            "patch_deaths": float(np.mean(patches)) if len(patches) == len(episodes) else None}


def harvest_efficiency(episodes: Sequence[Mapping[str, Any]], ceiling: float) -> float:
    """Metric: a run's harvest efficiency, its harvest rate over the map's sustainable
    ceiling: 1 = the computed ceiling, 0 = nothing eaten.

    Each episode's harvest rate is its apples eaten per player per 1,000 steps: 1000 x the mean
    over players of `apples_eaten` / `steps` (the summaries' `apples_eaten` list; an
    evaluation's episodes table has the mean as `apples_eaten_per_capita`). Apples eaten, not
    the reward: the two agree on the stock maps (1 per apple), not where a variant shapes it.
    The run's efficiency is the mean over its episodes of rate / `ceiling` (each episode weighs
    the same, as in `run_score`), where `ceiling` is the map's sustainable harvest in the same
    unit, apples per player per 1,000 steps (`popbased.env.fast.ceiling.ceiling_rate` x 1,000 /
    players: 126.9 on the open map with 7 players, docs/scripted.md). Per player on both sides,
    so it is the same ratio as all players' apples per step over the map's ceiling rate.

    The ceiling is a long-run bound: it leaves out the apples of the start, which can be eaten
    once per episode on top of it (on the open map the 38 beyond its best skeleton of 26 add
    2.6% at Melting Pot's mean episode length of 1,665 steps, 3.9% at its shortest, 1,099), so
    a run can read a little above 1, and episodes cut at a few hundred steps much more. One
    run's number, as `run_score`: `aggregate` the runs' values for a CI over seeds."""
    if not episodes:
        raise ValueError("harvest_efficiency needs at least one episode")
    if not (np.isfinite(ceiling) and ceiling > 0):
        raise ValueError(f"harvest_efficiency: the ceiling must be a positive number, got {ceiling!r}")
    rates = []
    for i, e in enumerate(episodes):
        steps = e.get("steps")
        if not _given(steps) or steps <= 0:
            raise ValueError(f"episode {i}: steps must be positive, got {steps!r}")
        eaten = e.get("apples_eaten")
        per_capita = float(np.mean(eaten)) if isinstance(eaten, (list, tuple, np.ndarray)) else \
            e.get("apples_eaten_per_capita")
        if not _given(per_capita):
            raise ValueError(f"episode {i}: no apples eaten ('apples_eaten' or "
                             f"'apples_eaten_per_capita')")
        rates.append(1000.0 * float(per_capita) / float(steps))
    return float(np.mean(rates)) / float(ceiling)


def _given(value: Any) -> bool:
    """Whether a summary's or a table's field holds a value (not None, not a table's NaN)."""
    return value is not None and not (isinstance(value, float) and np.isnan(value))


# ------------------------------------------------------------------ across seeds
def aggregate(scores: Mapping[Hashable, Any], reps: int = REPS, seed: int = 0) -> dict[Hashable, dict[str, Estimate]]:
    """Metrics, per arm, across its runs (seeds): the IQM (interquartile mean: the mean of the
    middle 50% of runs x tasks, rliable's `aggregate_iqm`), the mean (`aggregate_mean`: the mean
    over tasks of the mean over runs) and the median (`aggregate_median`: the median over tasks
    of the mean over runs, so with one task it equals the mean), each with a stratified-bootstrap
    95% CI (percentile) over seeds, from `rliable.library.get_interval_estimates`.

    `scores`: arm -> array [seeds] or [seeds, tasks] (e.g. normalised `run_score`s). Returns
    arm -> {"iqm", "mean", "median"} -> Estimate. The IQM is the headline: robust to an
    outlying seed, less noisy than the median. Each arm is bootstrapped on its own with a
    generator seeded by `seed`; `reps` replications (rliable's default; fewer in tests)."""
    runs = {arm: _runs(arm, raw) for arm, raw in scores.items()}
    out: dict[Hashable, dict[str, Estimate]] = {}
    for arm, (points, intervals) in zip(runs, _intervals("three", list(runs.values()), reps, seed)):
        out[arm] = {name: Estimate(float(points[k]), float(intervals[0, k]), float(intervals[1, k]))
                    for k, name in enumerate(METRICS)}
    return out


def mean_interval(scores: Mapping[Hashable, Any], reps: int = REPS, seed: int = 0) -> dict[Hashable, Estimate]:
    """The mean of `aggregate` alone, with its 95% CI: the same resamples and numbers, without
    bootstrapping the IQM and median beside it (scipy's trim_mean is most of their time), for
    intervals where only the mean is read (random play's over its episodes in a suite report)."""
    runs = {arm: _runs(arm, raw) for arm, raw in scores.items()}
    return {arm: Estimate(float(points[0]), float(intervals[0, 0]), float(intervals[1, 0]))
            for arm, (points, intervals) in zip(runs, _intervals("mean", list(runs.values()), reps, seed))}


def probability_of_improvement(scores: Mapping[Hashable, Any], pairs: Sequence[tuple[Hashable, Hashable]],
                               reps: int = POI_REPS, seed: int = 0) -> dict[tuple[Hashable, Hashable], Estimate]:
    """Metric: the probability of improvement P(X > Y) of arm X over arm Y: the probability
    that a run (seed) of X scores above a run of Y on a task, ties counting one half (the
    Mann-Whitney U statistic / (n_X n_Y)), averaged over tasks; rliable's
    `metrics.probability_of_improvement`. 1: every run of X beats every run of Y; 0.5: no
    difference; 0: every run of Y beats X's. Its 95% CI is a stratified bootstrap over the
    seeds of both arms, each resampled independently (`get_interval_estimates` on the pair).

    `scores`: arm -> array [seeds] or [seeds, tasks] (the same tasks for both arms of a pair;
    the seed counts may differ). `pairs`: (X, Y) arm pairs. Returns (X, Y) -> Estimate.
    Each pair is bootstrapped on its own with numpy's generator seeded by `seed`."""
    jobs = []
    for x, y in pairs:
        for arm in (x, y):
            if arm not in scores:
                raise ValueError(f"probability_of_improvement: no scores for arm {arm!r} "
                                 f"(arms: {', '.join(map(repr, scores))})")
        sx, sy = _runs(x, scores[x]), _runs(y, scores[y])
        if sx.shape[1] != sy.shape[1]:
            raise ValueError(f"probability_of_improvement: arms {x!r} and {y!r} have {sx.shape[1]} and "
                             f"{sy.shape[1]} tasks; a pair needs the same tasks")
        jobs.append((sx, sy))
    made = _intervals("poi", jobs, reps, seed)
    return {(x, y): Estimate(float(points[0]), float(intervals[0, 0]), float(intervals[1, 0]))
            for (x, y), (points, intervals) in zip(pairs, made)}


def performance_profile(scores: Mapping[Hashable, Any], taus, reps: int = PROFILE_REPS,
                        seed: int = 0) -> dict[Hashable, Profile]:
    """Metric: the performance profile (score distribution) of each arm: at each threshold tau,
    the fraction of its runs x tasks scoring above tau, with a stratified-bootstrap 95% band
    over seeds; rliable's `library.create_performance_profile`, one arm at a time with numpy's
    generator seeded by `seed`, so a figure drawn twice from the same scores is the same figure.

    `scores`: arm -> array [seeds] or [seeds, tasks]; `taus`: the thresholds (e.g.
    np.linspace(0, 1.2, 61) on the normalised scale). Returns arm -> Profile."""
    library, _ = _rliable()
    t = np.asarray(taus, dtype=np.float64).ravel()
    if t.size == 0 or not np.all(np.isfinite(t)):
        raise ValueError(f"performance_profile: taus must be finite numbers, got {taus!r}")
    out: dict[Hashable, Profile] = {}
    for arm, raw in scores.items():
        runs = _runs(arm, raw)
        with _seeded(seed):
            profiles, bands = library.create_performance_profile(
                {"x": runs}, t, reps=reps, confidence_interval_size=CONFIDENCE)
        band = np.asarray(bands["x"], dtype=np.float64)
        out[arm] = Profile(taus=t, fraction=np.asarray(profiles["x"], dtype=np.float64), low=band[0], high=band[1])
    return out
