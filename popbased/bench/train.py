"""End-to-end PPO throughput (collection + learning) vs the raw random-play env loop.

Same run, same cores: first the raw Melting Pot loop in P processes (see bench/env.py),
then `popbased.selfplay.train` at the reference PPO settings (batch 7,000 agent-steps,
minibatch 1,000, the ~250k-parameter conv net on 11x11x3) for each number of epochs.
Throughput counts only rounds after a warm-up. Memory is the peak over all processes of
the run (driver, Ray, rollout actors, env workers), sampled every 0.5 s, as RSS and PSS.
"""

from __future__ import annotations

import argparse
import os
import platform
import threading
import time

import psutil

from popbased.bench.env import bench_raw, write_result


class MemorySampler:
    """Peak summed RSS / PSS of this process and all its descendants."""

    def __init__(self, every: float = 0.5):
        self.every = every
        self.peak_rss = self.peak_pss = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            rss = pss = 0
            for proc in [me] + me.children(recursive=True):
                try:
                    info = proc.memory_full_info()
                    rss += info.rss
                    pss += getattr(info, "pss", info.rss)
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
            self.peak_rss = max(self.peak_rss, rss / 2**20)
            self.peak_pss = max(self.peak_pss, pss / 2**20)
            self._stop.wait(self.every)

    def __enter__(self) -> "MemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def bench_train(substrate: str, epochs: int, backend: str, warmup_rounds: int, rounds: int,
                args) -> dict:
    from popbased.ppo.config import NetConfig, PPOConfig
    from popbased.ppo.policy import Policy, count_parameters
    from popbased.selfplay import TrainConfig, env_backend, train
    from popbased.substrates import resolve

    seen: list[tuple[float, dict]] = []

    def on_round(report) -> bool:
        seen.append((time.perf_counter(), dict(report.timing) | {"agent_steps": report.agent_steps}))
        return len(seen) >= warmup_rounds + rounds

    ppo = PPOConfig(epochs=epochs, minibatch_size=args.minibatch)
    config = TrainConfig(substrate, steps=10**12, workers=args.workers,
                         envs_per_worker=args.envs_per_worker, rollout_length=args.rollout_length,
                         device=args.device, seed=0, overlap=not args.no_overlap, ppo=ppo,
                         net=NetConfig(lstm=args.lstm), env_backend=backend)
    with MemorySampler() as memory:
        report = train(config, on_round)
    (t0, a), (t1, b) = seen[warmup_rounds - 1], seen[-1]
    wall = t1 - t0
    steps = b["agent_steps"] - a["agent_steps"]
    per_round = {k: (b[k] - a[k]) / rounds for k in ("env_s", "inference_s", "learn_s",
                                                    "collect_wait_s")}
    round_wall = wall / rounds
    params = count_parameters(Policy(11, resolve(substrate).action_names, NetConfig(lstm=args.lstm)))
    return {
        "epochs": epochs,
        "agent_steps_per_s": steps / wall,
        "round_agent_steps": report["round_agent_steps"],
        "rounds_measured": rounds,
        "round_wall_s": round_wall,
        # Workers collect while the driver learns, so these overlap in time: per worker,
        # a round is env stepping + inference + the rest (Ray transfers, waiting for the
        # next fragment); the driver learns, then waits for the workers.
        "split_per_round_s": {
            "worker: env stepping": per_round["env_s"] / args.workers,
            "worker: policy inference": per_round["inference_s"] / args.workers,
            "worker: other (transfers, Ray, idle)": round_wall
            - (per_round["env_s"] + per_round["inference_s"]) / args.workers,
            "driver: PPO update (all members)": per_round["learn_s"],
            "driver: waiting for fragments": per_round["collect_wait_s"],
        },
        "overlap": not args.no_overlap,
        "env_backend": env_backend(backend),
        "device": report["learners"] and args.device,
        "parameters": params,
        "peak_memory_mb": {"rss_sum": round(memory.peak_rss), "pss_sum": round(memory.peak_pss)},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench_train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--substrate", default="commons_harvest__open")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2,
                        help="raw loop processes (default: CPU count)")
    parser.add_argument("--raw-seconds", type=float, default=45.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--envs-per-worker", type=int, default=2)
    parser.add_argument("--env-backend", default="auto",
                        help="auto, process or inline; comma-separated to compare")
    parser.add_argument("--rollout-length", type=int, default=250,
                        help="steps per env per round (2 workers x 2 envs x 7 players x 250 = 7,000)")
    parser.add_argument("--minibatch", type=int, default=1000)
    parser.add_argument("--epochs", default="2,1,4", help="comma-separated")
    parser.add_argument("--warmup-rounds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--lstm", type=int, default=0)
    parser.add_argument("--no-overlap", action="store_true")
    parser.add_argument("--out", default="bench/train.json")
    args = parser.parse_args(argv)

    import torch

    from popbased.selfplay import env_backend

    result = {"benchmark": "train", "substrate": args.substrate,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "torch": torch.__version__,
                          "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                          "platform": platform.platform()},
              "settings": {k: v for k, v in vars(args).items() if k != "out"}}
    def raw_pass(label: str) -> float:
        print(f"raw Melting Pot loop ({label}), {args.processes} processes, "
              f"{args.raw_seconds:.0f} s ...", flush=True)
        run = bench_raw(args.substrate, args.processes, 5.0, args.raw_seconds)
        result.setdefault("raw", {})[label] = run
        print(f"  {run['agent_steps_per_s']:,.0f} agent-steps/s", flush=True)
        return run["agent_steps_per_s"]

    # The machine's speed drifts (shared host): raw is measured before and after, and each
    # run is compared with their mean.
    before = raw_pass("before")
    result["runs"] = []
    for backend in args.env_backend.split(","):
        for epochs in [int(e) for e in args.epochs.split(",")]:
            print(f"PPO, {epochs} epochs, env backend {env_backend(backend)} ...", flush=True)
            result["runs"].append(bench_train(args.substrate, epochs, backend, args.warmup_rounds,
                                              args.rounds, args))
            print(f"  {result['runs'][-1]['agent_steps_per_s']:,.0f} agent-steps/s; peak memory "
                  f"{result['runs'][-1]['peak_memory_mb']}", flush=True)
    after = raw_pass("after")
    raw = (before + after) / 2
    result["raw_agent_steps_per_s"] = raw
    for run in result["runs"]:
        run["ratio_to_raw"] = run["agent_steps_per_s"] / raw
        print(f"{run['env_backend']:>8}, {run['epochs']} epochs: {run['agent_steps_per_s']:,.0f} "
              f"agent-steps/s = {run['ratio_to_raw']:.0%} of raw ({raw:,.0f})")
    write_result(result, args.out)


if __name__ == "__main__":
    main()
