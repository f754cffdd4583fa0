"""An evaluation as a library call (what `popbased evaluate run | sweep | matrix` do; the CLI
only parses and prints): `prepare` checks everything before anything starts (substrate and
grid, engine, policies, the output folder, Ray, the tracking store); `Job.run` plays every
(policy, point) pair on Ray, writes the tables, figures and report, then tracks the run in
MLflow.

    job = prepare(["runs/open/m0.pt", "random"], "open", params={}, axes={}, episodes=15,
                  output="evals/open")
    result = job.run()          # {"info", "made", "run_id", "waiting", "episodes"}
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from popbased.env import engines
from popbased.errors import BadInput
from popbased.evaluation import grid, policies as refs, results
from popbased.evaluation.policies import PolicyRef
from popbased.evaluation.run import check_matrix, evaluate as play, matrix
from popbased.rollout.cluster import check_reachable, ensure_ray
from popbased.substrates import parse_assignments, resolve
from popbased.tracking import store


@dataclass(frozen=True)
class Job:
    """A checked evaluation (see the module docstring)."""

    refs: tuple[str, ...]
    """The policy references as given."""
    policies: tuple[PolicyRef, ...]
    substrate: str
    fixed: Mapping[str, str]
    axes: Mapping[str, Sequence[str]]
    points: tuple[Mapping[str, str], ...]
    episodes: int
    seed: int
    max_steps: int | None
    envs: int | None
    env: str
    title: str
    out: Path
    uri: str
    ray_address: str | None = None
    modes: Mapping[str, int] | None = None
    """A matrix's focal seat counts by mode (resident, visitor); None: every policy alone."""

    def run(self, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
        """Plays, writes and tracks it; {"info", "made" (results.write's), "run_id", "waiting"
        (records left for `popbased tracking sync`), "episodes" (played in all)}. `progress(done, total)` after each task."""
        started_ms = int(time.time() * 1000)  # the MLflow run's start: it is created at the end
        ensure_ray(self.ray_address)
        t0 = time.perf_counter()
        kw = dict(episodes=self.episodes, seed=self.seed, max_steps=self.max_steps,
                  envs=self.envs, env=self.env, progress=progress)
        played = (play(list(self.policies), self.substrate, list(self.points), **kw)
                  if self.modes is None else
                  matrix(list(self.policies), self.substrate, self.points[0], dict(self.modes), **kw))
        seconds = time.perf_counter() - t0
        info = {"title": self.title, "substrate": self.substrate,
                "policies": [p.label for p in self.policies], "policy_refs": list(self.refs),
                "sources": [dict(p.source, label=p.label) for p in self.policies],
                "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started_ms / 1000)),
                "axes": dict(self.axes), "fixed": dict(self.fixed),
                "modes": None if self.modes is None else dict(self.modes),
                "episodes": self.episodes, "seed": self.seed, "max_steps": self.max_steps,
                "env": self.env, "seconds": seconds,
                "episodes_per_minute": 60 * self.episodes * len(played) / seconds}
        made = results.write(self.out, info, played)  # every file, the report included, then MLflow
        run_id, waiting = results.track(self.out, info, made, self.uri, started_ms=started_ms)
        return {"info": info, "made": made, "run_id": run_id, "waiting": waiting,
                "episodes": self.episodes * len(played)}


def prepare(policies: Sequence[str], substrate: str, params: Sequence[str] | Mapping[str, str],
            axes: Mapping[str, Sequence[str]], *, episodes: int, output: str, seed: int = 0,
            max_steps: int | None = None, envs: int | None = None, force: bool = False,
            ray_address: str | None = None, tracking_uri: str | None = None, title: str = "",
            modes: Mapping[str, int] | None = None, env: str = "meltingpot") -> Job:
    """Checks everything before anything starts (BadInput, one line); the Job to run."""
    fixed = parse_assignments(params) if not isinstance(params, Mapping) else dict(params)
    points = grid.points(substrate, axes, fixed)
    engines.get(env).check(resolve(substrate, points[0]))
    chosen = refs.resolve_all(policies, tracking_uri)
    if modes is not None and len(chosen) < 2:
        raise BadInput("a matrix needs at least two policies (each is focal against the others)")
    if modes is not None:
        check_matrix(chosen)
    for p in chosen:  # a population of more members than a point's seats: refused now
        for q in points:
            p.seats(resolve(substrate, q).num_players)
    out = results.check_out(output, force)
    if ray_address:
        check_reachable(ray_address)
    uri = store.resolve_uri(tracking_uri)
    store.check(uri)
    return Job(tuple(policies), tuple(chosen), substrate, fixed, dict(axes), tuple(points), episodes,
               seed, max_steps, envs, env, title or substrate, Path(out), uri, ray_address,
               None if modes is None else dict(modes))
