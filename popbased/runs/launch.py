"""Launching and resuming PBT runs and leagues as library calls (the CLI only parses options
and prints): `prepare_*` checks everything before anything is written; `Prepared.open` gives
the run folder its options.json and traceback log and opens the MLflow runs (or reopens
them, with what a killed run had committed but not yet logged); `Prepared.run` trains,
closing the MLflow runs (the run's and every member's) FINISHED, KILLED (Ctrl-C, SIGTERM) or
FAILED (with the error); when the tracking store is away at the end, the status waits in
tracking.json with the records and is applied when they are sent (`popbased tracking sync`).

    prepared = prepare_pbt("populations/no_zap.toml", opts, out="runs/nz", resume=False)
    prepared.open()                 # options.json, traceback log, MLflow runs (run() would)
    result = prepared.run(on_round=print)

`opts` are the launch options as options.json keeps them (seed, device, workers,
envs_per_worker, rollout_length, lstm, env, ...); a resume reads them back
(`resume_options`) with the few a resume may change (workers, device).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Callable

from popbased import errors
from popbased.ppo.config import NetConfig
from popbased.rollout.cluster import check_reachable, ensure_ray
from popbased.runs import state as files
from popbased.runs.claim import claim
from popbased.selfplay import uses_ray, validate
from popbased.tracking import move, store


@dataclasses.dataclass
class Prepared:
    """A PBT run or league whose inputs are checked and whose folder and MLflow runs are
    open; `run` trains it."""

    kind: str  # "pbt" | "league"
    spec: Any
    config: Any
    generations: int
    resume: bool
    runner: Callable[..., dict]
    opener: Callable[[], Any]
    """Writes the folder's options.json and traceback log, opens the MLflow runs."""
    tracking: Any = None
    moved: dict | None = None
    """What opening copied from the folder's old store with `move_to_store` (tracking.move)."""

    @property
    def out(self) -> Path:
        return Path(self.config.out)

    @property
    def experiment(self) -> str:
        return f"{self.kind}-{self.spec.name}"

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
            result = self.runner(self.spec, self.config, self.generations, resume=self.resume,
                                 on_round=on_round, on_generation=generation)
        except Exception as err:  # completed generations stay committed and resumable
            first = (str(err).strip().splitlines() or [""])[0]
            self.tracking.close(error=f"{type(err).__name__}: {first}")
            raise
        except BaseException:  # Ctrl-C or SIGTERM outside the training loop (Ray's own
            self.tracking.close(interrupted=True)  # handler exits): the runs end KILLED
            raise
        self.tracking.close(interrupted=bool(result.get("interrupted")))
        return result


def _config(train_config, spec, generations: int, opts: dict, out: str, ray_address, **extra):
    # options.json of folders from before `env` existed has none: those runs played Melting Pot
    return train_config(spec, generations, workers=opts["workers"],
                        envs_per_worker=opts["envs_per_worker"],
                        rollout_length=opts["rollout_length"], device=opts["device"],
                        seed=opts["seed"], net=NetConfig(lstm=opts["lstm"]), out=out,
                        ray_address=ray_address, env=opts.get("env") or "meltingpot", **extra)


def _check(out: Path, tracking_uri: str | None, ray_address: str | None,
           move_to_store: bool = False) -> tuple[str, str | None]:
    """The checks that need the network (Ray, MLflow); (the tracking URI, the store the
    folder's runs are to move from, or None). A folder stays in the store its tracking.json
    names: another `tracking_uri` is refused unless `move_to_store` (tracking.move)."""
    if ray_address:
        check_reachable(ray_address)
    uri, moving_from = move.chosen_store(out, tracking_uri, move_to_store)
    store.check(uri)
    return uri, moving_from


def _moved(out: Path, moving_from: str | None, uri: str) -> dict | None:
    """The folder's runs copied into the store at `uri` (when they move), tracking.json naming it."""
    return move.move(out, moving_from, uri) if moving_from else None




