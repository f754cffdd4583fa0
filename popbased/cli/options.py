"""Options shared by the commands: the flag vocabulary, and the training commands' options
(`train`, `pbt`, `league launch`).

The same thing has the same flag in every command: `-o/--out` an output folder or file,
`--episodes/-n` a number of episodes, `--max-episode-steps` where episodes are cut,
`--total-steps` a training budget, `--device` a learner device. Spellings a release renamed
still parse (`Option`'s `old`), unshown in --help and completion.

Options that set a field of a config dataclass (TrainConfig, NetConfig) are built from that
field (`field_option`): its default and its docstring (the string right after the field) are
the option's default and help, so both are written once, in the dataclass. They are read from
the dataclass's source, not by importing it (popbased.selfplay imports torch; see the start-up
note in popbased/cli/__init__.py).
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import json
import re
import signal
from pathlib import Path

import click
from click.shell_completion import CompletionItem

from popbased.env.engines import ENGINES, ENVS

TRAIN_CONFIG = "popbased.selfplay:TrainConfig"
NET_CONFIG = "popbased.ppo.config:NetConfig"
NO_DEFAULT = object()
"""A field without a literal default (`field(default_factory=...)`, `PPOConfig()`, none)."""


def _where(cls) -> tuple[str, str]:
    if isinstance(cls, str):
        module, name = cls.split(":")
        return module, name
    return cls.__module__, cls.__qualname__


def _source(module: str) -> ast.Module:
    """The syntax tree of `module`'s source file (found, not imported)."""
    return ast.parse(Path(importlib.util.find_spec(module).origin).read_text())


@functools.cache
def module_constant(module: str, name: str):
    """The literal value of `name`, assigned at the top level of `module`, read from its source
    (a choice list of a library module that imports torch, for an option's click.Choice)."""
    for node in _source(module).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == name):
            return ast.literal_eval(node.value)
    raise LookupError(f"{module} assigns no literal {name}")


@functools.cache
def _fields(module: str, name: str) -> dict[str, tuple[object, str | None]]:
    """field -> (default, docstring) of dataclass `name` in `module`, from its source file:
    the default when it is a literal (else NO_DEFAULT), the docstring whitespace-collapsed."""
    cls = next(node for node in _source(module).body
               if isinstance(node, ast.ClassDef) and node.name == name)
    fields = {}
    for node, after in zip(cls.body, [*cls.body[1:], None]):
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        try:
            default = NO_DEFAULT if node.value is None else ast.literal_eval(node.value)
        except ValueError:
            default = NO_DEFAULT
        doc = (" ".join(after.value.value.split()) if isinstance(after, ast.Expr)
               and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)
               else None)
        fields[node.target.id] = (default, doc)
    return fields


def field_docs(cls) -> dict[str, str]:
    """field name -> its docstring (whitespace collapsed) for the fields of dataclass `cls`
    (the class, or "module:Class") that have one."""
    return {k: doc for k, (_, doc) in _fields(*_where(cls)).items() if doc is not None}


def field_default(cls, name: str):
    """The literal default of field `name` of dataclass `cls` (the class, or "module:Class")."""
    default = _fields(*_where(cls))[name][0]
    if default is NO_DEFAULT:
        raise TypeError(f"{cls}.{name} has no literal default to show as an option's")
    return default


class Option(click.Option):
    """A click option that also takes its `old` spellings, kept working for a release after a
    rename: they parse as the option does, but --help, completion and error messages show
    only the current ones."""

    def __init__(self, param_decls, old: tuple[str, ...] = (), **attrs):
        super().__init__(param_decls, **attrs)
        self.old = tuple(old)

    def add_to_parser(self, parser, ctx: click.Context) -> None:
        shown = self.opts
        self.opts = [*shown, *self.old]
        try:
            super().add_to_parser(parser, ctx)
        finally:
            self.opts = shown


def option(*decls: str, old: tuple[str, ...] = (), **attrs):
    """click.option with the old spellings `old` still taken, unshown (see `Option`)."""
    return click.option(*decls, cls=Option, old=old, **attrs)


def out_option(help: str, old: tuple[str, ...] = (), **attrs):
    """-o/--out: the folder (or file) a command writes; `old`: its former spellings."""
    return option("-o", "--out", "out", old=old, help=help, **attrs)


def episodes_option(default: int | None, help: str, old: tuple[str, ...] = (), minimum: int = 1,
                    **attrs):
    """--episodes/-n: how many episodes to play."""
    return option("--episodes", "-n", "episodes", old=old, default=default,
                  show_default=default is not None, type=click.IntRange(min=minimum), help=help,
                  **attrs)


def max_episode_steps_option(help: str = "Cut each episode after this many steps (default: "
                             "play to its end).", old: tuple[str, ...] = ()):
    """--max-episode-steps: where episodes are cut; `old`: its former spellings."""
    return option("--max-episode-steps", "max_episode_steps", old=old, default=None,
                  type=click.IntRange(min=1), help=help)


