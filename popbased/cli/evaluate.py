"""`popbased evaluate run | sweep | matrix | report`: the study's experiments as commands."""

from __future__ import annotations

import click
from click.shell_completion import CompletionItem

from popbased.cli import options
from popbased.errors import BadInput
from popbased.evaluation.grid import SWEEPS

OUT_HELP = "Results folder."
MAX_STEPS_HELP = "Cut episodes after this many steps (default: the substrate's own end)."


@click.group()
def evaluate() -> None:
    """Play policies on substrates and scenarios; report.

    Each command writes a results folder (tables, figures, report.html) and an MLflow run.
    """


def _common(command):
    for option in reversed([
        click.argument("policies", nargs=-1, metavar="POLICY..."),
        click.option("--substrate", default="open", show_default=True, help="Substrate or variant."),
        click.option("--param", "-p", "params", multiple=True, metavar="KEY=VALUE",
                     help="Fixed variant parameter (repeatable), e.g. -p players=14."),
        options.episodes_option(15, "Episodes per policy and point (the study's 15)."),
        options.max_episode_steps_option(MAX_STEPS_HELP, old=("--max-steps",)),
        click.option("--seed", default=0, show_default=True, type=int,
                     help="Every point plays the same seeds."),
        click.option("--envs", type=click.IntRange(min=1), default=None,
                     help="Env processes per task (default: the cores Ray has, at most --episodes)."),
        click.option("--env", "env", default="meltingpot", show_default=True,
                     type=options.ENGINE_CHOICE,
                     help="Engine: Melting Pot itself (what reported numbers should come from), or "
                          "the fast commons_harvest (to compare the two)."),
        options.out_option(OUT_HELP, old=("--output",), required=True),
        click.option("--force", is_flag=True, help="Move an existing results folder aside (to "
                     "OUT.old-TIME) and write a new one."),
        click.option("--ray-address", default=None, help="An existing Ray cluster (default: a local Ray)."),
        options.TRACKING,
    ]):
        command = option(command)
    return command


@evaluate.command("run")
@_common
@click.option("--grid", "grid", multiple=True, metavar="KEY=V1,V2,...",
              help="A swept parameter (repeatable; points are every combination).")
def run_(policies, substrate, params, episodes, max_episode_steps, seed, envs, env, out, force,
         ray_address, tracking_uri, grid):
    """Play each POLICY in every seat of SUBSTRATE, per grid point.

    POLICY is random, scripted:NAME, a checkpoint, an exported policy folder, LEAGUE/MEMBER,
    models:/NAME@ALIAS, or population:RUN_FOLDER (population:LEAGUE_FOLDER/POP): a PBT run's
    members mixed in the seats, member i of n in every seat j with j % n == i; each plays
    --episodes episodes per grid point. The tables, figures, report.html and an MLflow record
    go into the results folder --out.

    \b
    Examples:
      popbased evaluate run runs/champions/open random -n 2 --max-episode-steps 300 -o runs/eval
      popbased evaluate run runs/commons/open/m1 random --grid regrowth=0.1,1,10 -o runs/grid
      popbased evaluate run models:/open@champion random --substrate no_zap -o runs/eval-nz
      popbased evaluate run population:runs/pbt-open random --substrate open -o runs/eval-pop
    """
    from popbased.evaluation.grid import parse_axes

    _evaluate(policies, substrate, params, parse_axes(grid), episodes, max_episode_steps, seed, envs,
              out, force, ray_address, tracking_uri, f"{substrate}", env=env)


def _complete_sweep(ctx, param, incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(k) for k in SWEEPS if k.startswith(incomplete)]


@evaluate.command()
@click.argument("kind", metavar="regrowth|cooldown", shell_complete=_complete_sweep)
@_common
@click.option("--values", default=None, help="Comma-separated values instead of the study's grid.")
def sweep(kind, policies, substrate, params, episodes, max_episode_steps, seed, envs, env, out, force,
          ray_address, tracking_uri, values):
    """The study's sweeps (regrowth or cooldown) for each POLICY.

    regrowth: the respawn rate x 10^-2 ... 10^2, in half-decade steps; cooldown: the zap
    cooldown 1, 2, 10, 200, 2000.
    """
    if kind not in SWEEPS:
        raise BadInput(f"sweep {kind!r}: choose regrowth or cooldown (or `evaluate run --grid KEY=V1,V2`)")
    key, default = SWEEPS[kind]
    listed = default if values is None else [v.strip() for v in values.split(",") if v.strip()]
    if not listed:
        raise BadInput("--values: no values (an empty grid)")
    _evaluate(policies, substrate, params, {key: listed}, episodes, max_episode_steps, seed, envs, out,
              force, ray_address, tracking_uri, f"{substrate}: {kind} sweep", env=env)


