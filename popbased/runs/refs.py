"""What LEAGUE and MEMBER arguments may be, and shell completion for them.

LEAGUE (a league or PBT run):
    a run folder                    runs/league-commons-20261122-101500
    a league or population name     commons (the newest run of it under ./runs)
    an MLflow run id                the league's run, or any of its member runs
MEMBER:
    LEAGUE/MEMBER_ID                runs/league-commons-.../open/m1, commons/open/m1
    an MLflow run id                a member's run
MLflow ids are looked up in --tracking-uri (default: MLFLOW_TRACKING_URI, else ./mlflow.db).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from popbased.errors import BadInput
from popbased.runs.folder import RunFolder, is_run, open_run

RUNS = Path("runs")
RUN_ID = re.compile(r"^[0-9a-f]{32}$")


class NotAMember(BadInput):
    """A reference that names no run's member at all (not one naming a run but a member it
    does not have)."""


def local_runs(base: Path = RUNS) -> list[Path]:
    """Run folders under ./runs (newest first) and in the working folder."""
    found = [p for p in Path(".").iterdir() if p.is_dir() and is_run(p)] if Path(".").is_dir() else []
    if base.is_dir():
        found += [p for p in base.iterdir() if p.is_dir() and is_run(p)]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def _by_name(name: str) -> Path | None:
    for path in local_runs():
        if path.name == name:
            return path
    for path in local_runs():  # newest first
        try:
            if open_run(path).name == name:
                print(f"popbased: {name} -> {path} (its newest run under {RUNS}/)", file=sys.stderr)
                return path
        except BadInput:
            continue
    return None


def _from_mlflow(run_id: str, uri: str | None) -> tuple[Path, str | None]:
    """(run folder, member id or None) of an MLflow run that popbased wrote."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from popbased.tracking import store

    uri = store.resolve_uri(uri)
    store.check(uri)
    client = MlflowClient(uri)
    try:
        tags = client.get_run(run_id).data.tags
    except MlflowException:
        raise BadInput(f"{run_id}: no such MLflow run in {uri}") from None
    member = tags.get("popbased.member")
    folder = tags.get("popbased.folder")
    if folder is None and "mlflow.parentRunId" in tags:
        folder = client.get_run(tags["mlflow.parentRunId"]).data.tags.get("popbased.folder")
    if folder is None:
        raise BadInput(f"{run_id}: an MLflow run that popbased did not write (no popbased.folder tag)")
    if not is_run(Path(folder)):
        raise BadInput(f"{run_id}: its run folder {folder} is gone or not readable from here")
    return Path(folder), member


def league(ref: str, uri: str | None = None) -> RunFolder:
    path = Path(ref)
    if is_run(path):
        return open_run(path)
    found = _by_name(ref) if "/" not in ref else None
    if found is not None:
        return open_run(found)
    if RUN_ID.match(ref):
        return open_run(_from_mlflow(ref, uri)[0])
    if path.is_dir():
        raise BadInput(f"{ref}: not a league or PBT run folder (no state.json and lineage.jsonl)")
    known = ", ".join(p.name for p in local_runs()[:5]) or f"none under {RUNS}/"
    raise BadInput(f"{ref}: no such run folder, league name or MLflow run id (runs here: {known})")


def member(ref: str, uri: str | None = None) -> tuple[RunFolder, str]:
    """(run, member id) of LEAGUE/MEMBER_ID or a member's MLflow run id."""
    if RUN_ID.match(ref) and not Path(ref).exists():
        folder, member_id = _from_mlflow(ref, uri)
        if member_id is None:
            raise BadInput(f"{ref}: the MLflow run of a whole league, not of a member")
        run = open_run(folder)
        return run, run.member(member_id).id
    parts = Path(ref).parts
    for depth in (1, 2):  # PBT: mK; league: POP/mK
        if len(parts) > depth:
            head, member_id = str(Path(*parts[:-depth])), "/".join(parts[-depth:])
            try:
                run = league(head, uri)
            except BadInput:
                continue
            return run, run.member(member_id).id
    raise NotAMember(f"{ref}: expected LEAGUE/MEMBER (e.g. runs/league-commons-.../open/m1, "
                   f"commons/open/m1) or a member's MLflow run id")


# ---------------------------------------------------------------------- completion
def complete_league(ctx, param, incomplete: str):
    from click.shell_completion import CompletionItem

    out = []
    for path in local_runs():
        for text in (str(path), path.name):
            if text.startswith(incomplete) and text not in [c.value for c in out]:
                out.append(CompletionItem(text, help="run folder"))
    return out


def complete_member(ctx, param, incomplete: str):
    from click.shell_completion import CompletionItem

    out = []
    for path in local_runs():
        if not (incomplete.startswith(str(path)) or str(path).startswith(incomplete)):
            continue
        try:
            members = open_run(path).members
        except BadInput:
            continue
        for m in members:
            text = f"{path}/{m.id}"
            if text.startswith(incomplete):
                out.append(CompletionItem(text, help=f"fitness {m.fitness}"))
    return out
