"""`popbased substrates list | run | compare`."""

from __future__ import annotations

import json

import click

from popbased.cli import options
from popbased.errors import BadInput


@click.group()
def substrates() -> None:
    """Melting Pot substrates and the study's variants."""


@substrates.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--all", "show_all", is_flag=True, help="Also describe every stock substrate's players.")
def list_(as_json: bool, show_all: bool) -> None:
    """Substrates and variants: players, settings, bots.

    Every substrate and variant with its players, actions and settings, and how many of
    DeepMind's bots for it are installed.
    """
    from popbased.cli import progress
    from rich.table import Table

    from popbased import doctor as doctor_lib
    from popbased import substrates as registry
    from popbased.cli.tables import show_table
    from popbased.substrates import meltingpot_loader

    rows = []
    for item in registry.entries():
        row = {"name": item.name, "kind": item.kind, "description": item.description,
               "defaults": dict(item.defaults), "fixed": dict(item.fixed)}
        if item.kind != "stock" or show_all:
            spec = registry.resolve(item.name)
            row["players"] = spec.num_players
            row["actions"] = list(spec.action_names)
        rows.append(row)
    bots = meltingpot_loader.bot_assets()
    configs = meltingpot_loader.bot_configs()
    scenarios = meltingpot_loader.import_module("configs.scenarios").SCENARIO_CONFIGS
    for row in rows:  # Melting Pot's bots and scenarios of each stock substrate, and how many are here
        known = [n for n, c in configs.items() if c.substrate == row["name"]]
        if known:
            row["bots"] = {"known": len(known), "present": len(set(known) & set(bots["present"]))}
            row["scenarios"] = sorted(n for n, c in scenarios.items() if c.substrate == row["name"])
    params = list(registry.CommonsParams.__dataclass_fields__)
    if as_json:
        click.echo(json.dumps({"bots": bots, "parameters": params, "substrates": rows}, indent=2))
        return
    console = progress.console()
    table = Table(title="popbased substrates")
    for column in ("name", "kind", "players", "bots", "settings", "description"):
        table.add_column(column)
    for row in rows:
        settings = {**row["defaults"], **row["fixed"]}
        count = f"{row['bots']['present']}/{row['bots']['known']}" if "bots" in row else ""
        table.add_row(row["name"], row["kind"], str(row.get("players", "")), count,
                      " ".join(f"{k}={v}" for k, v in settings.items()), row["description"])
    show_table(console, table)
    console.print(f"commons_harvest family parameters (--param key=value): {', '.join(params)}")
    console.print("bots: Melting Pot bots present / known for the substrate (its scenarios' background; "
                  "`popbased evaluate scenario` plays them)")
    console.print(doctor_lib.bots_line(bots))


def _progress(console, label: str):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True)


def _play(name: str, params: tuple[str, ...], episodes: int, steps: int | None, seed: int,
          console, policy: str | None = None, env: str = "meltingpot") -> dict:
    from popbased import substrates as registry
    from popbased.env import engines
    from popbased.play import random_play
    from popbased.play.agents import check_policy

    parsed = registry.parse_assignments(params)
    spec = registry.resolve(name, parsed)  # bad input fails before anything starts
    engines.get(env).check(spec)
    check_policy(policy)
    with _progress(console, f"{name}: episodes") as bar:
        task = bar.add_task("play", total=episodes)
        result = random_play(name, parsed, episodes=episodes, max_steps=steps, seed=seed,
                             policy=policy, backend=engines.get(env).play_backend,
                             progress=lambda done, total: bar.update(task, completed=done))
    return {**result, "env": env}


_env = click.option("--env", "env", default="meltingpot", show_default=True,
                    type=options.ENGINE_CHOICE,
                    help="Play Melting Pot itself, or the fast commons_harvest (torch).")


_SUMMARY_ROWS = (
    ("per-capita return", "per_capita_return"),
    ("Gini", "gini"),
    ("episode steps", "steps"),
    ("apples eaten / player", "apples_eaten_per_capita"),
    ("zaps fired / player", "zaps_fired_per_capita"),
    ("zap hits / player", "zap_hits_per_capita"),
    ("useful zaps / player", "useful_zaps_per_capita"),
    ("fully depleted (world)", "depleted_fraction"),
    ("depletion step", "depletion_step"),
    ("proxy depleted (50 steps)", "proxy_depleted_fraction"),
)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return f"{value['mean']:.3g} ± {value['std']:.2g}"
    return f"{value:.0%}" if isinstance(value, float) else str(value)


def _print_table(console, results: list[dict]) -> None:
    from rich.table import Table

    from popbased.cli.tables import show_table

    policies = {r.get("policy") for r in results}
    table = Table(title="random play" if policies == {None} else f"policy {', '.join(map(str, policies))}")
    table.add_column("metric")
    for result in results:
        label = result["substrate"]
        table.add_column(f"{label}\n({result['summary']['episodes']} episodes)")
    for title, key in _SUMMARY_ROWS:
        table.add_row(title, *(_cell(r["summary"].get(key)) for r in results))
    show_table(console, table)