def _evaluate(policies, substrate, params, axes, episodes, max_episode_steps, seed, envs, out, force,
              ray_address, tracking_uri, title, modes=None, env="meltingpot"):
    from popbased.cli import progress
    from popbased.evaluation import job as jobs, results

    job = jobs.prepare(policies, substrate, params, axes, episodes=episodes, output=out, seed=seed,
                       max_steps=max_episode_steps, envs=envs, force=force, ray_address=ray_address,
                       tracking_uri=tracking_uri, title=title, modes=modes, env=env)
    console = progress.console(stderr=True)  # progress and diagnostics
    results_out = progress.console()  # the summary and where everything is
    with progress.TaskProgress(console, f"evaluating ({episodes} episodes per point)") as bar:
        done = job.run(bar.update)
    info, out = done["info"], job.out
    _print(results_out, done["made"]["summary"])
    results_out.print(f"{done['episodes']} episodes in {info['seconds']:.0f} s ({info['episodes_per_minute']:.1f} "
                      f"episodes/minute); tables, figures and {results.REPORT} in {out}; MLflow run "
                      f"{done['run_id']} (experiment evaluate-{substrate}) in {job.uri}", highlight=False)
    if done["waiting"]:
        console.print(f"MLflow did not take everything: {done['waiting']} records wait in "
                      f"{out}/tracking-buffer.jsonl; send them with `popbased tracking sync {out}`",
                      highlight=False)


@evaluate.command("matrix")
@_common
@click.option("--modes", default="resident,visitor", show_default=True,
              help="Scenario kinds: resident (focal majority) and/or visitor (focal minority).")
@click.option("--resident-focal", type=click.IntRange(min=1), default=None,
              help="Focal seats in resident matches (default: all but a quarter of the players).")
@click.option("--visitor-focal", type=click.IntRange(min=1), default=None,
              help="Focal seats in visitor matches (default: 1).")
def matrix_(policies, substrate, params, episodes, max_episode_steps, seed, envs, env, out, force,
            ray_address, tracking_uri, modes, resident_focal, visitor_focal):
    """Each POLICY focal against each other as background.

    The study's Fig. 2 and 3 experiments: as residents (focal majority) and as visitors
    (focal minority). E.g. a no_zap champion among zapping backgrounds:
    `evaluate matrix champions/no_zap champions/open -o m`.
    """
    from popbased.league.spec import default_focal, focal_range
    from popbased.substrates import parse_assignments, resolve

    players = resolve(substrate, parse_assignments(params)).num_players
    chosen = {}
    for mode in [m.strip() for m in modes.split(",") if m.strip()]:
        if mode not in ("resident", "visitor"):
            raise BadInput(f"--modes {modes!r}: choose resident and/or visitor")
        k = {"resident": resident_focal, "visitor": visitor_focal}[mode] or default_focal(mode, players)
        low, high, allowed = focal_range(mode, players)
        if not low <= k <= high:
            raise BadInput(f"--{mode}-focal {k}: out of range for {substrate}'s {players} players; "
                           f"allowed {allowed}")
        chosen[mode] = k
    if not chosen:
        raise BadInput("--modes: give resident and/or visitor")
    _evaluate(policies, substrate, params, {}, episodes, max_episode_steps, seed, envs, out, force,
              ray_address, tracking_uri, f"{substrate}: focal x background", modes=chosen, env=env)


BOTS_ROOT = click.option(
    "--bots-root", default=None, metavar="FOLDER",
    help="Load the bots' saved models from FOLDER, laid out as Melting Pot's assets/saved_models "
         "(SUBSTRATE/MODEL/saved_model.pb) [default: $POPBASED_BOTS_ROOT, else the installed assets].")


