"""Fingerprints of three tiny runs on fixed seeds: self-play training, a 2-generation PBT run
and a 2-generation league, all on the fast env in this process. Two trees that give equal
fingerprints wrote the same record files (timings aside), the same checkpoint contents
(weights, optimizer state, counters, RNG states) and the same state.json.

    python -m popbased.bench.fingerprint OUT.json [--work FOLDER]

Compare two such files with `--compare A.json B.json`: it prints every entry that differs
and exits 1 if any does.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

from popbased.league import run as league_run
from popbased.league.spec import load as load_league
from popbased.population import run as pbt_run
from popbased.population.spec import load as load_population
from popbased.ppo.config import PPOConfig
from popbased.run.train import train
from popbased.selfplay import TrainConfig

ROOT = Path(__file__).resolve().parents[2]
TIMING = ("elapsed_s", "agent_steps_per_s", "timing", "time_ms", "generation_s", "inner_loop_s",
          "end_of_generation_s", "loop_s", "evaluation_s", "matchmaking_s", "sha256", "checkpoints",
          "out", "source")
"""Keys left out: wall-clock figures, and what names this folder (paths, and hashes of
checkpoint bytes, whose contents are fingerprinted on their own)."""

SHAPE = {"workers": 1, "envs_per_worker": 4, "rollout_length": 50, "device": "cpu", "env": "fast"}


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in sorted(value.items())
                if k not in TIMING and not k.endswith("_s")}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float):
        return float(f"{value:.10g}")
    return value


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(_clean(value), sort_keys=True, default=str).encode()).hexdigest()[:16]


def _tensors(value: Any, sink) -> None:
    if isinstance(value, torch.Tensor):
        sink.update(value.detach().cpu().contiguous().numpy().tobytes())
    elif isinstance(value, dict):
        for key in sorted(value, key=str):
            sink.update(str(key).encode())
            _tensors(value[key], sink)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _tensors(item, sink)
    else:
        sink.update(repr(value).encode())


def _checkpoint(path: Path) -> str:
    body = path.read_bytes().split(b"\n", 1)[1]
    payload = torch.load(io.BytesIO(body), weights_only=False)
    payload["extra"] = _clean(payload.get("extra", {}))
    sink = hashlib.sha256()
    _tensors(payload, sink)
    return sink.hexdigest()[:16]


def folder(out: Path) -> dict[str, str]:
    """relative path -> fingerprint, for every record file and checkpoint under `out`."""
    prints = {}
    for path in sorted(out.rglob("*")):
        rel = str(path.relative_to(out))
        if path.suffix == ".pt":
            prints[rel] = _checkpoint(path)
        elif path.suffix == ".jsonl":
            prints[rel] = _digest([json.loads(line) for line in path.read_text().splitlines() if line])
        elif path.suffix == ".json":
            prints[rel] = _digest(json.loads(path.read_text()))
    return prints


def runs(work: Path) -> dict[str, dict[str, str]]:
    train(TrainConfig("open", steps=2400, seed=3, out=str(work / "train"),
                      ppo=PPOConfig(epochs=1, minibatch_size=200), **SHAPE))
    pop = load_population(str(ROOT / "populations" / "open.toml"))
    pop = dataclasses.replace(pop, size=3, steps_per_generation=800)
    pbt_run.run(pop, pbt_run.train_config(pop, 2, seed=4, out=str(work / "pbt"), **SHAPE), 2)
    league_file = work / "league.toml"
    league_file.write_text(f'''[league]
name = "tiny"
populations = ["{ROOT / 'populations' / 'open.toml'}", "{ROOT / 'populations' / 'no_zap.toml'}"]
arena = "open"
size = 2
steps_per_generation = 1000
episode_steps = 100

[snapshots]
keep = 1

[evaluation]
episodes = 1
''')
    league = load_league(str(league_file))
    league_run.run(league, league_run.train_config(league, 2, seed=5, out=str(work / "league"),
                                                   **SHAPE), 2)
    return {name: folder(work / name) for name in ("train", "pbt", "league")}


def compare(a: dict, b: dict) -> int:
    differ = 0
    for run in sorted(set(a) | set(b)):
        for rel in sorted(set(a.get(run, {})) | set(b.get(run, {}))):
            x, y = a.get(run, {}).get(rel), b.get(run, {}).get(rel)
            if x != y:
                differ += 1
                print(f"{run}/{rel}: {x} != {y}")
    print(f"{differ} of {sum(len(v) for v in a.values())} entries differ")
    return 1 if differ else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?")
    parser.add_argument("--work")
    parser.add_argument("--compare", nargs=2)
    args = parser.parse_args(argv)
    if args.compare:
        a, b = (json.loads(Path(p).read_text()) for p in args.compare)
        return compare(a, b)
    work = Path(args.work or tempfile.mkdtemp(prefix="fingerprint-"))
    prints = runs(work)
    Path(args.out).write_text(json.dumps(prints, indent=1, sort_keys=True) + "\n")
    print(f"{sum(len(v) for v in prints.values())} files fingerprinted under {work} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
