"""Launching and resuming runs as library calls (the CLI only parses options and prints).

A run is first settled (popbased.run.plan.settle: a RunPlan from its launch options); then
`prepare(plan)` checks everything that needs the file system or the network before anything
is written (the output folder is claimed, a resumed folder's state and tracking store are
checked); `Prepared.open` gives the run folder its options.json (the plan written down) and
traceback log and opens the MLflow runs of a PBT run or league (or reopens them, with what a
killed run had committed but not yet logged); `Prepared.run` starts Ray when the run needs it
and trains, closing the MLflow runs (the run's and every member's) FINISHED, KILLED (Ctrl-C,
SIGTERM) or FAILED (with the error); when the tracking store is away at the end, the status
waits in tracking.json with the records and is applied when they are sent (`popbased tracking
sync`). `train` runs are not tracked in MLflow.

    prepared = prepare_pbt("populations/no_zap.toml", opts, out="runs/nz", resume=False)
    prepared.open()                 # options.json, traceback log, MLflow runs (run() would)
    result = prepared.run(on_round=print)

`opts` are the launch options as options.json keeps them (seed, device, workers,
envs_per_worker, rollout_length, lstm, env, ...); a resume reads them back (`resume_plan`)
with the few a resume may change (workers, device).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Callable

from popbased import errors
from popbased.league import run as league_run
from popbased.population import run as pbt_run
from popbased.rollout.cluster import check_reachable, ensure_ray
from popbased.run.plan import RunPlan, settle
from popbased.runs.claim import claim
from popbased.runs import state as files
from popbased.selfplay import uses_ray
from popbased.textio import json_safe, write_atomic
from popbased.tracking import move, store
from popbased.tracking.league import LeagueTracking
from popbased.tracking.pbt import PbtTracking


class Untracked:
    """The tracking of a run MLflow does not hold (`train`)."""

    store = None

    def generation(self, summary) -> None:
        """Nothing is logged."""

    def close(self, **outcome) -> None:
        """Nothing to end."""


@dataclasses.dataclass
class Prepared:
    """A run whose plan and folder are checked; `open` writes its folder's files and opens its
    MLflow runs, `run` trains it."""

    plan: RunPlan
    opener: Callable[[], Any]
    """Writes the folder's options.json and traceback log, opens the MLflow runs."""
    tracking: Any = None
    moved: dict | None = None
    """What opening copied from the folder's old store with `move_to_store` (tracking.move)."""

    @property
    def kind(self) -> str:
        return self.plan.kind

    @property
    def spec(self):
        return self.plan.spec

    @property
    def config(self):
        return self.plan.config

    @property
    def generations(self) -> int:
        return self.plan.generations

    @property
    def resume(self) -> bool:
        return self.plan.resume

    @property
    def out(self) -> Path:
        return self.plan.out

    @property
    def experiment(self) -> str:
        return f"{self.kind}-{self.plan.name}"

    def open(self) -> "Prepared":
        """The folder's files and the MLflow runs (once; `run` opens them if not yet)."""
        if self.tracking is None:
            self.tracking = self.opener()
        return self

    def start_ray(self) -> None:
        """Starts or joins Ray when the run needs it (Melting Pot, or a cluster)."""
        if uses_ray(self.config):
            ensure_ray(self.config.ray_address)

    def run(self, on_round: Callable | None = None, on_generation: Callable | None = None,
            on_started: Callable[[], Any] | None = None) -> dict[str, Any]:
        """Starts Ray when needed (then `on_started()`, e.g. a SIGTERM handler, which must come
        after Ray's own), trains until `generations` are complete (every generation reaches
        MLflow before `on_generation` sees it), and ends the MLflow runs with the outcome."""

        def generation(summary) -> None:
            self.tracking.generation(summary)
            if on_generation:
                on_generation(summary)

        self.open()
        try:
            self.start_ray()
            if on_started:
                on_started()
            result = self.plan.run(on_round=on_round, on_generation=generation)
        except Exception as err:  # completed generations stay committed and resumable
            first = (str(err).strip().splitlines() or [""])[0]
            self.tracking.close(error=f"{type(err).__name__}: {first}")
            raise
        except BaseException:  # Ctrl-C or SIGTERM outside the training loop (Ray's own
            self.tracking.close(interrupted=True)  # handler exits): the runs end KILLED
            raise
        self.tracking.close(interrupted=bool(result.get("interrupted")))
        return result


