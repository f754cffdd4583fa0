"""A scenario suite of our own (`popbased evaluate suite SUITE.toml POLICY...`): Melting Pot
2.0's protocol, focal policies among background players they never trained with, shipped as a
file and played with popbased's players, so it runs without DeepMind's bot assets.

    [suite]
    name = "heldout"
    reference = "scripted:sustainable"    # the 1 of the normalised score (random play is 0);
                                           # or a list, the best of them per scenario is the 1

    [scenarios.open__greedy_zapper__resident]
    substrate = "open"                     # any commons_harvest variant or map (name or file)
    params = {}                            # optional: the variant's settings
    focal = 5                              # focal seats (the first ones), the rest background
    background = "scripted:greedy_zapper"  # random, scripted:NAME, or a policy file or export
                                           # folder (a path relative to the suite file)

    [scenarios.open__regrowth_0.1]         # focal = every seat, no background: the policy
    substrate = "open"                     # alone on another arena (maps, regrowth and
    params = {regrowth = 0.1}              # cooldown sweeps)
    focal = 7

    [scenarios.open_0]                     # one of Melting Pot's own scenarios: its substrate,
    meltingpot = "commons_harvest__open_0" # focal seats and DeepMind's bots (they must be
                                           # installed: --bots-root or $POPBASED_BOTS_ROOT),
                                           # played by Melting Pot's scenario code as `evaluate
                                           # scenario` plays it; Melting Pot engine only

Each scenario plays `random`, the reference and every POLICY focal, each in its own episodes
(the same episode seeds for all), and scores a focal policy by its focal per-capita return R
(the mean over episodes of the focal seats' mean return):

    score = (R(policy) - R(random)) / (R(reference) - R(random))

per scenario (NaN where the reference does no better than random), and overall the mean over
the scenarios that have a score (`scenarios` of `of` in the results). Every (scenario, focal policy) is one Ray task, as in `evaluate run`.

With several references (`reference = [A, B]`, Melting Pot 2.0's "1 = the best reference"),
each plays focal as `reference:A`, `reference:B` (rows scored like any policy), and per scenario
the best of them by R is the `reference` row, the 1 (`best_of` names which).

Random play and the reference need playing once per suite, episode count and seed: `baselines`
(an earlier suite.json of the same suite, e.g. `evaluate suite SUITE -o B` with no policy)
gives their focal returns instead of playing them again (an experiment plays them once, in its
step suite/baselines).
"""

from __future__ import annotations

import difflib
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from popbased.errors import BadInput
from popbased.evaluation.policies import PolicyRef
from popbased.evaluation.tasks import TaskStore
from popbased.ppo.actions import RANDOM, is_scripted, scripted_kind
from popbased.substrates import resolve

KEYS = ("substrate", "params", "focal", "background", "description")
MELTINGPOT_KEYS = ("meltingpot", "description")


@dataclass(frozen=True)
class Scenario:
    name: str
    substrate: str
    params: dict[str, str]
    focal: int
    """Focal seats: the first `focal` of the substrate's players."""
    players: int
    background: str | None
    """What plays every other seat: random, scripted:NAME or a policy's path (None: the focal
    policy plays every seat)."""
    description: str = ""
    meltingpot: str | None = None
    """Melting Pot's scenario of that name (its bots, its focal seats), or None: ours."""
    focal_seats: tuple[int, ...] = ()
    """The focal seats (ours: the first `focal`, filled in when not given; Melting Pot's: its
    `is_focal`)."""

    def __post_init__(self):
        if not self.focal_seats:
            object.__setattr__(self, "focal_seats", tuple(range(self.focal)))

    @property
    def mode(self) -> str:
        if self.focal == self.players:
            return "alone"
        return "resident" if self.focal > self.players - self.focal else "visitor"

    def seats(self, focal: str | None) -> list[str | None]:
        return [focal] * self.focal + [self.background] * (self.players - self.focal)


