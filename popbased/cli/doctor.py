"""`popbased doctor`."""

from __future__ import annotations

import json

import click


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def doctor(as_json: bool) -> None:
    """What this install has: versions, GPU, DeepMind bots."""
    from popbased import doctor as doctor_lib

    report = doctor_lib.report()
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"python {report['python']}, {report['cpus']} CPUs")
    torch_line = f"torch {report['packages']['torch']} ({report.get('torch_build')} build"
    torch_line += ", CUDA available" if report.get("cuda_available") else ", no GPU in use"
    click.echo(torch_line + ")")
    for name, version in report["packages"].items():
        if name != "torch":
            click.echo(f"  {name:24s} {version or 'NOT INSTALLED'}")
    click.echo(doctor_lib.bots_line(report["bots"]))