_episodes = options.episodes_option(1, "Episodes to play.")
_steps = options.max_episode_steps_option(old=("--steps",))
_seed = click.option("--seed", default=0, show_default=True, type=int)


@substrates.command()
@click.argument("name")
@click.option("--param", "-p", "params", multiple=True, metavar="KEY=VALUE",
              help="Variant parameter (repeatable), e.g. -p regrowth=0.1 -p no_zap=true.")
@_episodes
@_steps
@_seed
@click.option("--policy", default=None, metavar="POLICY",
              help="Plays every seat: a member checkpoint (from `popbased train`), an exported "
                   "champion folder, or scripted:sustainable / greedy / greedy_zapper / chaser; default: random.")
@_env
@click.option("--json", "as_json", is_flag=True, help="Print every episode's metrics as JSON.")
def run(name: str, params: tuple[str, ...], episodes: int, max_episode_steps: int | None, seed: int,
        policy: str | None, env: str, as_json: bool) -> None:
    """Play NAME and print the study's metrics.

    Random play in every seat (the baseline), or the checkpoint --policy.
    """
    from popbased.cli import progress

    from popbased.textio import json_safe

    console = progress.console(stderr=True)
    result = _play(name, params, episodes, max_episode_steps, seed, console, policy, env)
    if as_json:
        click.echo(json.dumps(json_safe(result), indent=2))
    else:
        _print_table(progress.console(), [result])


@substrates.command()
@click.argument("names", nargs=-1, required=True)
@_episodes
@_steps
@_seed
@_env
@click.option("--json", "as_json", is_flag=True, help="Print JSON summaries.")
def compare(names: tuple[str, ...], episodes: int, max_episode_steps: int | None, seed: int, env: str,
            as_json: bool) -> None:
    """Random play on several substrates, metrics side by side.

    NAMES are substrates or variants.
    """
    from popbased.cli import progress

    from popbased import substrates as registry
    from popbased.env import engines
    from popbased.textio import json_safe

    console = progress.console(stderr=True)
    for name in names:
        engines.get(env).check(registry.resolve(name))
    results = [_play(name, (), episodes, max_episode_steps, seed, console, env=env) for name in names]
    if as_json:
        click.echo(json.dumps(json_safe([{k: r[k] for k in ("substrate", "params", "summary")}
                                         for r in results]), indent=2))
    else:
        _print_table(progress.console(), results)


@substrates.command()
@click.argument("name")
@click.option("--param", "-p", "params", multiple=True, metavar="KEY=VALUE",
              help="Variant parameter (repeatable), e.g. -p regrowth=0.1.")
@options.episodes_option(30, "Random-play episodes per side for the episode statistics.",
                         minimum=2)
@options.max_episode_steps_option("Cut each compared episode after this many steps (default: "
                                  "play to its end).", old=("--steps",))
@click.option("--record-steps", default=500, show_default=True, type=click.IntRange(min=2),
              help="Steps of each recorded real episode for the view and transition checks.")
@click.option("--record-seeds", default=3, show_default=True, type=click.IntRange(min=1),
              help="Recorded real episodes for the view and transition checks.")
@click.option("--factors", default="0.01,0.1,1,10,100", show_default=True,
              help="Regrowth factors of the regrowth check (comma-separated; each times NAME's own).")
@_seed
@options.out_option("Folder for report.json and the figures.", required=True,
                    type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Write into a folder that is not empty.")
def validate(name: str, params: tuple[str, ...], episodes: int, max_episode_steps: int | None,
             record_steps: int, record_seeds: int, factors: str, seed: int, out: str,
             force: bool) -> None:
    """Check the fast env against real Melting Pot on NAME.

    Views bit for bit, transitions, contested cells, regrowth, episode statistics; writes
    OUT/report.json and figures.
    """
    from popbased.cli import progress

    from popbased import substrates as registry
    from popbased.env.fast import validate as validation

    try:
        factor_list = tuple(float(f) for f in factors.split(","))
    except ValueError:
        raise BadInput(f"--factors {factors!r}: expected numbers separated by commas") from None
    if not factor_list or min(factor_list) <= 0:
        raise BadInput(f"--factors {factors!r}: every factor must be > 0")
    console = progress.console(stderr=True)
    report = validation.run(name, registry.parse_assignments(params), episodes=episodes, seed=seed,
                            record_steps=record_steps, record_seeds=record_seeds,
                            max_steps=max_episode_steps, factors=factor_list, out_dir=out, force=force,
                            progress=lambda msg: console.print(f"[dim]{msg}[/dim]"))
    views, moves = report["views"], report["transitions"]
    console.print(f"views: {views['total_mismatches']} mismatches in {views['total_cells']} cells; "
                  f"transitions: {moves['mismatched_step_count']} of {moves['compared_steps']} "
                  f"uncontended steps differ; report in {out}/report.json")
