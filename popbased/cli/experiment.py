"""`popbased experiment run FILE` / `status FOLDER` / `compare A:ARM B:ARM`: arms x seeds of
training runs, each evaluated on real Melting Pot, aggregated across seeds, and arms of two
experiments compared (popbased.experiment)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from popbased.cli import options

STAGES = "train, export, eval (the champions), population (whole populations), report"


@click.group()
def experiment() -> None:
    """Arms x seeds, evaluated on Melting Pot, aggregated.

    An experiment file (e.g. experiments/pbt_vs_random_search.toml) declares the arms (PBT,
    random search, plain PPO, leagues, existing champions), the seeds and the budget; see
    docs/experiments.md.
    """


@experiment.command("run")
@click.argument("file", type=click.Path(dir_okay=False))
@options.out_option("Experiment folder (default: runs/NAME); a rerun continues it.", default=None)
@click.option("--parallel", type=click.IntRange(min=1), default=1, show_default=True,
              help="Steps run at once (each its own process).")
@click.option("--only", default="", help=f"Comma-separated stages: {STAGES} (default: all).")
@click.option("--arms", default="", help="Comma-separated arms to run (default: all); random play "
              "and the reference are run with any arm, and the report covers every finished one.")
@click.option("--dry-run", is_flag=True, help="List the steps (done or to do) with their command "
              "lines; run nothing, write nothing.")
@click.option("--results", default=None, help="Where the report is copied (default: results/NAME).")
@options.FORCE
@click.option("--device", default="auto", show_default=True, type=options.DEVICE,
              help="Learner device of the training runs.")
@options.TRACKING
def run(file, out, parallel, only, arms, dry_run, results, force, device, tracking_uri):
    """Train, evaluate and report every arm x seed.

    Each run trains on the fast env, its champion is evaluated on real Melting Pot (the same
    episode seeds for every policy, random play and the reference included), then the report
    (summary.json, report.md, figures) is written and copied to results/NAME. Each step is a
    popbased command in its own process, done when its marker exists: a rerun does only what
    is not done and retries what failed.

    \b
    Examples:
      popbased experiment run experiments/pbt_vs_random_search.toml --dry-run
      popbased experiment run experiments/pbt_vs_random_search.toml --parallel 2
      popbased experiment run experiments/pbt_vs_random_search.toml --only report
    """
    from popbased.experiment import run as runner

    stages = [s for s in only.split(",") if s]
    chosen = [a for a in arms.split(",") if a]
    out = Path(out) if out else None
    if dry_run:
        runner.dry_run(file, out, stages, device=device, tracking_uri=tracking_uri, arms=chosen,
                       results=Path(results) if results else None, force=force)
        return
    options.stop_on_sigterm()  # stop like Ctrl-C: the running steps save and stop too
    failed = runner.run(file, out=out, only=stages, parallel=parallel, device=device,
                        tracking_uri=tracking_uri, results=Path(results) if results else None,
                        force=force, arms=chosen)
    if failed:
        sys.exit(1)


@experiment.command("status")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(folder, as_json):
    """What is done and left, with the time left.

    Per arm and seed of the experiment in FOLDER: each step done (with its duration), started
    and not finished (with its log), or to do; the time left is estimated from the measured
    durations of done steps of the same kind, scaled by their agent-steps or episodes.

    \b
    Example:
      popbased experiment status runs/pbt-vs-random-search
    """
    from popbased.experiment import status as statuses

    report = statuses.status(folder)
    if as_json:
        click.echo(json.dumps(report, indent=1))
    else:
        click.echo("\n".join(statuses.lines(report)))


@experiment.command("compare")
@click.argument("x", metavar="RESULTS:ARM")
@click.argument("y", metavar="RESULTS:ARM")
@click.option("-o", "--out", "out", default=None, type=click.Path(dir_okay=False),
              help="Write the comparison as JSON to this file (not overwritten: a new name each time).")
@click.option("--across-budgets", is_flag=True,
              help="Let the two arms' agent-steps per run differ (a budget trend: the same arm "
                   "trained longer); each arm's budget is printed and written beside it.")
def compare(x, y, out, across_budgets):
    """Arms of two experiments: IQM across seeds and P(X > Y).

    Each RESULTS:ARM is an experiment's results folder (or its summary.json) and an arm as its
    report names it. The experiments must have been evaluated alike (substrate, episodes,
    episode seeds, cap, reference, agent-steps per run unless --across-budgets). Nothing is
    replayed: the runs' scores come from the two summaries.

    \b
    Example:
      popbased experiment compare results/pbt-world-seating:pbt_world results/pbt-vs-random-search:pbt
    """
    from popbased.experiment import compare as comparing

    _refuse_existing(out, "a comparison")
    made = comparing.compare(x, y, across_budgets=across_budgets)
    for label in (made["x"], made["y"]):
        arm = made["arms"][label]
        s, n = arm["score_iqm"], arm["normalised_iqm"]
        shown = f", normalised {n['point']:.3f} [{n['low']:.3f}, {n['high']:.3f}]" if n else ""
        budget = f"; {arm['agent_steps']:,} agent-steps each" if across_budgets and arm["agent_steps"] else ""
        click.echo(f"{label}: {len(arm['seeds'])} runs (seeds {', '.join(map(str, arm['seeds']))}"
                   f"{budget}), score IQM {s['point']:.2f} [{s['low']:.2f}, {s['high']:.2f}]{shown}")
    p = made["probability_of_improvement"]
    click.echo(f"P({made['x']} > {made['y']}) = {p['point']:.2f} [{p['low']:.2f}, {p['high']:.2f}] "
               f"(metric: {made['metric']}; 95% stratified-bootstrap CI, rliable)")
    _write(out, made)


@experiment.command("trend")
@click.argument("series", nargs=-1, required=True, metavar="LABEL=RESULTS:ARM...")
@click.option("-o", "--out", "out", default=None, type=click.Path(dir_okay=False),
              help="Write the trend as JSON to this file and its figure beside it (.png); "
                   "never overwritten.")
def trend(series, out):
    """Arms at several budgets: IQM across seeds per budget, P(X > Y) at each.

    Each LABEL=RESULTS:ARM is a point of the series LABEL: an arm of an experiment's results
    (as in `compare`), at that experiment's agent-steps per run. The experiments must have been
    evaluated alike (substrate, episodes, episode seeds, cap, reference); the budgets may
    differ. At every budget two series share, P(X > Y) compares them (the score).

    \b
    Example:
      popbased experiment trend evolved=results/social-attribution:evolve_social \\
        evolved=results/social-budget:evolve_social_8m \\
        "random search=results/social-attribution:random_search_social" \\
        "random search=results/social-budget:random_search_social_8m" -o results/social-budget/trend.json
    """
    from popbased.experiment import trend as trends

    picture = None if out is None else Path(out).with_suffix(".png")
    _refuse_existing(out, "a trend")
    _refuse_existing(None if picture is None else str(picture), "a trend's figure")
    made = trends.trend(series)
    for label, points in made["series"].items():
        for p in points:
            s, n = p["score_iqm"], p["normalised_iqm"]
            shown = f", normalised {n['point']:.3f} [{n['low']:.3f}, {n['high']:.3f}]" if n else ""
            click.echo(f"{label} at {p['agent_steps']:,} agent-steps ({p['ref']}; {len(p['seeds'])} runs): "
                       f"score IQM {s['point']:.2f} [{s['low']:.2f}, {s['high']:.2f}]{shown}")
    for c in made["compared"]:
        q = c["probability_of_improvement"]
        click.echo(f"at {c['agent_steps']:,}: P({c['x']} > {c['y']}) = {q['point']:.2f} "
                   f"[{q['low']:.2f}, {q['high']:.2f}]")
    click.echo(f"(metric: {made['metric']}; 95% stratified-bootstrap CIs, rliable)")
    if out is not None:
        _write(out, made)
        trends.figure(made, picture)
        click.echo(f"written: {out}, {picture}")


@experiment.command("selection")
@click.argument("results", type=click.Path(file_okay=False))
@click.option("-o", "--out", "out", default=None, type=click.Path(dir_okay=False),
              help="Write the rows and correlations as JSON to this file (not overwritten).")
def selection(results, out):
    """Did the training fitness predict the champions' Melting Pot scores?

    RESULTS is an experiment's results (or run) folder. Each exported champion's fitness and
    objectives in training beside its scores on Melting Pot, and Spearman's rank correlation
    across runs (all arms, then each arm); where the runs' lineages are kept, how often the
    fitness order of two members held from one generation to the next, and the copies made.
    See popbased/experiment/selection.py and repeatability.py.

    \b
    Example:
      popbased experiment selection results/social-attribution
    """
    from popbased.experiment import selection as selecting

    _refuse_existing(out, "an analysis")
    made = selecting.selection(results)
    click.echo("arm\tseed\tmember\tfitness\tsustainability\tnormalised\tkept (world)")
    for r in made["rows"]:
        click.echo("\t".join(_cell(r.get(k)) for k in ("arm", "seed", "member", "fitness", "sustainability",
                                                        "normalised", "kept_world")))
    for scope, table in [("all arms", made["all"]), *made["arms"].items()]:
        shown = "; ".join(f"{pair} rho {_cell(c['rho'])} (p {_cell(c['p'])}, {c['runs']} runs)"
                          for pair, c in table.items() if c)
        click.echo(f"{scope}: {shown or 'fewer than 3 runs'}")
    click.echo(f"({made['metric']})")
    for arm, r in made["repeatability"].items():
        click.echo(f"{arm}: fitness order of members that kept their weights (not the lowest) held "
                   f"into the next generation in {_share(r['same_order'])} of {r['pairs']} pairs; {r['copies']} "
                   f"copies in {r['steps']} member steps ({r['runs']} runs)")
        two = r["two_generations"]
        click.echo(f"{arm}: over {two['pairs']} pairs that kept their weights two steps running, the "
                   f"next order followed the last generation's fitness in {_share(two['last'])}, "
                   f"the mean of the two generations' in {_share(two['mean_of_two'])}")
    _write(out, made)


def _share(v) -> str:
    return "-" if v is None else f"{v:.0%}"


def _cell(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else ("-" if v is None else str(v))


@experiment.command("references")
@click.argument("results", type=click.Path(file_okay=False))
@click.argument("played", nargs=-1, required=True, metavar="SUITE_JSON...")
@click.option("-o", "--out", "out", default=None, type=click.Path(dir_okay=False),
              help="Write the scores as JSON to this file (not overwritten).")
def references(results, played, out):
    """An experiment's suites scored again by the best of more references.

    RESULTS is an experiment's results (or run) folder. Each SUITE_JSON is one policy played in
    one of its suites with the experiment's own baselines (evaluate suite SUITE POLICY
    --baselines RUN/suite/NAME/baselines/suite.json): it becomes a reference beside the suite's
    own, and per scenario the best of them is the score's 1 (Melting Pot 2.0's normalisation).
    The champions' kept suite results are scored again (nothing replayed): IQM across seeds with
    95% CIs and P(X > Y), beside their scores with the one reference.

    \b
    Example:
      popbased evaluate suite suites/heldout.toml scripted:greedy \\
        --baselines runs/arenas/suite/heldout/baselines/suite.json -o runs/greedy-heldout
      popbased experiment references results/arenas runs/greedy-heldout/suite.json -o best.json
    """
    from popbased.experiment import references as refs

    _refuse_existing(out, "a rescoring")
    made = refs.rescore(results, list(played))
    for name, suite in made["suites"].items():
        others = suite["scenarios_where_another_is_best"]
        click.echo(f"suite {name}: references {', '.join(suite['references'])}; another than the suite's "
                   f"own is best in {len(others)} of {len(suite['best_of'])} scenarios")
        for arm, a in suite["arms"].items():
            best, one = ((a.get(k) or {}).get("iqm") for k in ("aggregate", "aggregate_one_reference"))
            shown = [f"{e['point']:.3f} [{e['low']:.3f}, {e['high']:.3f}]" if e else "none (no run has a score)"
                     for e in (best, one)]
            click.echo(f"  {arm}: {len(a['runs'])} runs, overall score IQM {shown[0]} (with the one "
                       f"reference {shown[1]})")
        for q in suite["probability_of_improvement"]:
            click.echo(f"  P({q['x']} > {q['y']}) = {q['point']:.2f} [{q['low']:.2f}, {q['high']:.2f}]")
    _write(out, made)


def _refuse_existing(out: str | None, what: str) -> None:
    """-o FILE of `compare` and `selection`: one line of bad input if FILE exists, before any work."""
    from popbased.errors import BadInput

    if out is not None and Path(out).exists():
        raise BadInput(f"-o {out}: exists; give a new file name ({what} is never overwritten)")


def _write(out: str | None, made: dict) -> None:
    if out is not None:
        from popbased.ppo.checkpoint import write_atomic

        write_atomic(Path(out), json.dumps(made, indent=1).encode())
        click.echo(f"written: {out}")
