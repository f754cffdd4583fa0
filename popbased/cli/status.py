"""`popbased status FOLDER [--check] [--json]`: where a run folder of any kind stands (a train
run, PBT run, league, evaluation, experiment or study), and with --check an audit of what it holds
(popbased.runs.status). `popbased league status` is the same command."""

from __future__ import annotations

import json
import sys

import click

from popbased.cli.options import complete_run


@click.command()
@click.argument("folder", shell_complete=complete_run)
@click.option("--check", is_flag=True,
              help="Audit what the folder holds for its kind (records once each, checkpoints "
                   "readable, tables whole, ...); exit 1 when something is wrong.")
@click.option("--json", "as_json", is_flag=True, help="Print the status (or the audit) as JSON.")
@click.option("--tracking-uri", default=None,
              help="MLflow store to look FOLDER up in when it is an MLflow run id (default: "
                   "MLFLOW_TRACKING_URI, else ./mlflow.db).")
def status(folder, check, as_json, tracking_uri):
    """Where a run folder of any kind stands; --check audits it.

    FOLDER holds a train run (agent-steps, last round, checkpoints), a PBT run or league
    (generation, members, best, what is left), an evaluation (what it played, its summary), an
    experiment (each arm and seed's steps, the time left) or a study (steps done, its runs). It may also be a league or population name (its newest
    run under ./runs) or an MLflow run id.

    \b
    Examples:
      popbased status runs/train-open-20261122-101500
      popbased status commons --check
      popbased status runs/quick --json
    """
    show(folder, check, as_json, tracking_uri)


def show(ref: str, check: bool, as_json: bool, tracking_uri: str | None = None) -> None:
    """`popbased status` and `popbased league status`: parse, call the library, print."""
    from popbased.cli import progress
    from popbased.runs import status as runs
    from popbased.textio import json_safe

    folder, kind = runs.locate(ref, tracking_uri)
    if check:
        problems, what = runs.check(folder, kind)
        if as_json:
            click.echo(json.dumps({"folder": str(folder), "kind": kind, "checked": what,
                                   "consistent": not problems, "problems": problems}, indent=2))
        else:
            for line in problems or [f"{folder}: consistent ({what})"]:
                click.echo(line)
        if problems:
            sys.exit(1)
        return
    now = runs.status(folder, kind)
    if as_json:
        click.echo(json.dumps(json_safe(now), indent=2, default=str))
        return
    console = progress.console()
    lines = _PRINTERS[kind](now, console) or ()
    if kind == "experiment":  # tab-separated columns, as `popbased experiment status` prints them
        click.echo("\n".join(lines))
        return
    for line in lines:
        console.print(line, markup=False, highlight=False)


def headline(now: dict) -> str:
    """One line: what the folder holds and where it stands."""
    kind, folder = now["kind"], now["folder"]
    if kind == "train":
        total = f"/{now['total_steps']:,}" if now.get("total_steps") else ""
        state = ("finished" if now["finished"] else
                 f"{now['left_steps']:,} left (running, or stopped: a train run does not resume)"
                 if now.get("left_steps") else "no round done")
        members = now.get("members")
        return (f"train run in {folder}: {now.get('substrate') or '?'} ({now.get('env') or '?'} "
                f"env){f', {members} member' + ('s' if members != 1 else '') if members else ''}; "
                f"{now['agent_steps']:,}{total} agent-steps, {state}")
    if kind in ("pbt", "league"):
        count = sum(len(r) for r in now["members"].values())
        target = now.get("generations")
        where = f"generation {now['generation']}" + (f"/{target}" if target else "")
        if kind == "league":  # the line `popbased league status` has always printed
            return (f"league {now['league']['name']} in {folder}: generation {now['generation']}, "
                    f"{now['agent_steps']:,} agent-steps; arena {now['league']['arena']}")
        return (f"PBT run {now.get('name')} in {folder}: {now.get('substrate')}, {count} members; "
                f"{where}, {now['agent_steps']:,} agent-steps")
    if kind == "evaluation":
        points = now.get("points") or 1
        return (f"evaluation in {folder}: {now.get('title')} ({now.get('env') or 'meltingpot'}), "
                f"{len(now['policies'])} policies x {points} point{'s' if points != 1 else ''}, "
                f"{now.get('episodes')} episodes each")
    if kind == "experiment":
        return (f"experiment {now['name']} in {folder}: {now['done']} of "
                f"{now['done'] + now['left']} steps done")
    done, unfinished = now["done"], now["unfinished"]
    return (f"study in {folder}: {len(done)} steps done"
            + (f", {len(unfinished)} started and not done ({', '.join(unfinished)}: running, "
               f"failed or stopped; their logs are in {now['logs']})" if unfinished else ""))


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return f"{seconds:.0f} s ago"