def prepare(plan: RunPlan, *, tracking_uri: str | None = None, force: bool = False,
            move_to_store: bool = False, tracked: dict | None = None) -> Prepared:
    """The checks before anything is written: the output folder is claimed (a folder holding
    another run is refused, or with `force` moved aside: popbased.runs.claim), a resumed one
    must hold this run's state, Ray and the tracking store must answer (a resumed folder stays
    in the store its tracking.json names, or with `move_to_store` moves to `tracking_uri`).
    `tracked`: the options MLflow logs (default: the plan's)."""
    out = plan.out
    claim(out, plan.kind, resume=plan.resume, force=force)
    if plan.kind == "pbt":
        pbt_run.check_out(plan.spec, out, plan.resume, plan.generations)
    elif plan.kind == "league":
        league_run.check_out(plan.spec, out, plan.resume, plan.generations)
    if plan.config.ray_address:
        check_reachable(plan.config.ray_address)
    tracked = {k: v for k, v in (plan.options if tracked is None else tracked).items()
               if k != "command"}
    if plan.kind == "train":
        uri = moving_from = None
    else:
        uri, moving_from = move.chosen_store(out, tracking_uri, move_to_store)
        store.check(uri)

    def opener():
        prepared.moved = move.move(out, moving_from, uri) if moving_from else None
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / "options.json", json.dumps(json_safe(dict(plan.options)), indent=1).encode())
        errors.log_into(out)
        if plan.kind == "train":
            return Untracked()
        tracking = (PbtTracking if plan.kind == "pbt" else LeagueTracking)(uri, out, plan.spec, tracked)
        if plan.resume:  # a generation committed but not yet logged when the run was killed
            tracking.catch_up(files.lines(out, "generations.jsonl"),
                              files.read(out, "PBT" if plan.kind == "pbt" else "league")["generation"])
        return tracking

    prepared = Prepared(plan, opener)
    return prepared


def prepare_train(opts: dict, *, force: bool = False, ray_address: str | None = None) -> Prepared:
    """A train run of `opts` (a substrate, steps, ...; see popbased.run.plan.settle)."""
    return prepare(settle({**opts, "command": "train"}, ray_address=ray_address), force=force)


def prepare_pbt(population: str, opts: dict, *, out: str | None = None, resume: bool = False,
                tracking_uri: str | None = None, ray_address: str | None = None,
                force: bool = False, move_to_store: bool = False) -> Prepared:
    """A PBT run of POPULATION (a populations/*.toml file) in `out` (default:
    runs/pbt-NAME-TIME); `opts["generations"]` in total (see `prepare`)."""
    plan = settle({**opts, "command": "pbt", "population": population, "out": out},
                  resume=resume, ray_address=ray_address)
    tracked = {k: v for k, v in opts.items() if k not in ("population", "steps_per_generation")}
    return prepare(plan, tracking_uri=tracking_uri, force=force, move_to_store=move_to_store,
                   tracked=tracked)


def prepare_league(opts: dict, generations: int, *, resume: bool = False,
                   tracking_uri: str | None = None, ray_address: str | None = None,
                   force: bool = False, move_to_store: bool = False) -> Prepared:
    """The league of `opts["league"]` in `opts["out"]`, to `generations` in total (see
    `prepare`)."""
    plan = settle({**opts, "command": "league", "generations": generations}, resume=resume,
                  ray_address=ray_address)
    return prepare(plan, tracking_uri=tracking_uri, force=force, move_to_store=move_to_store,
                   tracked={k: v for k, v in opts.items() if k != "generations"})