@dataclass(frozen=True)
class Suite:
    name: str
    references: tuple[str, ...]
    """The references as resolved (random, scripted:NAME or a policy's path); the best of them
    per scenario is the 1 of the score."""
    scenarios: tuple[Scenario, ...]
    source: str = ""
    description: str = ""
    files: dict[str, str] = field(default_factory=dict)
    labels: tuple[str, ...] = ()
    """Each reference's focal label: `reference` for one, `reference:AS_WRITTEN` for several."""

    @property
    def reference(self) -> str | list[str]:
        """The reference as recorded: one, or the list."""
        return self.references[0] if len(self.references) == 1 else list(self.references)

    @property
    def played(self) -> list[tuple[str, str]]:
        """(label, policy) of the baselines every scenario plays: random and each reference."""
        return [(RANDOM, RANDOM)] + list(zip(self.labels or (REFERENCE,), self.references))


REFERENCE = "reference"


def is_baseline(label: str) -> bool:
    """Random play, the reference (the best one) or one of several references: a row of every
    scenario, not a policy compared."""
    return label in (RANDOM, REFERENCE) or label.startswith(REFERENCE + ":")


def _policy(value: Any, folder: Path, where: str) -> str:
    """random, scripted:NAME, or an existing file or folder (relative to the suite's folder)."""
    if not isinstance(value, str) or not value:
        raise BadInput(f"{where}: expected random, scripted:NAME or a policy path, got {value!r}")
    if value == RANDOM:
        return value
    if is_scripted(value):
        try:
            scripted_kind(value)
        except BadInput as err:
            raise BadInput(f"{where}: {err}") from None
        return value
    path = Path(value).expanduser()
    path = path if path.is_absolute() else folder / path
    if not path.exists():
        raise BadInput(f"{where}: {value!r} does not exist (looked for {path}); allowed: random, "
                       f"scripted:NAME, a checkpoint file or an exported policy folder")
    return str(path.resolve())