def _round(record: dict | None, first=None) -> str | None:
    """The last round as the progress display shows it."""
    if not record:
        return None
    from popbased.cli import progress
    from popbased.population.reports import RoundReport

    try:
        report = RoundReport.from_json(record)
    except TypeError:  # a record of an older format
        return f"{record.get('agent_steps', 0):,} agent-steps, {record.get('episodes', 0)} episodes"
    return progress.round_line(report, tuple(first) if first else None,
                               progress.reward_per_step(report))


def _train(now: dict, console) -> list[str]:
    lines = [headline(now)]
    last = _round(now["last_round"], now.get("first_episode"))
    if last:
        lines.append(f"  last round ({now['rounds']}): {last}")
    if now["checkpoints"]:
        lines.append("  checkpoints: " + ", ".join(f"{m} {p}" for m, p in now["checkpoints"].items()))
    else:
        lines.append("  no checkpoint yet")
    lines.append(f"  last written {_ago(now['idle_s'])}")
    return lines


def _generations(now: dict) -> list[str]:
    """What PBT runs and leagues have alike: what is left, the best, the last round."""
    from popbased.textio import num

    lines = []
    target, folder = now.get("generations"), now["folder"]
    if now.get("finished"):
        lines.append(f"  finished: generation {now['generation']} of {target}")
    elif target:
        doing = f"; generation {now['in_progress']} in progress" if now.get("in_progress") else ""
        lines.append(f"  {now['left_generations']} of {target} generations left{doing} (if it "
                     f"is not running, `popbased resume {folder}` continues it)")
    for pop, best in now["best"].items():
        if best:
            lines.append(f"  best of {pop}: {best['id']} (fitness {num(best['fitness'])}) -> "
                         f"{best['checkpoint']}")
    last = _round(now.get("last_round"))
    if last:
        lines.append(f"  last round: {last}")
    tracking = now.get("tracking")
    if tracking:
        lines.append(f"  MLflow: {tracking['uri']} (experiment {tracking['experiment_id']}), "
                     f"generation {tracking['generation']} logged")
    lines.append(f"  last written {_ago(now['idle_s'])}")
    return lines


def _members(now: dict) -> list[str]:
    from popbased.textio import num

    return [f"  {pop}: " + ", ".join(f"{r['id']} fitness {num(r['fitness'])}" for r in records)
            for pop, records in now["members"].items()]


def _pbt(now: dict, console) -> list[str]:
    return [headline(now), *_members(now), *_generations(now)]


def _league(now: dict, console) -> list[str]:
    from popbased.cli.tables import show_table
    from popbased.league import report

    lines = [headline(now), *_members(now)]
    if now["snapshots"]:
        lines.append(f"  background pool: {', '.join(now['snapshots'])}")
    for line in lines + _generations(now):
        console.print(line, markup=False, highlight=False)
    last = now["payoff"]
    if last:
        show_table(console, report.payoff_table(last["rows"], last["scores"],
                                                 f"payoff, generation {last['generation']}"))
    return []


def _evaluation(now: dict, console) -> list[str]:
    from popbased.textio import num

    lines = [headline(now)]
    rows, shown = now["summary"], 12
    for r in rows[:shown]:
        lines.append(f"  {r['policy']} @ {r['point']}: return {num(r['return'])} "
                     f"({r['episodes']} episodes)")
    if len(rows) > shown:
        lines.append(f"  ... {len(rows) - shown} more rows in {now['folder']}/summary.csv")
    lines.append(f"  report: {now['folder']}/report.html; played {now.get('started') or '?'} "
                 f"in {num(now.get('seconds'), '.0f')} s")
    return lines


def _study(now: dict, console) -> list[str]:
    lines = [headline(now)]
    if now["done"]:
        lines.append(f"  done: {', '.join(now['done'])}")
    for name, part in now["parts"].items():
        text = part.get("error") or headline(part).split(": ", 1)[-1]
        lines.append(f"  {name}: {text}")
    return lines


def _experiment(now: dict, console) -> list[str]:
    """As `popbased experiment status` prints it: a row per arm and seed, then the time left."""
    from popbased.experiment import status as experiment

    return experiment.lines(now)


_PRINTERS = {"train": _train, "pbt": _pbt, "league": _league, "evaluation": _evaluation,
             "experiment": _experiment, "study": _study}
