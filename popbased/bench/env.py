"""Raw Melting Pot loop vs popbased's BatchedEnv, measured in the same run.

raw:  P processes, each `meltingpot.substrate.build(name)` stepped with uniform random
      actions through the stock wrappers (WORLD.RGB included) and reset when an
      episode ends (Melting Pot rebuilds the Lab2d environment on reset).
ours: BatchedEnv with P envs (process backend: one worker process per env plus spares
      that build the next episodes), the same random actions, 11x11 observations,
      all metrics on.
Both run for the same wall time after a warm-up; the JSON has env-steps/s,
agent-steps/s, their ratio, reset stalls and peak memory.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import platform
import resource
import time
from types import SimpleNamespace

import click
import numpy as np


def _vm_hwm_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _raw_loop(args: tuple[str, float, float, int]) -> dict:
    name, warmup, seconds, seed = args
    import meltingpot.substrate as substrate  # deferred: the stock import, TensorFlow and all

    config = substrate.get_config(name)
    env = substrate.build(name, roles=config.default_player_roles)
    num_actions = env.action_spec()[0].num_values
    players = len(config.default_player_roles)
    rng = np.random.default_rng(seed)
    env.reset()
    steps = episodes = 0
    reset_s = 0.0
    start = time.perf_counter()
    measuring = False
    while True:
        now = time.perf_counter()
        if not measuring and now - start >= warmup:
            measuring, start, steps, episodes, reset_s = True, now, 0, 0, 0.0
        if measuring and now - start >= seconds:
            break
        timestep = env.step(rng.integers(0, num_actions, players))
        steps += 1
        if timestep.last():
            t0 = time.perf_counter()
            env.reset()
            reset_s += time.perf_counter() - t0
            episodes += 1
    elapsed = time.perf_counter() - start
    env.close()
    return {"steps": steps, "episodes": episodes, "seconds": elapsed, "reset_s": reset_s,
            "players": players, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def bench_raw(name: str, processes: int, warmup: float, seconds: float) -> dict:
    with mp.get_context("spawn").Pool(processes) as pool:
        runs = pool.map(_raw_loop, [(name, warmup, seconds, i) for i in range(processes)])
    env_steps = sum(r["steps"] / r["seconds"] for r in runs)
    return {
        "env_steps_per_s": env_steps,
        "agent_steps_per_s": env_steps * runs[0]["players"],
        "episodes": sum(r["episodes"] for r in runs),
        "reset_fraction_of_wall": float(np.mean([r["reset_s"] / r["seconds"] for r in runs])),
        "peak_rss_mb_per_process": [round(r["peak_rss_mb"], 1) for r in runs],
    }


def bench_ours(name: str, processes: int, warmup: float, seconds: float, backend: str,
               obs_size: int) -> dict:
    # deferred: the raw loop's spawned processes import this module, and measure Melting Pot alone
    from popbased.env.pool import BatchedEnv
    from popbased.substrates import resolve

    spec = resolve(name)
    env = BatchedEnv(spec, num_envs=processes, seed=0, backend=backend, obs_size=obs_size)
    rng = np.random.default_rng(0)
    env.reset()
    start = time.perf_counter()
    while time.perf_counter() - start < warmup:
        env.step(rng.integers(0, env.num_actions, env.num_seats))
    steps0, wait0, eps0 = env.stats["steps"], env.stats["reset_wait_s"], env.stats["episodes"]
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        env.step(rng.integers(0, env.num_actions, env.num_seats))
    elapsed = time.perf_counter() - start
    steps = (env.stats["steps"] - steps0) * processes
    workers = [p.pid for p in getattr(env, "_procs", [])]
    worker_mb = [_vm_hwm_mb(pid) for pid in workers]
    out = {
        "backend": backend,
        "workers": env.num_workers,
        "env_steps_per_s": steps / elapsed,
        "agent_steps_per_s": steps / elapsed * env.players,
        "episodes": env.stats["episodes"] - eps0,
        "reset_wait_fraction_of_wall": (env.stats["reset_wait_s"] - wait0) / elapsed,
        "driver_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_rss_mb_per_env_instance": (round(float(np.mean(worker_mb)), 1) if worker_mb
                                         else None),
    }
    env.close()
    return out


@click.command(context_settings={"help_option_names": ["-h", "--help"]}, help=__doc__)
@click.option("--substrate", default="commons_harvest__open", show_default=True)
@click.option("--processes", type=int, default=os.cpu_count() or 2, show_default=True,
              help="Raw loop processes = envs in BatchedEnv.")
@click.option("--seconds", type=float, default=60.0, show_default=True,
              help="Measured wall time per side.")
@click.option("--warmup", type=float, default=10.0, show_default=True)
@click.option("--obs-size", type=int, default=11, show_default=True)
@click.option("--inline", is_flag=True, help="Also measure the inline backend.")
@click.option("--out", default="bench/env.json", show_default=True)
def main(**opts) -> None:
    args = SimpleNamespace(**opts)
    result = {
        "benchmark": "env",
        "substrate": args.substrate,
        "processes": args.processes,
        "seconds": args.seconds,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
    }
    print(f"raw Melting Pot loop: {args.processes} processes, {args.seconds:.0f} s ...", flush=True)
    result["raw"] = bench_raw(args.substrate, args.processes, args.warmup, args.seconds)
    print(f"  {result['raw']['env_steps_per_s']:.0f} env-steps/s", flush=True)
    print(f"popbased BatchedEnv: {args.processes} envs, {args.seconds:.0f} s ...", flush=True)
    result["ours"] = bench_ours(args.substrate, args.processes, args.warmup, args.seconds,
                                "process", args.obs_size)
    print(f"  {result['ours']['env_steps_per_s']:.0f} env-steps/s", flush=True)
    if args.inline:
        result["ours_inline"] = bench_ours(args.substrate, args.processes, args.warmup,
                                           args.seconds, "inline", args.obs_size)
    result["ratio"] = result["ours"]["env_steps_per_s"] / result["raw"]["env_steps_per_s"]
    write_result(result, args.out)


def write_result(result: dict, path: str) -> None:
    """Writes a benchmark's JSON (creating its folder) and prints it."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
