"""`popbased render`: an episode video of a member, an exported policy or random play."""

from __future__ import annotations

import click

from popbased.cli import options
from popbased.errors import BadInput


@click.command()
@click.argument("policy", required=False, shell_complete=options.complete_member)
@click.option("--random", "random_play", is_flag=True, help="Uniform random actions in every seat.")
@click.option("--substrate", default=None,
              help="Substrate or variant to play (default: the arena the member or champion played).")
@click.option("--param", "-p", "params", multiple=True, metavar="KEY=VALUE",
              help="Variant parameter (repeatable), e.g. -p regrowth=0.1.")
@options.out_option("The video: episode.mp4 or episode.gif.", old=("--output",), required=True)
@options.max_episode_steps_option("Cut the episode after this many steps (default: the whole "
                                  "episode); the video has one frame more.", old=("--steps",))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--fps", default=10, show_default=True, type=click.IntRange(1, 60))
@click.option("--scale", default=3, show_default=True, type=click.IntRange(1, 8),
              help="Pixels per world pixel.")
@click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")
@click.option("--tracking-uri", default=None, help="MLflow store to look MLflow run ids up in.")
def render(policy, random_play, substrate, params, out, max_episode_steps, seed, fps, scale, force,
           tracking_uri):
    """Record a video of one episode with POLICY in every seat.

    POLICY is a member (LEAGUE/MEMBER, e.g. runs/league-commons-.../open/m1 or
    commons/open/m1, or its MLflow run id), an exported policy folder (from `popbased export
    champion`), or --random. The players' returns so far are written under the picture.

    \b
    Examples:
      popbased render runs/commons/open/m1 -o m1.mp4
      popbased render --random --substrate open --max-episode-steps 200 -o random.gif
    """
    from popbased.cli import progress
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from popbased import substrates as registry
    from popbased.export import runtime
    from popbased.play import render as renderer
    from popbased.runs import refs

    if random_play == (policy is not None):
        raise BadInput("give POLICY (a member or an exported policy folder) or --random, not both")
    path = renderer.check_output(out, force)
    parsed = registry.parse_assignments(params)
    if random_play:
        arena, arena_params = substrate, {}
        make = lambda actions: renderer.seats_for(None, actions, seed, "random")  # noqa: E731
    elif runtime.is_export(policy):
        info = runtime.Exported.describe(policy)
        arena, arena_params = info["run"]["arena"], info["run"]["arena_params"]
        label = f"export {info['member']}"
        make = lambda actions: renderer.seats_for(policy, actions, seed, label)  # noqa: E731
    else:
        run, member_id = refs.member(policy, tracking_uri)
        arena, arena_params = run.arena, run.arena_params
        checkpoint = run.member(member_id).checkpoint
        make = lambda actions: renderer.seats_for(checkpoint, actions, seed, member_id)  # noqa: E731
    if substrate is not None:
        arena, arena_params = substrate, {}
    if arena is None:
        raise BadInput("--random needs --substrate (e.g. --substrate open)")
    registry.resolve(arena, {**arena_params, **parsed})  # bad substrate or parameter: one line
    console = progress.console(stderr=True)
    with Progress(TextColumn(f"rendering {arena}"), BarColumn(), TextColumn("{task.completed} steps"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("", total=max_episode_steps)
        frames, summary = renderer.episode(arena, {**arena_params, **parsed}, make,
                                           steps=max_episode_steps, seed=seed,
                                           scale=scale, progress=lambda t: bar.update(task, completed=t))
    renderer.write(frames, path, fps)
    returns = ", ".join(f"{r:.0f}" for r in summary["returns"])
    click.echo(f"wrote {path}: {len(frames)} frames of {frames[0].shape[1]}x{frames[0].shape[0]} at {fps} "
               f"fps; returns {returns}")
