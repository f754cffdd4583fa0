"""`popbased lineage show | tree`: a member's ancestry and a run's family tree, from the
run folder of `popbased pbt` or `popbased league`."""

from __future__ import annotations

from pathlib import Path

import click

from popbased.cli import options
from popbased.errors import BadInput

LOG = "lineage.jsonl"


def _log(folder: Path):
    """The LineageLog of a PBT or league folder."""
    from popbased.population.lineage import LineageLog

    if not (folder / LOG).is_file():
        raise BadInput(f"{folder}: not a PBT or league folder (no {LOG})")
    return LineageLog(folder / LOG)


def _folder(ref: str) -> Path:
    """A run folder, or a league name / MLflow run id that names one."""
    from popbased.runs import refs

    if (Path(ref) / LOG).is_file():
        return Path(ref)
    if Path(ref).is_dir():
        raise BadInput(f"{ref}: not a PBT or league folder (no {LOG})")
    return refs.league(ref).path


def resolve_member(ref: str) -> tuple:
    """'RUN_FOLDER/MEMBER' (a league member is POP/mK: runs/commons/open/m1), LEAGUE_NAME/MEMBER
    or a member's MLflow run id -> (folder, member id, LineageLog)."""
    from popbased.runs import refs

    path = Path(ref)
    for depth in range(1, len(path.parts)):
        folder, member = Path(*path.parts[:-depth]), "/".join(path.parts[-depth:])
        if (folder / LOG).is_file():
            log = _log(folder)
            members = sorted({e.member for e in log.events})
            if member not in members:
                raise BadInput(f"{ref}: no member {member!r} in {folder}; members: {', '.join(members)}")
            return folder, member, log
    run, member = refs.member(ref)
    return run.path, member, _log(run.path)


@click.group()
def lineage() -> None:
    """Ancestry of members and family trees of runs.

    Of PBT runs and leagues (their lineage.jsonl).
    """


@lineage.command()
@click.argument("member", shell_complete=options.complete_member)
def show(member):
    """A member's history, generation by generation.

    MEMBER is RUN_FOLDER/MEMBER_ID (e.g. runs/commons/open/m1), LEAGUE_NAME/MEMBER_ID or the
    member's MLflow run id.
    """
    from popbased.cli import progress

    from popbased.population.report import lineage_lines

    folder, member_id, log = resolve_member(member)
    console = progress.console()
    donors = log.ancestry(member_id)
    copied = ", ".join(donors) + " (most recent first)" if donors else "never (its own line)"
    console.print(f"{member_id} in {folder}; copied: {copied}", highlight=False, soft_wrap=True)
    for line in lineage_lines(log, member_id):
        console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)


def _label(node) -> str:
    """A family.Node as a line of the tree."""
    from popbased.population.report import num

    fit = "" if node.fitness is None else f", fitness {num(node.fitness)}"
    span = f"gen {node.born}-" + ("now" if node.alive else str(node.ended))
    origin = "" if node.parent is None else f", copied {node.parent.member}"
    text = f"{node.member} ({span}{origin}{fit})"
    if node.alive:
        return f"[bold green]{text}[/]"
    return text if node.surviving() else f"[dim]{text}[/]"


def _add(tree, node) -> None:
    branch = tree.add(_label(node))
    for child in node.children:
        _add(branch, child)


@lineage.command()
@click.argument("folder", metavar="LEAGUE", shell_complete=options.complete_run)
def tree(folder):
    """The family tree of LEAGUE, surviving lines in green.

    LEAGUE is a league or PBT run folder, a league name or an MLflow run id; extinct lines
    are dim.
    """
    from popbased.cli import progress
    from rich.tree import Tree

    from popbased.population import family

    folder = _folder(folder)
    roots, current = family.build(_log(folder).events)
    top = Tree(f"[bold]{folder}[/]: {len(current)} members, {len(roots)} founders")
    groups: dict[str, Tree] = {}
    for root in roots:
        population = root.member.split("/")[0] if "/" in root.member else None
        if population is not None and population not in groups:
            groups[population] = top.add(f"[bold]{population}[/]")
        _add(top if population is None else groups[population], root)
    progress.console().print(top)


@lineage.command()
@click.argument("folder", metavar="LEAGUE", shell_complete=options.complete_run)
@options.out_option("PNG file to write.", old=("--output",), default="lineage.png",
                    show_default=True)
@click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")
def graph(folder, out, force):
    """A picture of LEAGUE's family tree (a PNG file).

    LEAGUE as for `tree`: generations across, members down, dots coloured by fitness, an
    orange line wherever a member copied another.
    """
    from popbased.population.family_plot import draw

    output = Path(out)
    if output.suffix.lower() != ".png":
        raise BadInput(f"-o {output}: the graph is written as PNG; give a .png file name")
    if output.exists() and not force:
        raise BadInput(f"-o {output} exists; add --force to overwrite it")
    folder = _folder(folder)
    log = _log(folder)
    draw(log.events, output, f"lineage of {folder.resolve().name}")
    click.echo(f"wrote {output}")