def load(file: str | Path) -> Suite:
    """The suite in `file`, every scenario checked (one line of bad input for what is wrong)."""
    path = Path(file)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise BadInput(f"suite {file}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise BadInput(f"suite {file}: not valid TOML ({err})") from None
    head = raw.get("suite", {})
    if not isinstance(head, dict) or not isinstance(raw.get("scenarios"), dict) or not raw["scenarios"]:
        raise BadInput(f"suite {file}: expected a [suite] table and [scenarios.NAME] tables")
    unknown = sorted(set(raw) - {"suite", "scenarios"})
    if unknown:
        raise BadInput(f"suite {file}: unknown table(s) {', '.join(unknown)}; allowed: suite, scenarios")
    folder = path.parent
    given = head.get("reference", "scripted:sustainable")
    given = given if isinstance(given, list) else [given]
    if not given or len(set(map(str, given))) < len(given):
        raise BadInput(f"{file}: [suite] reference: expected a policy or a list of different "
                       f"policies, got {head.get('reference')!r}")
    references = tuple(_policy(r, folder, f"{file}: [suite] reference") for r in given)
    labels = (REFERENCE,) if len(given) == 1 else tuple(f"{REFERENCE}:{r}" for r in given)
    scenarios = []
    for name, table in raw["scenarios"].items():
        where = f"{file}: [scenarios.{name}]"
        if not isinstance(table, dict):
            raise BadInput(f"{where}: expected a table")
        if "meltingpot" in table:
            scenarios.append(_meltingpot(name, table, where))
            continue
        extra = sorted(set(table) - set(KEYS))
        if extra:
            raise BadInput(f"{where}: unknown key(s) {', '.join(extra)}; allowed: {', '.join(KEYS)}")
        missing = [k for k in ("substrate", "focal") if k not in table]
        if missing:
            raise BadInput(f"{where}: missing {', '.join(missing)}")
        params = table.get("params", {})
        if not isinstance(params, dict):
            raise BadInput(f"{where} params: expected a table of settings, got {params!r}")
        params = {str(k): str(v) for k, v in params.items()}
        try:
            spec = resolve(str(table["substrate"]), params)
        except BadInput as err:
            raise BadInput(f"{where} substrate: {err}") from None
        if spec.params is None:
            raise BadInput(f"{where} substrate: {table['substrate']!r} is not of the commons_harvest "
                           f"family, which popbased's background players play")
        focal, players = table["focal"], spec.num_players
        if not isinstance(focal, int) or isinstance(focal, bool) or not 1 <= focal <= players:
            raise BadInput(f"{where} focal: {focal!r} focal seats; allowed 1 to {players - 1} of "
                           f"{table['substrate']}'s {players} players with a background, or "
                           f"{players} (every seat) without one")
        if (focal < players) != ("background" in table):
            raise BadInput(f"{where}: " + ("missing background (what plays the other "
                                           f"{players - focal} seats)" if focal < players else
                                           f"focal = {players} is every seat: no background"))
        background = _policy(table["background"], folder, f"{where} background") if focal < players else None
        scenarios.append(Scenario(name, str(table["substrate"]), params, focal, players, background,
                                  str(table.get("description", ""))))
    named = [s.meltingpot for s in scenarios if s.meltingpot]
    if len(set(named)) < len(named):
        twice = next(n for n in named if named.count(n) > 1)
        raise BadInput(f"suite {file}: Melting Pot's scenario {twice} is named by more than one "
                       f"[scenarios.NAME]; allowed: each at most once")
    return Suite(str(head.get("name", path.stem)), references, tuple(scenarios), str(path),
                 str(head.get("description", "")), labels=labels)


def _meltingpot(name: str, table: dict, where: str) -> Scenario:
    """A [scenarios.NAME] table naming one of Melting Pot's scenarios (its bots are checked when
    it plays: scenario.check)."""
    from popbased.evaluation import scenario as mp_scenarios

    extra = sorted(set(table) - set(MELTINGPOT_KEYS))
    if extra:
        raise BadInput(f"{where}: unknown key(s) {', '.join(extra)} beside meltingpot (a Melting Pot "
                       f"scenario brings its substrate, focal seats and bots); allowed: "
                       f"{', '.join(MELTINGPOT_KEYS)}")
    known = mp_scenarios.scenario_configs()
    chosen = table["meltingpot"]
    if chosen not in known:
        close = difflib.get_close_matches(str(chosen), list(known), n=1, cutoff=0.8)
        hint = f"did you mean {close[0]}?" if close else "e.g. commons_harvest__open_0"
        raise BadInput(f"{where} meltingpot: {chosen!r} is not one of Melting Pot's {len(known)} "
                       f"scenarios ({hint})")
    item = mp_scenarios.info(chosen)
    return Scenario(name, item.substrate, {}, len(item.focal_seats), item.num_players,
                    f"bots of {chosen}", str(table.get("description", item.description)),
                    meltingpot=chosen, focal_seats=item.focal_seats)


def focal_return(episode: Mapping[str, Any], focal: int | tuple[int, ...]) -> float:
    """The mean return of the focal seats: the first `focal`, or those listed."""
    returns = np.asarray(episode["returns"], dtype=np.float64)
    return float(np.mean(returns[:focal] if isinstance(focal, int) else returns[list(focal)]))


def baseline_rows(suite: Suite, path: str | Path, episodes: int, seed: int, env: str,
                  max_steps: int | None) -> list[dict[str, Any]]:
    """The random and reference focal returns of an earlier suite.json of the same suite, as
    played jobs (BadInput, one line, when it was played otherwise; with several references,
    each one's, the best recomputed)."""
    import json

    try:
        made = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise BadInput(f"--baselines {path}: not a suite's results ({err})") from None
    ours = _loose(_identity(suite, episodes, seed, env, max_steps))
    theirs = _loose({k: made.get(k) for k in ours})
    if theirs != ours:
        what = next(k for k in ours if theirs[k] != ours[k])
        raise BadInput(f"--baselines {path}: played with another {what} ({theirs[what]!r}, here "
                       f"{ours[what]!r}); allowed: the results of this suite, --episodes, --seed, "
                       f"--env and --max-episode-steps")
    labels = [label for label, _ in suite.played]
    rows = [r for r in made.get("rows", []) if r.get("policy") in labels]
    if len(rows) != len(labels) * len(suite.scenarios):
        raise BadInput(f"--baselines {path}: has not every scenario's rows of {', '.join(labels)}")
    return [{"scenario": r["scenario"], "policy": r["policy"], "focal_returns": r["focal_returns"],
             **{k: r[k] for k in ("depleted", "proxy_depleted") if k in r}}
            for r in rows]


def _loose(value):
    """`value` with each path cut to its last two parts: a suite.json kept by an experiment
    (results/NAME/state) has its paths made relative, and must still match."""
    if isinstance(value, dict):
        return {k: _loose(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_loose(v) for v in value]
    if isinstance(value, str) and "/" in value and not value.startswith(("scripted:", "models:/")):
        return "/".join(Path(value).parts[-2:])
    return value


def _identity(suite: Suite, episodes: int, seed: int, env: str, max_steps: int | None) -> dict:
    return {"suite": suite.name, "reference": suite.reference, "scenarios": _scenarios(suite),
            "episodes": episodes, "seed": seed, "env": env, "max_episode_steps": max_steps}


def _scenarios(suite: Suite) -> list[dict[str, Any]]:
    return [{"name": s.name, "substrate": s.substrate, "params": s.params, "focal": s.focal,
             "players": s.players, "mode": s.mode, "background": s.background,
             **({"meltingpot": s.meltingpot, "focal_seats": list(s.focal_seats)} if s.meltingpot else {})}
            for s in suite.scenarios]


def check(suite: Suite, env: str, bots_root: str | None = None,
          policies: Sequence[PolicyRef] = ()) -> str | None:
    """The bots root of the suite's Melting Pot scenarios (None without any), checked: they play
    on Melting Pot only, every bot of theirs is installed, and a scripted focal policy (the
    suite's reference, or one of `policies`) meets only those it can play, the commons_harvest
    family's (one line of bad input if not)."""
    from popbased.evaluation import scenario as mp_scenarios

    names = [s.meltingpot for s in suite.scenarios if s.meltingpot]
    if not names:
        return None
    if env != "meltingpot":
        raise BadInput(f"suite {suite.name}: Melting Pot's scenarios ({', '.join(names)}) play on "
                       f"--env meltingpot only, not {env}")
    scripted = [r for r in suite.references if is_scripted(r)]
    scripted += [p.label for p in policies if p.kind == "scripted"]
    infos = [mp_scenarios.info(n) for n in names] if scripted else []
    for label in scripted:
        mp_scenarios.check_scripted(label, infos)
    return mp_scenarios.check(names, bots_root)[1]


def run(suite: Suite, policies: list[PolicyRef], *, episodes: int, seed: int, max_steps: int | None,
        env: str = "meltingpot", envs: int | None = None, baselines: str | Path | None = None,
        progress: Callable[[int, int], None] | None = None, bots_root: str | None = None,
        keep: str | Path | None = None) -> dict[str, Any]:
    """Plays every scenario with random, the reference (unless `baselines` gives them) and each
    policy focal (Ray tasks; Melting Pot's scenarios as `evaluate scenario` plays them, their
    bots from `bots_root`); the results with each focal policy's return per scenario, its score
    and the overall scores. `keep`: a folder where each finished task of our scenarios is kept
    and from which a rerun takes them instead of playing them again (popbased.evaluation.tasks)."""
    from popbased.evaluation import scenario as mp_scenarios
    from popbased.evaluation.run import _run  # deferred: brings Ray's task machinery

    for p in policies:
        if p.members:
            raise BadInput(f"policy {p.label!r}: a population plays every seat of `evaluate run`; "
                           f"in a suite give one of its members or its exported champion")
        if is_baseline(p.label):
            raise BadInput(f"policy {p.label!r}: random and the reference play in every suite "
                           f"already (labels random, reference and reference:NAME are theirs); "
                           f"give the policies to compare with them")
    root = check(suite, env, bots_root, policies)
    given = [] if baselines is None else baseline_rows(suite, baselines, episodes, seed, env, max_steps)
    focal = ([] if given else suite.played) + \
        [(p.label, p.path) for p in policies]
    by_substrate: dict[tuple, list[dict[str, Any]]] = {}
    ours = [s for s in suite.scenarios if not s.meltingpot]
    theirs = {s.meltingpot: s for s in suite.scenarios if s.meltingpot}
    for s in ours:
        for label, path in focal:
            by_substrate.setdefault((s.substrate, tuple(sorted(s.params.items()))), []).append(
                {"scenario": s.name, "policy": label, "params": s.params, "seats": s.seats(path)})
    total = sum(len(j) for j in by_substrate.values()) + len(theirs) * len(focal)
    played: list[dict[str, Any]] = list(given)
    store = None if keep is None else TaskStore(keep, _identity(suite, episodes, seed, env, max_steps))
    for (substrate, _), jobs in by_substrate.items():
        results = [None if store is None else store.get(j) for j in jobs]
        todo = [i for i, r in enumerate(results) if r is None]
        base = len(played) - len(given) + len(jobs) - len(todo)
        if progress and len(todo) < len(jobs):
            progress(base, total)
        ran = _run([jobs[i] for i in todo], substrate, episodes, seed, max_steps, envs,
                   (lambda done, _n, b=base: progress(b + done, total)) if progress else None, env,
                   (lambda k, result: store.put(jobs[todo[k]], result)) if store else None)
        for i, result in zip(todo, ran):
            results[i] = result
        played += results
    if theirs:
        base, pairs = len(played) - len(given), len(theirs) * len(focal)
        refs = [PolicyRef(label, "random" if path == RANDOM else "policy", None if path == RANDOM else path)
                for label, path in focal]
        for job in mp_scenarios.evaluate(
                refs, [mp_scenarios.info(n) for n in theirs], root, episodes=episodes, seed=seed,
                max_steps=max_steps,
                progress=(lambda done, n: progress(base + done * pairs // n, total)) if progress else None):
            s = theirs[job["scenario"]]
            played.append({"scenario": s.name, "policy": job["policy"],
                           "focal_returns": [focal_return(e, s.focal_seats) for e in job["episodes"]]})
    return {**scored(suite, played), **_identity(suite, episodes, seed, env, max_steps),
            "baselines_from": None if baselines is None else str(baselines)}


def _depletion(job: Mapping[str, Any]) -> dict[str, float]:
    """The fractions of a job's episodes depleted by the world count and by the study's proxy
    (`depleted`, `proxy_depleted`; popbased.env.metrics), where its episodes say (a row read
    from earlier baselines keeps what it had)."""
    if "episodes" not in job:
        return {k: job[k] for k in ("depleted", "proxy_depleted") if k in job}
    return {k: float(np.mean([bool(e[k]) for e in job["episodes"]]))
            for k in ("depleted", "proxy_depleted") if job["episodes"] and all(k in e for e in job["episodes"])}


def scored(suite: Suite, played: list[dict[str, Any]]) -> dict[str, Any]:
    """The suite's results from played jobs ({scenario, policy, episodes})."""
    scenarios = {s.name: s for s in suite.scenarios}
    returns: dict[str, dict[str, list[float]]] = {}
    depletion: dict[tuple[str, str], dict[str, float]] = {}
    for job in played:
        k = scenarios[job["scenario"]].focal_seats
        values = job.get("focal_returns")
        if values is None:
            values = [focal_return(e, k) for e in job["episodes"]]
        returns.setdefault(job["scenario"], {})[job["policy"]] = values
        depletion[(job["scenario"], job["policy"])] = _depletion(job)
    several = len(suite.references) > 1
    rows = []
    for name, by_policy in returns.items():
        best = {}
        if several:
            by_policy.pop(REFERENCE, None)  # recomputed: the best of them
            best_of = max(suite.labels, key=lambda label: np.mean(by_policy[label]))
            by_policy = {REFERENCE: by_policy[best_of], **by_policy}
            depletion[(name, REFERENCE)] = depletion[(name, best_of)]
            best = {"best_of": best_of}
        low, high = np.mean(by_policy[RANDOM]), np.mean(by_policy[REFERENCE])
        for policy, values in by_policy.items():
            r = float(np.mean(values))
            rows.append({"scenario": name, "policy": policy, "mode": scenarios[name].mode,
                         "background": scenarios[name].background, "episodes": len(values),
                         "focal_return": r, "focal_returns": values,
                         "score": (r - low) / (high - low) if high > low else math.nan,
                         **depletion[(name, policy)], **(best if policy == REFERENCE else {})})
    overall = {}
    for policy in dict.fromkeys(r["policy"] for r in rows):
        values = [r["score"] for r in rows if r["policy"] == policy]
        finite = [v for v in values if v == v]
        overall[policy] = {"score": float(np.mean(finite)) if finite else math.nan,
                           "scenarios": len(finite), "of": len(values)}
    return {"suite": suite.name, "source": suite.source, "reference": suite.reference,
            "metric": "focal per-capita return; score 0 = random focal, 1 = the reference focal"
                      + (" (per scenario the best of the references)" if several else ""),
            "scenarios": _scenarios(suite),
            "rows": rows, "overall": overall}
