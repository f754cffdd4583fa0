"""End-to-end PPO throughput (collection + learning) vs the raw random-play env loop.

Same run, same cores: first the raw Melting Pot loop in P processes (see bench/env.py),
then `popbased.run.train.train` at the reference PPO settings (batch 7,000 agent-steps,
minibatch 1,000, the ~250k-parameter conv net on 11x11x3) for each number of epochs (and
each population size of --members, each round size of --fast-batches on the fast env).
Throughput counts only rounds after a warm-up. Memory is the peak over all processes of
the run (driver, Ray, rollout actors, env workers), sampled every 0.5 s, as RSS and PSS.
--no-raw skips the raw loop (a lent GPU machine has no Melting Pot to spare time on:
scripts/device_check). With --sync-timings (the default) the device collector synchronises
its device at the boundaries of policy inference and env stepping, so that on CUDA the
split holds GPU work, not launches (two syncs per step, counted in the throughput; nothing
changes on a CPU); --no-sync-timings for throughput alone.
"""

from __future__ import annotations

import json
import os
import platform
import threading
import time

import click
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


def bench_train(substrate: str, epochs: int, env: str, warmup_rounds: int, rounds: int,
                opts: dict, envs_per_worker: int | None = None, members: int = 1) -> dict:
    # deferred: the raw loop's spawned processes import this module (bench.env.bench_raw) and
    # measure Melting Pot alone, without popbased's training stack
    from popbased.ppo.config import NetConfig, PPOConfig
    from popbased.ppo.policy import Policy, count_parameters
    from popbased.run.train import train
    from popbased.selfplay import TrainConfig, uses_ray
    from popbased.substrates import resolve

    seen: list[tuple[float, dict]] = []

    def on_round(report) -> bool:
        seen.append((time.perf_counter(), dict(report.timing) | {"agent_steps": report.agent_steps}))
        return len(seen) >= warmup_rounds + rounds

    ppo = PPOConfig(epochs=epochs, minibatch_size=opts["minibatch"])
    config = TrainConfig(substrate, steps=10**12, members=members, workers=opts["workers"],
                         joint_update=opts.get("joint_update", False),
                         envs_per_worker=envs_per_worker or opts["envs_per_worker"],
                         rollout_length=opts["rollout_length"], device=opts["device"], seed=0,
                         overlap=not opts["no_overlap"], ppo=ppo, net=NetConfig(lstm=opts["lstm"]),
                         env=env, env_backend=opts["env_backend"])
    with MemorySampler() as memory:
        report = train(config, on_round)
    (t0, a), (t1, b) = seen[warmup_rounds - 1], seen[-1]
    wall = t1 - t0
    steps = b["agent_steps"] - a["agent_steps"]
    per_round = {k: (b[k] - a[k]) / rounds for k in ("env_s", "inference_s", "learn_s",
                                                    "collect_wait_s")}
    round_wall = wall / rounds
    params = count_parameters(Policy(11, resolve(substrate).action_names, NetConfig(lstm=opts["lstm"])))
    if not uses_ray(config):
        # One process: with overlap a background thread collects (the fast env + every
        # member's forward pass) while the driver's thread learns, so these overlap in time.
        split = {"collection: env stepping": per_round["env_s"],
                 "collection: policy inference": per_round["inference_s"],
                 "driver: PPO update (all members)": per_round["learn_s"],
                 "driver: waiting for the collection": per_round["collect_wait_s"]}
    else:
        workers = config.workers
        # Workers collect while the driver learns, so these overlap in time: per worker,
        # a round is env stepping + inference + the rest (Ray transfers, waiting for the
        # next fragment); the driver learns, then waits for the workers.
        split = {
            "worker: env stepping": per_round["env_s"] / workers,
            "worker: policy inference": per_round["inference_s"] / workers,
            "worker: other (transfers, Ray, idle)": round_wall
            - (per_round["env_s"] + per_round["inference_s"]) / workers,
            "driver: PPO update (all members)": per_round["learn_s"],
            "driver: waiting for fragments": per_round["collect_wait_s"],
        }
    return {
        "env": config.env,
        "epochs": epochs,
        "members": members,
        "joint_update": config.joint_update,
        "agent_steps_per_s": steps / wall,
        "round_agent_steps": report["round_agent_steps"],
        "shape": {"workers": config.workers, "envs_per_worker": config.envs_per_worker,
                  "rollout_length": config.rollout_length},
        "rounds_measured": rounds,
        "round_wall_s": round_wall,
        "split_per_round_s": split,
        "learner_share_of_wall": per_round["learn_s"] / round_wall,
        "overlap": config.overlap and uses_ray(config),
        "env_backend": (config.engine.worker_backend(config.env_backend) if uses_ray(config)
                        else f"{config.env} (in process)"),
        "device": opts["device"],
        "parameters": params,
        "peak_memory_mb": {"rss_sum": round(memory.peak_rss), "pss_sum": round(memory.peak_pss)},
    }


def _ints(text: str) -> list[int]:
    return [int(x) for x in str(text).split(",") if x]


