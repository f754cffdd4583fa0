"""League overhead: the share of wall time the league spends outside the PPO inner loops.

Runs real leagues (real substrates; real Ray rollout workers on Melting Pot, the device
collector on the fast env) at two scales, between runs of PPO-only self-play (one member)
on the same arena and engine in the same process, for each engine (each league run is
compared with the mean of the PPO-only runs just before and after it: the machine drifts;
with --repeats R every scale runs R times and the figures are the medians):
  demo   the demo's league file (populations/leagues/commons.toml: 3 populations x 2)
  demo-trained  the same without snapshots and random play in the background: every seat is a
         learning member's, so the learners' agent-steps are all the seat-steps (what the
         league costs beyond one member, with nothing played that trains nobody)
  large  4 populations (open, no_zap, farmer, zap_cooldown_10) x 8 members
The inner loops are the training rounds (fragment collection + every member's PPO update).
Overhead = matchmaking + end of generation (payoff, PBT, snapshots, checkpoints) + per-round
bookkeeping (fitness samples, payoff rows, logs, progress), measured from the loop's start.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import click
import torch

from popbased.bench.env import write_result
from popbased.league.run import make_loop, train_config
from popbased.league.spec import load
from popbased.population.spec import load as load_population
from popbased.run.train import train
from popbased.runs import state as files
from popbased.selfplay import TrainConfig
from popbased.substrates import resolve

ROOT = Path(__file__).resolve().parents[2]


def _league(spec, generations: int, args, out: Path, env: str, joint: bool = False) -> dict:
    config = train_config(spec, generations, workers=args["workers"],
                          envs_per_worker=args["envs_per_worker"],
                          rollout_length=args["rollout_length"], device=args["device"], seed=0,
                          out=str(out), env=env, joint_update=joint)
    t0 = time.perf_counter()
    report = make_loop(spec, config, generations).run()
    total = time.perf_counter() - t0
    gens = files.lines(out, "generations.jsonl")
    end_of_gen = sum(g["timing"]["end_of_generation_s"] for g in gens)
    loop = report["loop_s"]
    inner = report["inner_loop_s"]
    overhead = loop - inner - report["evaluation_s"]
    # Learners train on the seats their populations play; background seats (snapshots,
    # random play) are stepped and acted for too but train nobody, so the league's
    # agent-steps (the learners') are fewer than the seat-steps its envs play.
    rounds = sum(1 for r in files.lines(out, "rounds.jsonl") if r.get("phase", "train") == "train")
    seat_steps = rounds * config.workers * config.envs_per_worker * config.rollout_length * (
        resolve(spec.arena, dict(spec.arena_params)).num_players)
    return {
        "populations": {p.name: p.size for p in spec.populations},
        "joint_update": joint,
        "members": sum(p.size for p in spec.populations),
        "generations": generations,
        "steps_per_generation": spec.steps_per_generation,
        "agent_steps": report["agent_steps"],
        "wall_s": {"total_including_ray_and_env_start": total, "loop": loop,
                   "ppo_inner_loops": inner, "evaluation_matches": report["evaluation_s"],
                   "matchmaking": report["matchmaking_s"], "end_of_generation": end_of_gen,
                   "per_round_bookkeeping": overhead - report["matchmaking_s"] - end_of_gen},
        "overhead_share": overhead / loop,
        "agent_steps_per_s": report["agent_steps"] / loop,
        "seat_steps": seat_steps,
        "seat_steps_per_s": seat_steps / loop,
        "worker_restarts": report["worker_restarts"],
        "shape": {"workers": config.workers, "envs_per_worker": config.envs_per_worker,
                  "rollout_length": config.rollout_length},
    }


def _ppo_only(arena: str, steps: int, args, env: str) -> dict:
    config = TrainConfig(arena, steps=steps, members=1, workers=args["workers"],
                         envs_per_worker=args["envs_per_worker"],
                         rollout_length=args["rollout_length"], device=args["device"], seed=0,
                         max_episode_steps=1000, env=env)
    report = train(config)
    return {"agent_steps": report["agent_steps"], "wall_s": report["elapsed_s"],
            "agent_steps_per_s": report["agent_steps_per_s"]}


@click.command(context_settings={"help_option_names": ["-h", "--help"]}, help=__doc__)
@click.option("--env", "envs", default="fast,meltingpot", show_default=True,
              help="Engines, comma-separated (fast, meltingpot).")
@click.option("--generations", type=int, default=2, show_default=True)
@click.option("--large-steps-per-generation", type=int, default=4000, show_default=True,
              help="Agent-steps per member per generation at 4 x 8.")
@click.option("--scales", default="demo,large", show_default=True)
@click.option("--ppo-steps", type=int, default=140_000, show_default=True)
@click.option("--workers", type=int, default=2, show_default=True)
@click.option("--envs-per-worker", type=int, default=None, help="Default: the engine's.")
@click.option("--rollout-length", type=int, default=None, help="Default: the engine's.")
@click.option("--device", default="auto", show_default=True)
@click.option("--joint-update", is_flag=True,
              help="Also run each scale with the members' PPO steps taken together "
                   "(popbased.ppo.joint), as SCALE+joint, in the same run.")
@click.option("--repeats", type=int, default=1, show_default=True,
              help="Runs of every scale (the figures are their medians).")
@click.option("--out", default="bench/league.json", show_default=True)
def main(**args) -> None:
    demo = load(ROOT / "populations" / "leagues" / "commons.toml")
    result = {"benchmark": "league",
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "torch": torch.__version__,
                          "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                          "platform": platform.platform()},
              "settings": {k: v for k, v in args.items() if k != "out"}, "envs": {}}
    specs = {}
    for scale in args["scales"].split(","):
        if scale == "demo":
            specs[scale] = demo
        elif scale == "demo-trained":
            specs[scale] = dataclasses.replace(demo, name="demo-trained", sources=("populations",))
        elif scale == "large":
            pops = []
            for name in ("open", "no_zap", "farmer", "zap_cooldown_10"):
                pop = load_population(ROOT / "populations" / f"{name}.toml")
                pops.append(dataclasses.replace(pop, size=8))
            specs[scale] = dataclasses.replace(
                demo, name="large", populations=tuple(pops),
                steps_per_generation=args["large_steps_per_generation"])
        else:
            raise click.BadParameter(f"unknown scale {scale!r}; allowed: demo, demo-trained, large")
    with tempfile.TemporaryDirectory(prefix="bench-league-") as tmp:
        for env in args["envs"].split(","):
            out = result["envs"][env] = {"scales": {}, "ppo_only_runs": []}
            runs: dict[str, list] = {}

            def ppo_only() -> float:
                print(f"{env}: PPO-only self-play on the arena ...", flush=True)
                one = _ppo_only(demo.arena, args["ppo_steps"], args, env)
                out["ppo_only_runs"].append(one)
                print(f"  {one['agent_steps_per_s']:,.0f} agent-steps/s", flush=True)
                return one["agent_steps_per_s"]

            # the machine drifts: each league run is compared with the mean of the PPO-only
            # runs just before and just after it
            previous = ppo_only()
            for repeat in range(args["repeats"]):
                done = []
                for scale, spec in specs.items():
                    for joint in (False, True) if args["joint_update"] else (False,):
                        name = scale + ("+joint" if joint else "")
                        print(f"{env}: league at {name} scale ...", flush=True)
                        run = _league(spec, args["generations"], args,
                                      Path(tmp) / env / f"{name}-{repeat}", env, joint)
                        runs.setdefault(name, []).append(run)
                        done.append(run)
                        print(f"  overhead {run['overhead_share']:.1%} of "
                              f"{run['wall_s']['loop']:.0f} s; "
                              f"{run['agent_steps_per_s']:,.0f} agent-steps/s", flush=True)
                following = ppo_only()
                for run in done:
                    one = run["ppo_only_agent_steps_per_s"] = (previous + following) / 2
                    run["speed_vs_ppo_only"] = run["agent_steps_per_s"] / one
                    run["seat_speed_vs_ppo_only"] = run["seat_steps_per_s"] / one
                previous = following
            for name, scale_runs in runs.items():
                speed = sorted(r["speed_vs_ppo_only"] for r in scale_runs)
                seat = sorted(r["seat_speed_vs_ppo_only"] for r in scale_runs)
                out["scales"][name] = {"speed_vs_ppo_only_median": statistics.median(speed),
                                       "seat_speed_vs_ppo_only_median": statistics.median(seat),
                                       "speed_vs_ppo_only_all": speed, "runs": scale_runs}
                print(f"  {name} ({scale_runs[0]['members']} members): "
                      f"{statistics.median(speed):.2f}x one-member PPO in learners' agent-steps "
                      f"(runs {', '.join(f'{x:.2f}' for x in speed)}), "
                      f"{statistics.median(seat):.2f}x in seat-steps")
    write_result(result, args["out"])


if __name__ == "__main__":
    main()
