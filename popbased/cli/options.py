"""Options shared by the training commands (`train`, `pbt`)."""

from __future__ import annotations

import json
import signal

import click


def stop_on_sigterm() -> None:
    """Schedulers stop jobs with SIGTERM: stop like on Ctrl-C (checkpoints are kept). Call it
    after Ray has started, which installs its own handler."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def training(command):
    """--device --seed --workers --envs-per-worker --rollout-length --lstm --env --ray-address --json"""
    options = [
        click.option("--device", default="auto", show_default=True,
                     help="Learner device: auto, cpu, cuda."),
        click.option("--seed", default=0, show_default=True, type=int),
        click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1),
                     help="Rollout workers (Ray actors)."),
        click.option("--envs-per-worker", default=None, type=click.IntRange(min=1),
                     help="Envs per worker [default: 2 on meltingpot, 10 on fast]."),
        click.option("--rollout-length", default=None, type=click.IntRange(min=1),
                     help="Steps per env per round (batch = workers x envs x players x length) "
                          "[default: 250 on meltingpot, 50 on fast]."),
        click.option("--lstm", default=0, show_default=True, type=click.IntRange(min=0),
                     help="LSTM size (0 = none)."),
        click.option("--env", "env", default="auto", show_default=True,
                     type=click.Choice(["auto", "fast", "meltingpot"]),
                     help="Env engine to train on: the fast commons_harvest (torch, on the "
                          "learner's device; validated against Melting Pot by `popbased "
                          "substrates validate`), or Melting Pot itself; auto: fast where the "
                          "substrate has it (the commons_harvest family)."),
        click.option("--ray-address", default=None,
                     help="Join this Ray cluster (default: RAY_ADDRESS, else local)."),
        click.option("--json", "as_json", is_flag=True, help="Print the final report as JSON."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def summary(console, result: dict, as_json: bool, resume_hint: str, folder: str) -> bool:
    """The end of a training command: the report as JSON, or a few lines. Returns whether
    the caller should print more (not in JSON mode)."""
    from popbased.textio import json_safe

    if as_json:
        click.echo(json.dumps(json_safe(result), indent=2, default=str))
        return False
    if result.get("interrupted"):
        console.print(f"[yellow]interrupted after generation {result['generation']}; continue with "
                      f"{resume_hint}[/]")
    console.print(f"{result['generation']} generations, {result['agent_steps']:,} agent-steps in "
                  f"{result['elapsed_s']:.0f} s; {folder}")
    return True


TRACKING = click.option("--tracking-uri", default=None,
                        help="MLflow tracking URI (default: MLFLOW_TRACKING_URI, else ./mlflow.db; "
                             "resume: the run's own).")


def tracking_line(console, store, experiment: str) -> None:
    from popbased.tracking.store import BUFFER

    waiting = store.pending()
    console.print(f"MLflow ({store.uri}): experiment {experiment}" + (
        f"; [yellow]{waiting} records wait in {store.folder / BUFFER}, sent on resume[/]"
        if waiting else ""), highlight=False)


def env_line(console, config) -> None:
    """The first line of a training command: which engine it trains on."""
    if config.env == "fast":
        console.print("training on the fast commons_harvest (torch, validated against Melting Pot; "
                      "--env meltingpot trains on Melting Pot itself)", highlight=False)
    else:
        console.print(f"training on Melting Pot ({config.substrate})", highlight=False)


def resuming(command):
    """FOLDER --generations --workers --device --ray-address --tracking-uri --json (resume)."""
    options = [
        click.argument("folder", type=click.Path(file_okay=False)),
        click.option("--generations", type=click.IntRange(min=1), default=None,
                     help="Generations to complete in total (default: one more than done)."),
        click.option("--workers", type=click.IntRange(min=1), default=None,
                     help="Rollout workers (default: as launched)."),
        click.option("--device", default=None, help="Learner device (default: as launched)."),
        click.option("--ray-address", default=None,
                     help="Join this Ray cluster (default: RAY_ADDRESS, else local)."),
        TRACKING,
        click.option("--json", "as_json", is_flag=True, help="Print the final report as JSON."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def changed(workers, device) -> dict:
    """What a resume changes of the launch options."""
    return {k: v for k, v in (("workers", workers), ("device", device)) if v}