@evaluate.command("suite")
@click.argument("suite_file", metavar="SUITE.toml")
@click.argument("policies", nargs=-1, metavar="[POLICY...]")
@options.episodes_option(30, "Episodes per focal policy and scenario.")
@options.max_episode_steps_option(MAX_STEPS_HELP)
@click.option("--seed", default=0, show_default=True, type=int,
              help="Every focal policy of a scenario plays the same episode seeds.")
@click.option("--envs", type=click.IntRange(min=1), default=None,
              help="Env processes per task (default: the cores Ray has, at most --episodes).")
@click.option("--env", "env", default="meltingpot", show_default=True, type=options.ENGINE_CHOICE,
              help="Engine: Melting Pot itself (what reported numbers should come from), or the "
                   "fast commons_harvest.")
@BOTS_ROOT
@options.out_option("Results folder (suite.json).", required=True)
@click.option("--force", is_flag=True, help="Move an existing results folder aside (to "
              "OUT.old-TIME) and write a new one.")
@click.option("--ray-address", default=None, help="An existing Ray cluster (default: a local Ray).")
@click.option("--baselines", default=None, metavar="SUITE.json",
              help="Random play's and the reference's returns from an earlier run of this suite "
                   "(same episodes, seed, env), instead of playing them again.")
@click.option("--keep-tasks", default=None, metavar="FOLDER",
              help="Keep each finished (scenario, policy) task in FOLDER, and take the ones "
                   "already there instead of playing them again: a killed run, rerun with the "
                   "same FOLDER, goes on where it stopped.")
@options.TRACKING
def suite_(suite_file, policies, episodes, max_episode_steps, seed, envs, env, bots_root, out, force,
           ray_address, baselines, keep_tasks, tracking_uri):
    """Each POLICY focal in the scenarios of a held-out suite.

    Melting Pot 2.0's protocol without DeepMind's bots: each scenario seats the focal policy in
    its first seats and popbased's players (scripted bots, random, trained policies) in the
    rest. Random play and the suite's reference play focal too; each policy's score per
    scenario is (R - R_random) / (R_reference - R_random) with R the focal per-capita return,
    and overall their mean (over the scenarios where the reference beats random); with several
    references (reference = [A, B] in the suite) the best of them per scenario is the 1.
    suites/heldout.toml, suites/heldout_maps.toml and suites/sweeps.toml ship with popbased.
    A suite may also name Melting Pot's own scenarios (meltingpot = "commons_harvest__open_0"),
    played with DeepMind's bots where they are installed (--bots-root).
    With no POLICY it plays random and the reference only (for --baselines later). Writes
    OUT/suite.json.

    \b
    Example:
      popbased evaluate suite suites/heldout.toml runs/champions/open -n 30 -o runs/suite
    """
    import json
    import os

    from popbased.cli import progress
    from popbased.evaluation import suite as suites
    from popbased.evaluation.policies import resolve_all
    from popbased.ppo.checkpoint import write_atomic
    from popbased.rollout.cluster import ensure_ray
    from popbased.runs.claim import claim

    chosen = suites.load(suite_file)
    refs = resolve_all(policies, tracking_uri) if policies else []
    root = suites.check(chosen, env, bots_root, refs)  # checked before anything is written
    if baselines:
        suites.baseline_rows(chosen, baselines, episodes, seed, env, max_episode_steps)
    if keep_tasks and os.path.exists(keep_tasks) and not os.path.isdir(keep_tasks):
        raise BadInput(f"--keep-tasks {keep_tasks}: not a folder (the finished tasks go into a "
                       f"folder, made if missing)")
    folder = claim(out, "evaluation", force=force)
    ensure_ray(ray_address)
    console = progress.console(stderr=True)
    with progress.TaskProgress(console, f"playing {len(chosen.scenarios)} scenarios ({episodes} "
                                        f"episodes per focal policy and scenario)") as bar:
        made = suites.run(chosen, refs, episodes=episodes, seed=seed, max_steps=max_episode_steps,
                          env=env, envs=envs, baselines=baselines, progress=bar.update,
                          bots_root=root, keep=keep_tasks)
    made.update(policies={r.label: {"kind": r.kind, **r.source} for r in refs})
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / "suite.json", json.dumps(made, indent=1, default=str).encode())
    _print_suite(progress.console(), made)
    progress.console().print(f"results in {folder / 'suite.json'}", highlight=False)


