"""The `popbased` command. Commands parse their arguments and call the library."""

from __future__ import annotations

import sys

import click

from popbased import errors
from popbased.errors import BadInput
from popbased.cli.substrates import substrates
from popbased.cli.doctor import doctor
from popbased.cli.train import train
from popbased.cli.pbt import pbt
from popbased.cli.league import league
from popbased.cli.lineage import lineage
from popbased.cli.export import export
from popbased.cli.render import render
from popbased.cli.evaluate import evaluate
from popbased.cli.resume import resume
from popbased.cli.tracking import tracking
from popbased.cli.study import study
from popbased.cli.status import status


class _Group(click.Group):
    """Turns BadInput into one line on stderr and exit code 2, and any other exception (a bug)
    into one line saying so and where its traceback was written, exit code 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BadInput as err:
            click.echo(f"popbased: error: {err}", err=True)
            sys.exit(2)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as err:
            path = errors.write_traceback(err)
            first = (str(err).strip().splitlines() or [""])[0]
            click.echo(f"popbased: internal error: {type(err).__name__}: {first} (a bug in popbased; "
                       f"the full traceback is in {path})", err=True)
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="popbased")
def cli() -> None:
    """Evolutionary population-based training on DeepMind Melting Pot."""


cli.add_command(substrates)
cli.add_command(doctor)
cli.add_command(train)
cli.add_command(pbt)
cli.add_command(league)
cli.add_command(lineage)
cli.add_command(export)
cli.add_command(render)
cli.add_command(evaluate)
cli.add_command(resume)
cli.add_command(tracking)
cli.add_command(study)
cli.add_command(status)


def main() -> None:
    cli(prog_name="popbased")
