"""Options shared by the training commands (`train`, `pbt`, `league launch`).

Options that set a field of a config dataclass (TrainConfig, NetConfig) are built from that
field (`field_option`): its default and its docstring (the string right after the field) are
the option's default and help, so both are written once, in the dataclass.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import json
import signal
import textwrap

import click

from popbased.ppo.config import NetConfig
from popbased.env.engines import ENVS
from popbased.selfplay import TrainConfig


@functools.cache
def field_docs(cls) -> dict[str, str]:
    """field name -> its docstring (whitespace collapsed) for the fields of dataclass `cls`
    that have one."""
    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body
    docs = {}
    for node, after in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def field_option(cls, name: str, *decls: str, **attrs):
    """A click option for field `name` of config dataclass `cls`: `--name-with-dashes`
    (or `decls`), the field's default (shown unless None) and its docstring as help. `attrs`
    add what parsing needs (type, ...); a bool field becomes an `--x/--no-x` switch."""
    field = {f.name: f for f in dataclasses.fields(cls)}[name]
    default = None if field.default is dataclasses.MISSING else field.default
    flag = "--" + name.replace("_", "-")
    if not decls:
        decls = (f"{flag}/--no-{flag[2:]}",) if isinstance(default, bool) else (flag,)
    attrs = {"default": default, "show_default": default is not None,
             "help": field_docs(cls).get(name), **attrs}
    return click.option(*decls, name, **attrs)


def config_option(name: str, *decls: str, **attrs):
    """`field_option` of TrainConfig."""
    return field_option(TrainConfig, name, *decls, **attrs)


def stop_on_sigterm() -> None:
    """Schedulers stop jobs with SIGTERM: stop like on Ctrl-C (checkpoints are kept). Call it
    after Ray has started, which installs its own handler."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def training(command):
    """--device --seed --workers --envs-per-worker --rollout-length --lstm --env --ray-address --json"""
    options = [
        config_option("device"),
        config_option("seed", type=int),
        config_option("workers", type=click.IntRange(min=1)),
        config_option("envs_per_worker", type=click.IntRange(min=1)),
        config_option("rollout_length", type=click.IntRange(min=1)),
        field_option(NetConfig, "lstm", type=click.IntRange(min=0)),
        config_option("env", type=click.Choice(ENVS)),
        config_option("ray_address"),
        click.option("--json", "as_json", is_flag=True, help="Print the final report as JSON."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def summary(console, result: dict, as_json: bool, resume_hint: str, folder: str,
            diagnostics=None) -> bool:
    """The end of a training command: the report as JSON, or a few lines on `console` (the
    results': stdout), the note that it was interrupted on `diagnostics` (stderr; default:
    `console`). Returns whether the caller should print more (not in JSON mode)."""
    from popbased.textio import json_safe

    if as_json:
        click.echo(json.dumps(json_safe(result), indent=2, default=str))
        return False
    if result.get("interrupted"):
        (diagnostics or console).print(f"[yellow]interrupted after generation "
                                       f"{result['generation']}; continue with {resume_hint}[/]")
    console.print(f"{result['generation']} generations, {result['agent_steps']:,} agent-steps in "
                  f"{result['elapsed_s']:.0f} s; {folder}", highlight=False)
    return True


TRACKING = click.option("--tracking-uri", default=None,
                        help="MLflow tracking URI (default: MLFLOW_TRACKING_URI, else ./mlflow.db; "
                             "resume: the run's own).")


def tracking_line(console, store, experiment: str) -> None:
    from popbased.tracking.store import BUFFER, ui_hint

    waiting, status = store.pending(), store.unsettled
    ending = f"the runs end {status} when it answers" if status and status != "RUNNING" else ""
    what = f"{waiting} records wait in {store.folder / BUFFER}" if waiting else ""
    console.print(f"MLflow ({store.uri}): experiment {experiment}" + (
        f"; [yellow]{', '.join(filter(None, (what, ending)))}: `popbased tracking sync "
        f"{store.folder}` sends it[/]" if what or ending else ""), highlight=False)
    console.print(f"  to view it: {ui_hint(store.uri, store.runs.get('experiment_id'))}",
                  highlight=False, soft_wrap=True)


def env_line(console, config) -> None:
    """The first line of a training command: which engine it trains on."""
    console.print(config.engine.training_line(config.substrate), highlight=False)


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