def _print_suite(console, made) -> None:
    from rich.table import Table

    from popbased.cli.tables import show_table
    from popbased.evaluation import suite as suites

    reference = made["reference"]
    reference = (f"the best of {', '.join(reference)}" if isinstance(reference, list) else reference)
    table = Table(title=f"suite {made['suite']}: focal per-capita return and score (0 = random, "
                        f"1 = {reference})")
    for name in ("scenario", "policy", "episodes", "focal", "score", "depleted", "proxy"):
        table.add_column(name, justify="left" if name in ("scenario", "policy") else "right", overflow="fold")
    for r in made["rows"]:
        score = "n/a" if r["score"] != r["score"] else f"{r['score']:.2f}"
        table.add_row(r["scenario"], r["policy"], str(r["episodes"]), f"{r['focal_return']:.1f}", score,
                      *(f"{r[k]:.0%}" if k in r else "-" for k in ("depleted", "proxy_depleted")))
    show_table(console, table)
    for policy, o in made["overall"].items():
        if not suites.is_baseline(policy):
            console.print(f"{policy}: overall score {o['score']:.2f} over {o['scenarios']} of {o['of']} "
                          f"scenarios", highlight=False)


def _print(console, summary) -> None:
    from rich.table import Table

    from popbased.cli.tables import show_table

    matrix = "focal_return" in summary
    table = Table(title=("focal per-capita return (95% bootstrap CI)" if matrix else
                         "per-capita return (95% bootstrap CI)") + ", Gini, % depleted (world / proxy)")
    for name in ("policy", "point", "episodes", "return", "CI", "Gini", "depleted", "proxy", "zaps"):
        table.add_column(name, justify="left" if name in ("policy", "point") else "right", overflow="fold")
    ret, low, high = ("focal_return", "focal_ci_low", "focal_ci_high") if matrix else (
        "per_capita_return", "ci_low", "ci_high")
    few = int(summary["episodes"].min()) < 5 if len(summary) else False

    def num(value, spec: str, scale: float = 1.0, unit: str = "") -> str:
        return "n/a" if value is None or value != value else f"{scale * value:{spec}}{unit}"

    for r in summary.to_dict("records"):
        ci = "n/a" if r[low] != r[low] else f"{r[low]:.1f}-{r[high]:.1f}" + (" !" if few else "")
        table.add_row(r["policy"], r["point"], str(r["episodes"]), num(r[ret], ".1f"), ci,
                      num(r["gini"], ".2f"), num(r["depleted_fraction"], ".0f", 100, "%"),
                      num(r["proxy_depleted_fraction"], ".0f", 100, "%"), num(r["zaps_fired_per_capita"], ".1f"))
    show_table(console, table)
    if few:
        console.print(f"! the intervals rest on {int(summary['episodes'].min())} episodes per point (fewer "
                      f"than 5): rough ranges; --episodes 15 is the study's", highlight=False)


@evaluate.command()
@click.argument("args", nargs=-1, metavar="SCENARIO... POLICY...")
@options.episodes_option(15, "Episodes per policy and scenario.")
@options.max_episode_steps_option("Cut episodes after this many steps (default: the scenario's "
                                  "own end).", old=("--max-steps",))
@click.option("--seed", default=0, show_default=True, type=int,
              help="A scenario's k-th episode has the same seed (world, bots drawn) for every policy.")
@BOTS_ROOT
@options.out_option(OUT_HELP, old=("--output",), required=True)
@click.option("--force", is_flag=True, help="Move an existing results folder aside (to "
              "OUT.old-TIME) and write a new one.")