def _save(result: dict, path: str) -> None:
    """The results so far (after each run: a run cut short by a time limit keeps the others)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(result, f, indent=2)


@click.command(context_settings={"help_option_names": ["-h", "--help"]}, help=__doc__)
@click.option("--substrate", default="commons_harvest__open", show_default=True)
@click.option("--env", "envs", default="fast,meltingpot", show_default=True,
              help="Engines to train through, comma-separated (fast, meltingpot).")
@click.option("--processes", type=int, default=os.cpu_count() or 2, show_default=True,
              help="Raw Melting Pot loop processes.")
@click.option("--raw-seconds", type=float, default=45.0, show_default=True)
@click.option("--no-raw", is_flag=True, help="Skip the raw Melting Pot loop (no ratios): PPO alone.")
@click.option("--workers", type=int, default=2, show_default=True)
@click.option("--envs-per-worker", type=int, default=None,
              help="Default: the engine's (2 on Melting Pot, 10 on fast: 7,000 agent-steps).")
@click.option("--fast-batches", default="7000,28000,112000", show_default=True,
              help="Round sizes (agent-steps) to measure on the fast env, comma-separated.")
@click.option("--env-backend", default="auto", show_default=True,
              help="How Melting Pot envs run: auto, process, inline.")
@click.option("--rollout-length", type=int, default=None,
              help="Default: the engine's (250 on Melting Pot, 50 on fast).")
@click.option("--minibatch", type=int, default=1000, show_default=True)
@click.option("--epochs", default="2", show_default=True, help="Comma-separated.")
@click.option("--members", default="1", show_default=True,
              help="Population sizes, comma-separated (members share the seats).")
@click.option("--joint-update", is_flag=True,
              help="Members of one architecture take their PPO steps together (popbased.ppo.joint).")
@click.option("--sync-timings/--no-sync-timings", default=True, show_default=True,
              help="Synchronise the device at the timed parts' boundaries (see above).")
@click.option("--warmup-rounds", type=int, default=3, show_default=True)
@click.option("--rounds", type=int, default=20, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--lstm", type=int, default=0, show_default=True)
@click.option("--no-overlap", is_flag=True)
@click.option("--out", default="bench/train.json", show_default=True)
def main(**opts) -> None:
    import torch  # deferred: see bench_train

    from popbased.env.engines import FAST
    from popbased.rollout.device import SYNC_TIMINGS_ENV
    from popbased.substrates import resolve

    if opts["sync_timings"]:
        os.environ[SYNC_TIMINGS_ENV] = "1"  # read by the device collector train() starts

    result = {"benchmark": "train", "substrate": opts["substrate"],
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "torch": torch.__version__,
                          "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                          "platform": platform.platform()},
              "settings": {k: v for k, v in opts.items() if k != "out"}}

    def raw_pass(label: str) -> float:
        print(f"raw Melting Pot loop ({label}), {opts['processes']} processes, "
              f"{opts['raw_seconds']:.0f} s ...", flush=True)
        run = bench_raw(opts["substrate"], opts["processes"], 5.0, opts["raw_seconds"])
        result.setdefault("raw", {})[label] = run
        print(f"  {run['agent_steps_per_s']:,.0f} agent-steps/s", flush=True)
        return run["agent_steps_per_s"]

    players = resolve(opts["substrate"]).num_players
    plans = []
    for env in opts["envs"].split(","):
        for epochs in _ints(opts["epochs"]):
            for members in _ints(opts["members"]):
                if env == "fast":
                    length = opts["rollout_length"] or FAST.shape["rollout_length"]
                    for batch in _ints(opts["fast_batches"]):
                        plans.append((env, epochs, members, opts["envs_per_worker"] or max(
                            1, round(batch / (opts["workers"] * players * length)))))
                else:
                    plans.append((env, epochs, members, None))
    # The machine's speed drifts (shared host): raw is measured before and after, and each
    # run is compared with their mean.
    before = None if opts["no_raw"] else raw_pass("before")
    result["runs"] = []
    for env, epochs, members, envs in plans:
        print(f"PPO through {env}, {epochs} epochs, {members} member(s), envs per worker "
              f"{envs or 'default'} ...", flush=True)
        # larger rounds: fewer of them (about the same agent-steps as 7,000-step rounds)
        scale = 1 if envs is None else max(1.0, envs / FAST.shape["envs_per_worker"])
        run = bench_train(opts["substrate"], epochs, env, max(2, round(opts["warmup_rounds"] / scale)),
                          max(5, round(opts["rounds"] / scale)), opts, envs, members)
        result["runs"].append(run)
        _save(result, opts["out"])
        print(f"  {run['round_agent_steps']:,} agent-steps per round: "
              f"{run['agent_steps_per_s']:,.0f} agent-steps/s; learner "
              f"{run['learner_share_of_wall']:.0%} of wall; split {run['split_per_round_s']}; "
              f"peak memory {run['peak_memory_mb']}", flush=True)
    raw = None
    if before is not None:
        raw = (before + raw_pass("after")) / 2
    result["raw_agent_steps_per_s"] = raw
    for run in result["runs"]:
        run["ratio_to_raw"] = run["agent_steps_per_s"] / raw if raw else None
        versus = f" = {run['ratio_to_raw']:.0%} of raw ({raw:,.0f})" if raw else ""
        print(f"{run['env']:>10}, {run['epochs']} epochs, {run['members']} member(s), "
              f"{run['round_agent_steps']:>7,} per round: {run['agent_steps_per_s']:,.0f} "
              f"agent-steps/s{versus}")
    write_result(result, opts["out"])


if __name__ == "__main__":
    main()
