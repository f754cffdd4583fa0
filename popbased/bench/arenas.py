"""The cost of training across arenas on the fast env: B worlds of one arena (one
FastBatchedEnv) against the same B worlds split between several arenas (a MixedFastEnv, one
batch per arena stepped in turn), random actions, views, rewards and metrics, measured side by
side in the same run (alternating, --repeats times each); the ratio of their agent-steps/s.

    scripts/bench_arenas [--worlds 64,512] [--arenas 3] [--device cpu] [--out bench/arenas.json]

The mixed side's arenas: open (weight 2), commons_harvest__closed and open at regrowth 0.3,
the example of popbased.env.arenas (the first --arenas of them); with --one-map the closed map
is replaced by the open one, so that the ratio is the cost of splitting the batch alone (the
closed map's worlds cost what they cost in any batch).
"""

from __future__ import annotations

import platform
import statistics
import time

import click
import torch

from popbased.bench.env import write_result
from popbased.devices import sync

ARENAS = {"open": {"substrate": "open", "weight": 2}, "closed": {"substrate": "commons_harvest__closed"},
          "slow": {"substrate": "open", "params": {"regrowth": 0.3}}}


def _rate(env, seconds: float, device) -> float:
    env.reset_tensors()
    gen = torch.Generator(device=device).manual_seed(0)
    for _ in range(20):  # warm-up
        env.step_tensors(torch.randint(0, 8, (env.num_seats,), device=device, generator=gen))
    sync(device)
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        env.step_tensors(torch.randint(0, 8, (env.num_seats,), device=device, generator=gen))
        steps += 1
    sync(device)
    return steps * env.num_seats / (time.perf_counter() - t0)


@click.command()
@click.option("--worlds", default="64,512", show_default=True, help="Batch sizes (comma-separated).")
@click.option("--arenas", "count", default=3, show_default=True, type=click.IntRange(2, len(ARENAS)))
@click.option("--seconds", default=4.0, show_default=True, help="Seconds per measurement.")
@click.option("--repeats", default=3, show_default=True, help="Alternating measurements per side.")
@click.option("--one-map", is_flag=True, help="Every arena on the open map (the split's own cost).")
@click.option("--device", default="cpu", show_default=True)
@click.option("--out", default="bench/arenas.json", show_default=True)
def main(worlds: str, count: int, seconds: float, repeats: int, one_map: bool, device: str, out: str) -> None:
    from popbased.env import arenas, engines
    from popbased.env.fast.env import FastBatchedEnv
    from popbased.env.fast.mixed import MixedFastEnv
    from popbased.substrates import resolve

    torch.set_num_threads(1)
    dev = torch.device(device)
    tables = {k: ({**v, "substrate": "open"} if one_map else v) for k, v in list(ARENAS.items())[:count]}
    chosen = arenas.parse(tables, "bench:")
    pairs = list(zip(chosen, arenas.check(chosen, engines.FAST, 11, None, "bench:")))
    rows = []
    for b in [int(x) for x in worlds.split(",")]:
        one, mixed = [], []
        for _ in range(repeats):
            one.append(_rate(FastBatchedEnv(resolve("open"), b, seed=0, device=dev), seconds, dev))
            mixed.append(_rate(MixedFastEnv(pairs, b, seed=0, device=dev), seconds, dev))
        rows.append({"worlds": b, "one_arena_agent_steps_per_s": one, "mixed_agent_steps_per_s": mixed,
                     "ratio_mixed_to_one_median": statistics.median(m / o for m, o in zip(mixed, one))})
        print(rows[-1], flush=True)
    write_result({"benchmark": "arenas", "one_map": one_map, "arenas": {a.name: a.record() for a in chosen},
                  "device": device, "torch_threads": 1, "seconds": seconds, "repeats": repeats,
                  "machine": platform.processor() or platform.machine(), "rows": rows}, out)


if __name__ == "__main__":
    main()