@click.option("--ray-address", default=None, help="An existing Ray cluster (default: a local Ray).")
@options.TRACKING
def scenario(args, episodes, max_episode_steps, seed, bots_root, out, force, ray_address,
             tracking_uri):
    """Each POLICY focal in Melting Pot's scenarios, bots around it.

    SCENARIO is one of Melting Pot's own (e.g. commons_harvest__open_0), a pattern such as
    'commons_harvest__*', or a substrate for all its scenarios; DeepMind's bots play the
    background, built by Melting Pot's scenario code. `random` is always added: each
    policy's Melting Pot 2.0 score (focal return min-max normalised per scenario over the
    policies, averaged) ranks it. Writes tables, figures, scores, report.html and an MLflow run
    (experiment evaluate-scenarios). The bots must be installed (`popbased doctor`).
    """
    from popbased.cli import progress
    from popbased.evaluation import scenario_results

    prepared = scenario_results.prepare(args, bots_root=bots_root, output=out, force=force,
                                        ray_address=ray_address, tracking_uri=tracking_uri)
    console = progress.console(stderr=True)  # progress and diagnostics
    with progress.TaskProgress(console, f"playing scenarios ({episodes} episodes per policy and "
                                        f"scenario)") as bar:
        made, info, run_id = scenario_results.run(
            prepared, episodes=episodes, seed=seed, max_steps=max_episode_steps,
            progress=bar.update)
    results_out = progress.console()  # the tables and where everything is
    _print_scenarios(results_out, made)
    folder = prepared["out"]
    results_out.print(f"{info['episodes'] * len(info['policies']) * len(info['scenarios'])} episodes in "
                      f"{info['seconds']:.0f} s; tables, scores, figures and report.html in {folder}; MLflow run "
                      f"{run_id} (experiment {scenario_results.EXPERIMENT}) in {prepared['uri']}", highlight=False)


def _print_scenarios(console, made) -> None:
    from rich.table import Table

    from popbased.cli.tables import show_table

    table = Table(title="focal per-capita return (95% bootstrap CI) and normalised score per scenario")
    for name in ("policy", "scenario", "episodes", "focal", "CI", "background", "Gini", "zaps", "score"):
        table.add_column(name, justify="left" if name in ("policy", "scenario") else "right", overflow="fold")
    num = lambda x, fmt: "n/a" if x != x else f"{x:{fmt}}"  # noqa: E731 - NaN: one episode, no CI
    for r in made["summary"].to_dict("records"):
        ci = "n/a" if r["focal_ci_low"] != r["focal_ci_low"] else f"{r['focal_ci_low']:.1f}-{r['focal_ci_high']:.1f}"
        table.add_row(r["policy"], r["scenario"], str(r["episodes"]), num(r["focal_return"], ".1f"), ci,
                      num(r["background_return"], ".1f"), num(r["gini"], ".2f"),
                      num(r["zaps_fired_per_capita"], ".1f"), num(r["score"], ".2f"))
    show_table(console, table)
    ranking = Table(title="ranking: mean normalised score over the scenarios (random included)")
    for name in ("rank", "policy", "score", "scenarios"):
        ranking.add_column(name, justify="left" if name == "policy" else "right")
    for r in made["ranking"].to_dict("records"):
        ranking.add_row(str(r["rank"]), r["policy"], f"{r['score']:.3f}", str(r["scenarios"]))
    show_table(console, ranking)


@evaluate.command()
@click.argument("results_folder", metavar="RESULTS")
@options.out_option("report.html (figures embedded) or report.md.", old=("--output",),
                    required=True)
@click.option("--force", is_flag=True, help="Overwrite the report if it exists (RESULTS/report.html, "
                                            "which the evaluation wrote, is rewritten without it).")
def report(results_folder, out, force):
    """One report file of an evaluation (HTML or Markdown).

    The evaluation's settings, what it evaluated, its summary table and figures; logged to
    the evaluation's MLflow run too when RESULTS was tracked.
    """
    from pathlib import Path

    from popbased.evaluation import report as reporter, results

    path = Path(out)
    if path.suffix.lower() not in (".html", ".htm", ".md", ".markdown"):
        raise BadInput(f"-o {out}: write a .html or .md report")
    own = path.resolve() == (Path(results_folder) / results.REPORT).resolve()
    if path.exists() and not force and not own:
        raise BadInput(f"-o {out} exists; add --force to overwrite it")
    info, tables = results.read(results_folder)
    reporter.write(Path(results_folder), info, tables, path)
    logged = results.log_late(Path(results_folder), [path])
    where = "" if logged is None else (f"; logged to MLflow run {logged[0]}" + (
        f" ({logged[1]} records wait: `popbased tracking sync {results_folder}`)" if logged[1] else ""))
    click.echo(f"wrote {path}{where}")
