"""The `popbased` command. Commands parse their arguments and call the library.

Start-up is kept short (`popbased --help`, `popbased CMD --help` and every shell-completion
press start a fresh process): the commands are loaded on demand (`_Group`: a completion of
`popbased tr` loads `train` and `tracking` only), and the CLI's modules import at their top
only click, the standard library and light popbased modules (no torch, Ray, MLflow, pandas,
numpy, rich). Here, unlike in the rest of popbased, imports inside functions are the rule:
a command imports the library it calls in its body. Config defaults and help that options
show are read from the library's source without importing it (options.field_docs).
scripts/bench_cli measures the start-up (bench/cli_startup.json).
"""

from __future__ import annotations

import importlib
import os
import sys

import click

COMMANDS = ("doctor", "evaluate", "experiment", "export", "league", "lineage", "pbt", "render",
            "resume", "status", "study", "substrates", "tracking", "train")
"""The commands; each is the click command of that name in popbased.cli.<name>."""


def _usage_error(err: click.UsageError) -> None:
    """A click usage error (a bad option value, an unknown option or command) as one line on
    stderr, exit code 2, like BadInput."""
    where = f" (see `{err.ctx.command_path} --help`)" if err.ctx is not None else ""
    click.echo(f"popbased: error: {err.format_message()}{where}", err=True)
    sys.exit(2)


class _Group(click.Group):
    """Loads a command's module when the command is asked for (`COMMANDS`). Turns BadInput and
    click's usage errors into one line on stderr and exit code 2, and any other exception (a
    bug) into one line saying so and where its traceback was written, exit code 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        return getattr(importlib.import_module(f"popbased.cli.{name}"), name)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as err:
            _usage_error(err)

    def invoke(self, ctx: click.Context):
        from popbased import errors
        from popbased.errors import BadInput

        try:
            return super().invoke(ctx)
        except BadInput as err:
            click.echo(f"popbased: error: {err}", err=True)
            sys.exit(2)
        except click.UsageError as err:
            _usage_error(err)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except BrokenPipeError:  # the reader went away (`popbased ... | head`): not a bug
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
            sys.exit(1)
        except Exception as err:
            path = errors.write_traceback(err)
            first = (str(err).strip().splitlines() or [""])[0]
            click.echo(f"popbased: internal error: {type(err).__name__}: {first} (a bug in popbased; "
                       f"the full traceback is in {path})", err=True)
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="popbased")
def cli() -> None:
    """Evolutionary population-based training on DeepMind Melting Pot.

    \b
    From nothing to an evaluated champion (the README's quick start):
      popbased substrates list
      popbased pbt populations/open.toml --generations 2 -o runs/quick
      popbased status runs/quick
      popbased export champion runs/quick -o runs/champions
      popbased evaluate run runs/champions/open random -n 2 -o runs/eval-quick
    """


def main() -> None:
    cli(prog_name="popbased")