def _write(out: Path, opts: dict) -> None:
    """The folder's own files: options.json (what a resume reads), the traceback log."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "options.json").write_text(json.dumps(opts, indent=1))
    errors.log_into(out)


def prepare_pbt(population: str, opts: dict, *, out: str | None = None, resume: bool = False,
                tracking_uri: str | None = None, ray_address: str | None = None,
                force: bool = False, move_to_store: bool = False) -> Prepared:
    """A PBT run of POPULATION (a populations/*.toml file) in `out` (default:
    runs/pbt-NAME-TIME); `opts["generations"]` in total. A folder holding another run is
    refused, or with `force` moved aside (`popbased.runs.claim`); a resumed one stays in its
    tracking store, or with `move_to_store` moves to `tracking_uri` (`_check`)."""
    from popbased.population.run import check_out, read_state, run, train_config
    from popbased.population.spec import load
    from popbased.tracking.pbt import PbtTracking

    spec = load(population)
    if opts.get("steps_per_generation"):
        spec = dataclasses.replace(spec, steps_per_generation=opts["steps_per_generation"])
    out = out or f"runs/pbt-{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    generations = opts["generations"]
    config = _config(train_config, spec, generations, opts, out, ray_address,
                     max_episode_steps=opts["max_episode_steps"])
    validate(config)
    claim(out, "pbt", resume=resume, force=force)
    check_out(spec, Path(out), resume, generations)
    uri, moving_from = _check(Path(out), tracking_uri, ray_address, move_to_store)

    def opener():
        prepared.moved = _moved(Path(out), moving_from, uri)
        _write(Path(out), {**opts, "out": out})
        tracking = PbtTracking(uri, Path(out), spec, {k: v for k, v in opts.items()
                                                      if k not in ("population", "steps_per_generation")})
        if resume:  # a generation committed but not yet logged when the run was killed
            tracking.catch_up(files.lines(Path(out), "generations.jsonl"),
                              read_state(Path(out))["generation"])
        return tracking

    prepared = Prepared("pbt", spec, config, generations, resume, run, opener)
    return prepared


def league_spec(opts: dict):
    """The league file of `opts`, with the options that override it."""
    from popbased.league.spec import load

    spec = load(opts["league"])
    changes = {k: opts[k] for k in ("steps_per_generation", "episode_steps") if opts.get(k)}
    return dataclasses.replace(spec, **changes)


def prepare_league(opts: dict, generations: int, *, resume: bool = False,
                   tracking_uri: str | None = None, ray_address: str | None = None,
                   force: bool = False, move_to_store: bool = False) -> Prepared:
    """The league of `opts["league"]` in `opts["out"]`, to `generations` in total. A folder
    holding another run is refused, or with `force` moved aside (`popbased.runs.claim`); a
    resumed one stays in its tracking store, or with `move_to_store` moves to `tracking_uri`
    (`_check`)."""
    from popbased.league.run import check_out, run, train_config
    from popbased.tracking.league import LeagueTracking

    spec = league_spec(opts)
    out = opts["out"]
    config = _config(train_config, spec, generations, opts, out, ray_address)
    claim(out, "league", resume=resume, force=force)
    check_out(spec, Path(out), resume, generations)
    uri, moving_from = _check(Path(out), tracking_uri, ray_address, move_to_store)

    def opener():
        prepared.moved = _moved(Path(out), moving_from, uri)
        _write(Path(out), opts)
        tracking = LeagueTracking(uri, Path(out), spec, opts)
        if resume:  # a generation committed but not yet logged when the run was killed
            tracking.catch_up(files.lines(Path(out), "generations.jsonl"),
                              files.read(Path(out))["generation"])
        return tracking

    prepared = Prepared("league", spec, config, generations, resume, run, opener)
    return prepared


def resume_options(folder: Path, opts: dict, generations: int | None, changes: dict) -> tuple[dict, int]:
    """(the launch options with a resume's `changes`, the generations to complete in total:
    `generations`, or one more than the folder has done)."""
    done = files.read(folder)["generation"]
    return {**opts, **changes, "out": str(folder)}, generations or done + 1
