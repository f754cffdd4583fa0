"""Soak: a long league killed with SIGKILL at random moments and resumed until it is done.

    scripts/soak_league [--generations 30] [--kill-after 30,120] [--out bench/soak_league.json]

Runs `popbased league launch` as a user would (its own local Ray, MLflow in the folder's
mlflow.db), SIGKILLs its whole process group after a random 30-120 s, then `popbased resume`
again, until the last generation is complete. After every kill it keeps what was committed
(the lineage events state.json counts, the first G generation and payoff records); at the
end it checks that all of it is still there unchanged and runs the league audit
(`popbased.league.audit`: nothing duplicated, nothing missing, snapshots, matchmaking and
MLflow consistent). Writes JSON: generations completed, kills survived, resumes, where each
kill landed, and anything lost or duplicated (must be nothing).
"""

from __future__ import annotations

import json
import os
import platform
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from popbased import textio
from popbased.errors import BadInput
from popbased.league.audit import audit
from popbased.runs import state as files

ROOT = Path(__file__).resolve().parents[2]


def _committed(folder: Path) -> dict | None:
    if not (folder / files.STATE).is_file():
        return None
    state = files.read(folder)
    g = state["generation"]
    return {"generation": g,
            "lineage": (folder / "lineage.jsonl").read_text().splitlines()[:state["lineage_events"]],
            "generations": (folder / "generations.jsonl").read_text().splitlines()[:g]
            if (folder / "generations.jsonl").is_file() else [],
            "payoff": (folder / "payoff.jsonl").read_text().splitlines()[:g]
            if (folder / "payoff.jsonl").is_file() else []}


def _where(folder: Path, committed: int) -> str:
    """Where the kill landed, as far as the files tell."""
    rounds = textio.read(folder / "rounds.jsonl")
    if not rounds or rounds[-1]["generation"] < committed:
        return f"after committing generation {committed}"
    last = rounds[-1]
    return f"generation {last['generation'] + 1}, {last['phase']} phase"


def _lost(before: dict, after: dict) -> list[str]:
    out = []
    for key in ("lineage", "generations", "payoff"):
        n = len(before[key])
        if after[key][:n] != before[key]:
            out.append(f"{key}: records committed by generation {before['generation']} changed or went")
    return out


@click.command()
@click.option("--league", "league_file", default=str(ROOT / "populations/leagues/commons.toml"),
              show_default=True, help="League file (the demo's by default).")
@click.option("--generations", default=30, show_default=True, type=click.IntRange(min=2))
@click.option("--steps-per-generation", default=2000, show_default=True, type=click.IntRange(min=1),
              help="Agent-steps per member per generation (small: many generations).")
@click.option("--kill-after", default="30,120", show_default=True,
              help="MIN,MAX seconds between a (re)start and its SIGKILL.")
@click.option("--folder", default=None, help="League folder (default: runs/soak-TIME).")
@click.option("--out", default=str(ROOT / "bench/soak_league.json"), show_default=True)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--max-hours", default=3.0, show_default=True, type=float,
              help="Give up (and say so) after this long.")
def main(league_file, generations, steps_per_generation, kill_after, folder, out, seed, max_hours):
    try:
        low, high = (float(x) for x in kill_after.split(","))
        assert 0 < low <= high
    except (ValueError, AssertionError):
        raise click.BadParameter(f"{kill_after!r}: expected MIN,MAX seconds, 0 < MIN <= MAX",
                                 param_hint="--kill-after") from None
    folder = Path(folder or f"runs/soak-{time.strftime('%Y%m%d-%H%M%S')}").resolve()
    if (folder / "state.json").exists():
        raise click.BadParameter(f"{folder} already holds a league", param_hint="--folder")
    logs = folder.parent / f"{folder.name}-logs"
    logs.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    cli = [sys.executable, "-m", "popbased.cli"]
    launch = cli + ["league", "launch", league_file, "--out", str(folder), "--seed", str(seed),
                    "--steps-per-generation", str(steps_per_generation)]
    resume = cli + ["resume", str(folder)]
    kills, starts, lost = [], 0, []
    started = time.monotonic()
    final_rc = None
    while time.monotonic() - started < max_hours * 3600:
        command = (resume if (folder / "state.json").exists() else launch) + [
            "--generations", str(generations)]
        budget = rng.uniform(low, high)
        log = (logs / f"run-{starts:03d}.log").open("w")
        t0 = time.monotonic()
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=folder.parent,
                                start_new_session=True)
        starts += 1
        try:
            final_rc = proc.wait(timeout=budget)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            final_rc = None
        log.close()
        if final_rc is not None:
            if final_rc != 0:
                lost.append(f"run {starts} exited with {final_rc}: see {log.name}")
            break
        before = _committed(folder)
        kills.append({"after_s": round(time.monotonic() - t0, 1),
                      "committed_generation": before["generation"] if before else 0,
                      "where": _where(folder, before["generation"]) if before else "before the start was committed"})
        click.echo(f"kill {len(kills)} after {kills[-1]['after_s']} s: {kills[-1]['where']}", err=True)
        if before:
            kills[-1]["_before"] = before
    after = _committed(folder)
    for k in kills:
        before = k.pop("_before", None)
        if before and after:
            lost += _lost(before, after)
    try:
        problems = audit(folder) if after else ["no generation was ever committed"]
    except BadInput as err:
        problems = [str(err)]
    result = {
        "league": league_file, "folder": str(folder), "generations_asked": generations,
        "generations_completed": after["generation"] if after else 0,
        "finished": final_rc == 0 and bool(after) and after["generation"] == generations,
        "kills_survived": len(kills), "starts": starts, "resumes": starts - 1,
        "kill_after_s": [low, high], "kills": kills, "elapsed_s": round(time.monotonic() - started, 1),
        "lost_or_changed": lost, "audit_problems": problems,
        "ok": final_rc == 0 and not lost and not problems,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "steps_per_generation": steps_per_generation,
    }
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(result, indent=1) + "\n")
    click.echo(json.dumps({k: v for k, v in result.items() if k != "kills"}, indent=1))
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