class Device(click.ParamType):
    """A learner device: auto, cpu, cuda or cuda:N (popbased.ppo.learner.resolve_device);
    completion offers them."""

    name = "device"
    CHOICES = ("auto", "cpu", "cuda")

    def get_metavar(self, param, ctx=None) -> str:
        return "[auto|cpu|cuda|cuda:N]"

    def convert(self, value, param, ctx):
        if value in self.CHOICES or re.fullmatch(r"cuda:\d+", str(value)):
            return value
        self.fail(f"{value!r}: allowed are auto, cpu, cuda, cuda:N", param, ctx)

    def shell_complete(self, ctx, param, incomplete: str) -> list[CompletionItem]:
        return [CompletionItem(c) for c in (*self.CHOICES, "cuda:0") if c.startswith(incomplete)]


DEVICE = Device()
ENGINE_CHOICE = click.Choice(list(ENGINES))
"""--env of the commands that play (evaluate, substrates): an engine, no 'auto'."""


def complete_run(ctx, param, incomplete: str) -> list[CompletionItem]:
    """Completion of a run folder or league name (popbased.runs.refs.complete_league), the
    library loaded only when completing."""
    from popbased.runs import refs

    return refs.complete_league(ctx, param, incomplete)


def complete_member(ctx, param, incomplete: str) -> list[CompletionItem]:
    """Completion of RUN/MEMBER (popbased.runs.refs.complete_member)."""
    from popbased.runs import refs

    return refs.complete_member(ctx, param, incomplete)


def field_option(cls, name: str, *decls: str, old: tuple[str, ...] = (), **attrs):
    """A click option for field `name` of config dataclass `cls` (the class, or
    "module:Class"): `--name-with-dashes` (or `decls`), the field's default (shown unless
    None) and its docstring as help. `attrs` add what parsing needs (type, ...); a bool field
    becomes an `--x/--no-x` switch; `old`: former spellings (see `Option`)."""
    default = field_default(cls, name)
    flag = "--" + name.replace("_", "-")
    if not decls:
        decls = (f"{flag}/--no-{flag[2:]}",) if isinstance(default, bool) else (flag,)
    attrs = {"default": default, "show_default": default is not None,
             "help": field_docs(cls).get(name), **attrs}
    return option(*decls, name, old=old, **attrs)


def config_option(name: str, *decls: str, **attrs):
    """`field_option` of TrainConfig."""
    return field_option(TRAIN_CONFIG, name, *decls, **attrs)


def stop_on_sigterm() -> None:
    """Schedulers stop jobs with SIGTERM: stop like on Ctrl-C (checkpoints are kept). Call it
    after Ray has started, which installs its own handler."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def training(command):
    """--device --seed --workers --envs-per-worker --rollout-length --lstm --env --ray-address --json"""
    options = [
        config_option("device", type=DEVICE),
        config_option("seed", type=int),
        config_option("workers", type=click.IntRange(min=1)),
        config_option("envs_per_worker", type=click.IntRange(min=1)),
        config_option("rollout_length", type=click.IntRange(min=1)),
        field_option(NET_CONFIG, "lstm", type=click.IntRange(min=0)),
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


def run_prepared(prepared, out: str, label: str, folder: str, as_json: bool, on_generation):
    """A prepared PBT or league run (popbased.runs.launch) run with the progress display: its
    engine line, a moved-aside note, the bar per round, `on_generation(console, summary)` per
    generation, then its MLflow and summary lines (`out`: its folder, as the user named it).
    Returns (result, the results' console: stdout)
    when the caller should print more, else None (JSON printed)."""
    from popbased.cli import progress
    from popbased.cli.progress import TrainDisplay
    from popbased.cli.tracking import moved_line

    console = progress.console(stderr=True)  # progress and diagnostics
    results = progress.console()  # what the run ended with
    if not as_json:
        env_line(console, prepared.config)
    prepared.open()
    if prepared.moved:
        console.print(moved_line(out, prepared.moved), markup=False, highlight=False)
    with TrainDisplay(prepared.config.steps, label, console,
                      first=progress.first_episode(prepared.config)) as display:
        # SIGTERM (schedulers) stops like Ctrl-C: completed generations are kept
        result = prepared.run(on_round=display.update,
                              on_generation=lambda summary: on_generation(console, summary),
                              on_started=stop_on_sigterm)
    tracking_line(console if as_json else results, prepared.tracking.store, prepared.experiment)
    if not summary(results, result, as_json, f"`popbased resume {out}`", f"{folder} {out}", console):
        return None
    return result, results


FORCE = click.option("--force", is_flag=True, help="If --out holds another run, move it aside to "
                     "OUT.old-TIME and start afresh.")
"""--force of the commands that write a run folder (popbased.runs.claim)."""

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
        click.option("--device", default=None, type=DEVICE,
                     help="Learner device (default: as launched)."),
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
