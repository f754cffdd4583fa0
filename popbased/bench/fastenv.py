"""The fast commons_harvest against raw Melting Pot random play, measured in the same run.

fast: FastBatchedEnv with B worlds (B over --batch-sizes) on --device, uniform random
      actions drawn on the device, every step with views, rewards and all metrics
      (step_tensors: the device-resident path); agent-steps/s, the time per part of the
      step, and the bytes of state per world. On CUDA, throughput is timed without syncs
      (one at the end) and the time per part in a second, shorter pass that synchronises at
      each part boundary (kernels are asynchronous: unsynchronised, a part's GPU work lands
      in whichever part waits next); on a CPU both come from one pass.
raw:  P processes each stepping `meltingpot.substrate.build(name)` with random actions
      through the stock wrappers, resets included (popbased.bench.env.bench_raw); skipped
      with --no-raw (a lent GPU machine: scripts/device_check).
"""

from __future__ import annotations

import os
import platform
import resource
import time

import click
import torch

from popbased.bench.env import bench_raw, write_result
from popbased.devices import sync


def _state_bytes(env) -> int:
    tensors = [v for v in vars(env.world).values() if isinstance(v, torch.Tensor)]
    tensors += [v for v in vars(env.tracker).values() if isinstance(v, torch.Tensor)]
    tensors += list(env.tracker.counts.values()) + list(env.tracker.shaped.values())
    per_world = [t for t in tensors if t.dim() > 0 and t.shape[0] == env.num_envs]
    return sum(t.numel() * t.element_size() for t in per_world)


def bench_fast(name: str, batch: int, seconds: float, warmup: float, device: str) -> dict:
    # deferred: the raw loop's spawned processes import this module (bench.env.bench_raw)
    from popbased.env.fast.env import FastBatchedEnv
    from popbased.substrates import resolve

    env = FastBatchedEnv(resolve(name), batch, seed=0, device=device)
    env.reset()
    gen = torch.Generator(device=env.device)
    gen.manual_seed(0)

    def run(limit: float) -> tuple[int, float]:
        steps, start = 0, time.perf_counter()
        while time.perf_counter() - start < limit or steps < 3:
            actions = torch.randint(0, env.num_actions, (env.num_seats,), generator=gen, device=env.device)
            env.step_tensors(actions)
            steps += 1
        sync(env.device)
        return steps, time.perf_counter() - start

    run(warmup)
    env.timings.clear()
    steps, elapsed = run(seconds)
    part_steps, part_elapsed = steps, elapsed
    if env.device.type == "cuda":  # the parts in a pass of their own, synchronised
        env.exact_timings = True
        sync(env.device)
        env.timings.clear()
        part_steps, part_elapsed = run(max(1.0, seconds / 4))
    parts = {k: v / part_steps * 1e3 for k, v in env.timings.items()}
    return {"batch": batch, "steps": steps, "seconds": elapsed,
            "env_steps_per_s": steps * batch / elapsed,
            "agent_steps_per_s": steps * batch * env.players / elapsed,
            "ms_per_step": elapsed / steps * 1e3,
            "ms_per_part": {k: round(v, 3) for k, v in parts.items()},
            "parts_synchronised": env.exact_timings,
            "actions_and_other_ms": round(part_elapsed / part_steps * 1e3 - sum(parts.values()), 3),
            "state_bytes_per_world": _state_bytes(env) / batch,
            "episodes": env.stats["episodes"]}


@click.command(help=__doc__)
@click.option("--substrate", default="open", show_default=True, help="A commons_harvest variant.")
@click.option("--batch-sizes", default="1,4,16,64,256,1024,4096", show_default=True)
@click.option("--seconds", default=5.0, show_default=True, help="Measured wall time per batch size.")
@click.option("--warmup", default=1.0, show_default=True)
@click.option("--raw-seconds", default=30.0, show_default=True, help="Measured wall time of raw Melting Pot.")
@click.option("--no-raw", is_flag=True, help="Skip raw Melting Pot (no ratios): the fast env alone.")
@click.option("--raw-processes", default=os.cpu_count() or 1, show_default=True,
              help="Raw Melting Pot processes (default: the CPU count, the same cores).")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or auto.")
@click.option("--threads", default=1, show_default=True, type=int,
              help="torch threads for the fast env (1: one core against raw Melting Pot's "
                   "--raw-processes; more threads on a busy 2-core machine only spin).")
@click.option("--out", default="bench/fastenv.json", show_default=True)
def main(substrate: str, batch_sizes: str, seconds: float, warmup: float, raw_seconds: float,
         no_raw: bool, raw_processes: int, device: str, threads: int, out: str) -> None:
    from popbased.substrates import resolve  # deferred: see bench_fast

    spec = resolve(substrate)  # bad names fail before anything runs
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.set_num_threads(threads)
    sizes = [int(b) for b in batch_sizes.split(",")]
    result = {"benchmark": "fastenv", "substrate": substrate, "players": spec.num_players,
              "device": device, "torch_threads": torch.get_num_threads(),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "torch": torch.__version__, "platform": platform.platform()}}
    stock = {"open": "commons_harvest__open"}.get(substrate, substrate)
    result["raw"] = None
    if not no_raw:
        print(f"raw Melting Pot ({stock}): {raw_processes} processes, {raw_seconds:.0f} s ...",
              flush=True)
        result["raw"] = bench_raw(stock, raw_processes, min(5.0, raw_seconds / 3), raw_seconds)
        result["raw"]["substrate"] = stock
        print(f"  {result['raw']['agent_steps_per_s']:.0f} agent-steps/s", flush=True)
    result["fast"] = []
    for batch in sizes:
        row = bench_fast(substrate, batch, seconds, warmup, device)
        row["ratio_to_raw"] = (row["agent_steps_per_s"] / result["raw"]["agent_steps_per_s"]
                               if result["raw"] else None)
        result["fast"].append(row)
        ratio = f" ({row['ratio_to_raw']:.1f}x raw)" if result["raw"] else ""
        print(f"  B={batch}: {row['agent_steps_per_s']:.0f} agent-steps/s{ratio}; ms per part "
              f"{row['ms_per_part']}", flush=True)
    best = max(result["fast"], key=lambda r: r["agent_steps_per_s"])
    result["best"] = {"batch": best["batch"], "agent_steps_per_s": best["agent_steps_per_s"],
                      "ratio_to_raw": best["ratio_to_raw"]}
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    write_result(result, out)


if __name__ == "__main__":
    main()
