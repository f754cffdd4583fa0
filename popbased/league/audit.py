"""Audit of a league or PBT run folder: is everything that was committed there once, and
nothing else?

A league or PBT run is killed and resumed many times over a long run. `audit(folder)` checks,
field by field, what must hold after any number of kills and resumes (an empty list: all is
well); a PBT run has no payoff records, snapshot pool or matchmaking statistics, so those
checks are a league's only:
- state.json is intact and names intact checkpoints of its own generation G;
- generations.jsonl (and a league's payoff.jsonl) hold generations 1..G, each once;
- lineage.jsonl holds state.json's count of events: one init / keep / exploit (or adopt) per member
  and generation 0..G, nothing later;
- rounds.jsonl holds no rounds of a generation that never completed (its generations
  never go back);
- the snapshot pool after every generation follows the league's rule ([snapshots] every /
  keep: each population's best member joins, the newest `keep` stay), and state.json's pool
  is the last one; its matchmaking statistics are the last payoff table's means;
- MLflow (when the run is tracked and the store answers): one run of the league (or PBT
  run) and one per member, each generation's metrics logged once, up to the generation
  tracking.json says was logged.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

from popbased.errors import BadInput
from popbased.runs import state as files
from popbased.runs.claim import held
from popbased.league.payoff import PayoffTable
from popbased.league.spec import load
from popbased.population.lineage import LineageLog


def expected_pools(summaries: list[dict[str, Any]], every: int, keep: int,
                   enabled: bool = True) -> list[list[str]]:
    """The snapshot pool after each generation, by the league's rule."""
    pool: list[str] = []
    out = []
    for s in summaries:
        g = s["generation"]
        if enabled and every and g % every == 0:
            for pop in dict.fromkeys(m["population"] for m in s["members"].values()):
                if any(m["fitness"] is not None for m in s["members"].values()
                       if m["population"] == pop):
                    pool.append(f"{pop}@g{g}")
                    own = [x for x in pool if x.split("@")[0] == pop]
                    for old in own[:-keep]:
                        pool.remove(old)
        out.append(list(pool))
    return out


def _sequence(what: str, values: list[int], generations: int) -> list[str]:
    want = list(range(1, generations + 1))
    if values == want:
        return []
    counts = Counter(values)
    dup = sorted(g for g, n in counts.items() if n > 1)
    missing = [g for g in want if g not in counts]
    extra = sorted(g for g in counts if g > generations)
    return [f"{what}: generations {values} (duplicated {dup}, missing {missing}, beyond the "
            f"committed generation {extra})"]


def audit(folder: str | Path, *, mlflow: bool = True, kind: str | None = None) -> list[str]:
    """The problems of the run in `folder` ([] when there are none). `kind`: 'league' or
    'pbt' (default: what its state.json says, `popbased.runs.claim.held`). BadInput when it
    holds no intact state at all."""
    folder = Path(folder)
    found = held(folder)
    kind = kind or (found[0] if found and found[0] in ("league", "pbt") else "league")
    league = kind == "league"
    problems: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        state = files.read(folder, "league" if league else "PBT")
    problems += [f"state: {w.message}" for w in caught if issubclass(w.category, UserWarning)]
    g = state["generation"]
    summaries = files.lines(folder, "generations.jsonl")
    payoffs = files.lines(folder, "payoff.jsonl") if league else []
    problems += _sequence("generations.jsonl", [s["generation"] for s in summaries], g)
    if league:
        problems += _sequence("payoff.jsonl", [p["generation"] for p in payoffs], g)

    members = sorted(state["checkpoints"])
    for m in state["checkpoints"]:
        entry = files.checkpoint_entry(state, m)
        if entry["file"] != f"gen-{g:04d}/{m}.pt":
            problems.append(f"state: {m}'s checkpoint {entry['file']} is not of generation {g}")
    events = LineageLog(folder / "lineage.jsonl").events
    if len(events) != state["lineage_events"]:
        problems.append(f"lineage.jsonl: {len(events)} events, state.json counts "
                        f"{state['lineage_events']}")
    for gen in range(g + 1):
        decided = sorted(e.member for e in events if e.generation == gen and e.kind != "explore")
        if decided != members:
            problems.append(f"lineage.jsonl: generation {gen} decides {decided}, not once each "
                            f"for {members}")
    late = sorted({e.generation for e in events if e.generation > g})
    if late:
        problems.append(f"lineage.jsonl: events of generations {late} beyond {g}")
    rounds = [r["generation"] for r in files.lines(folder, "rounds.jsonl")]
    if rounds != sorted(rounds) or (rounds and rounds[-1] > g):
        problems.append("rounds.jsonl: rounds of a generation that never completed are left "
                        "between later ones")

    spec = _spec(folder) if league else None
    if spec is not None and summaries and not problems:
        pools = expected_pools(summaries, spec.snapshot_every, spec.snapshot_keep,
                               "snapshots" in spec.sources)
        for s, pool in zip(summaries, pools):
            if s["snapshots"] != pool:
                problems.append(f"generation {s['generation']}: snapshot pool {s['snapshots']}, "
                                f"the rule gives {pool}")
        if [s["id"] for s in state["snapshots"]] != pools[-1]:
            problems.append(f"state: snapshot pool {[s['id'] for s in state['snapshots']]}, "
                            f"the last generation's is {pools[-1]}")
    if league and payoffs and len(payoffs) == g:
        means = PayoffTable(payoffs[-1]["generation"], payoffs[-1]["cells"]).means()
        stored = {tuple(r[:3]): r[3] for r in state["matchmaking_means"]}
        if set(stored) != set(means) or any(abs(stored[k] - means[k]) > 1e-9 for k in means):
            problems.append("state: matchmaking statistics are not the last payoff table's")
    if mlflow and (folder / "tracking.json").is_file():
        problems += _mlflow(folder, members)
    return problems


def _spec(folder: Path):
    try:
        options = json.loads((folder / "options.json").read_text())
        return load(options["league"])
    except (OSError, KeyError, json.JSONDecodeError, BadInput):
        return None


def _mlflow(folder: Path, members: list[str]) -> list[str]:
    from mlflow.tracking import MlflowClient  # deferred: heavy, only for a tracked league

    tracking = json.loads((folder / "tracking.json").read_text())
    logged = int(tracking.get("generation", 0))
    client = MlflowClient(tracking["uri"])
    try:
        runs = client.search_runs([tracking["experiment_id"]], max_results=10_000,
                                  filter_string=f"tags.`popbased.key` LIKE '{folder.resolve()}::%'")
    except Exception as err:  # the store does not answer: nothing to say about it
        return [f"mlflow: the store at {tracking['uri']} did not answer ({type(err).__name__})"]
    problems = []
    names = Counter(r.data.tags["popbased.key"].split("::", 1)[1] for r in runs)
    if sorted(names) != sorted(["league", *members]) or max(names.values(), default=0) > 1:
        problems.append(f"mlflow: runs {dict(names)}, expected one league run and one per member")
    for r in runs:
        history = client.get_metric_history(r.info.run_id, "agent_steps")
        steps = sorted(m.step for m in history)
        if steps != list(range(1, logged + 1)):
            problems.append(f"mlflow: run {r.info.run_name} has agent_steps at generations {steps}, "
                            f"expected 1..{logged} once each")
    return problems
