"""`popbased tracking sync RUN_FOLDER`: send the MLflow records a run folder keeps while its
tracking store is away, without training (see popbased.tracking.sync); `MOVE`, the
`--move-to-store` option of the commands that write to a folder's runs (sync, the resumes)."""

from __future__ import annotations

import json
import sys

import click


MOVE = click.option("--move-to-store", "move_to_store", is_flag=True,
                    help="Copy the folder's MLflow runs (params, metrics, tags, artifacts) into "
                         "the store --tracking-uri names and track it there from now on (another "
                         "store than the folder's is refused without this flag).")


@click.group()
def tracking() -> None:
    """MLflow records of run folders: send what waits.

    Leagues, PBT runs and evaluations keep their records while their store is away.
    """


@tracking.command()
@click.argument("folder", metavar="RUN_FOLDER", type=click.Path(file_okay=False))
@click.option("--tracking-uri", default=None,
              help="The folder's MLflow tracking store (default: the one its tracking.json "
                   "names; another is refused unless --move-to-store).")
@MOVE
@click.option("--json", "as_json", is_flag=True, help="Print what was sent as JSON.")
def sync(folder, tracking_uri, move_to_store, as_json):
    """Send the MLflow records a run folder keeps; end its runs.

    Sends what waits in RUN_FOLDER/tracking-buffer.jsonl (a league, PBT run or evaluation
    results folder whose tracking store was away) and ends its MLflow runs with the status they
    wait for (FINISHED, FAILED, KILLED). Trains nothing; safe to repeat, and beside a running job.
    Exit 1 when records still wait (the store stopped answering).
    """
    from popbased.textio import json_safe
    from popbased.tracking.sync import sync as send

    report = send(folder, tracking_uri, move=move_to_store)
    if as_json:
        click.echo(json.dumps(json_safe(report), indent=2))
    else:
        for line in lines(report):
            click.echo(line)
        for note in report["notes"]:
            click.echo(f"popbased: note: {note}", err=True)
    if report["waiting"]:
        sys.exit(1)


def lines(report: dict) -> list[str]:
    """What `sync` did, in a few lines."""
    where = f"MLflow at {report['uri']}, experiment {report['experiment']}"
    out = [moved_line(report["folder"], report["moved"])] if report.get("moved") else []
    out += [f"sent {report['records']} records to {where}: " + ", ".join(
        f"{run} {n}" for run, n in report["runs"].items())
        if report["records"] else f"nothing waited in {report['folder']} ({where})"]
    if report["waiting"]:
        out.append(f"{report['waiting']} records still wait in {report['folder']}: the store stopped "
                   f"answering; run this again when it is back")
    if report["rejected"]:
        out.append(f"{report['rejected']} records the store refused are kept in {report['rejected_file']}")
    status, runs = report["status"], len(report["run_ids"])
    if status == "RUNNING":
        out.append(f"its {runs} runs are RUNNING: a job writes to this folder, or it was stopped "
                   f"without ending them (SIGKILL); `popbased resume {report['folder']}` continues "
                   f"a league or PBT run")
    elif status and report["applied"]:
        error = f" ({report['error']})" if report["error"] else ""
        out.append(f"its {runs} runs ended {status}{error}")
    elif status:
        out.append(f"its {runs} runs end {status} once the records are sent")
    return out


def moved_line(folder, moved: dict) -> str:
    """What `--move-to-store` copied (tracking.move.move's report), in a line."""
    what = (f"copied {moved['runs']} runs ({moved['metrics']} metric values, {moved['artifacts']} "
            f"artifact files; the old store keeps its copy)" if moved["runs"] else
            "no runs were there to copy")
    gone = f"; {', '.join(moved['missing'])} no longer there" if moved["missing"] else ""
    return (f"moved {folder}'s MLflow runs from {moved['from']} to {moved['to']}: {what}{gone}; "
            f"it is tracked in {moved['to']} from now on")
