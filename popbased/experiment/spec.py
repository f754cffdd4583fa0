"""The experiment file (`experiments/*.toml`, docs/experiments.md): arms x seeds of training
runs, each run's champion evaluated on real Melting Pot with the same episode seeds, scored
against random play (0) and a reference policy (1).

    [experiment]
    name = "pbt-vs-random-search"
    seeds = [0, 1, 2, 3, 4]          # independent runs per arm (gene draws, network init, envs)
    agent_steps = 2_000_000          # per arm and seed: every arm trains the same agent-steps
    episodes = 30                    # Melting Pot episodes per evaluation, the same for every policy
    substrate = "open"               # where every policy is evaluated
    reference = "scripted:sustainable"  # optional: the 1 of the normalised score
    # optional: description, max_episode_steps (cuts evaluations: smoke runs only), and the
    # round shape of every training run: workers, envs_per_worker, rollout_length

    [arms.NAME]   # one of, by its keys (each arm may add `note`: who chose what, for the report):
    # pbt:      population = "open.toml" (beside this file), generations, selection, size,
    #           seating (mixed | world), fitness, samples, explore, inherit (the population
    #           file's [pbt] overridden)
    # league:   league = "commons.toml", generations, champion_of (default: its first population)
    # train:    substrate, params, shaping, ppo, members (none of population / league / policy)
    # champion: policy = a path, scripted:NAME or models:/NAME@ALIAS (evaluated once)
    # a trained arm may set its own agent_steps (default: the experiment's), e.g. a population
    # given the share a league's population gets of the league's budget

Optional [matrix]: `arms = ["league", "separate"]` (modes = ["resident", "visitor"], episodes,
baselines = ["random", "reference"]): per seed, those arms' champions and the baselines in
`popbased evaluate matrix` (each focal against each other as background): the cross-play report.

Optional in [experiment]: `suite = "../suites/heldout.toml"` (beside this file) scores every
champion on that held-out scenario suite too (`popbased evaluate suite`, on real Melting Pot,
`suite_episodes` episodes per scenario, default `episodes`): generalisation beside the score.
A list of suites (`suite = ["../suites/heldout.toml", "../suites/sweeps.toml"]`, distinct
suite names) scores every champion on each; the first is the report's "held-out suite score".

Optional in [experiment]: `tuned_on = ["tuning.toml"]` (beside this file): the experiments whose
results chose this one's settings. None of their seeds (nor those of the experiments they were
tuned on in turn) may be among this one's, and the report names them: tuning kept apart from
reporting.

Loading checks everything (the population and league files too, with the arm's overrides)
and names the file, key and value of the first problem, with what is allowed (BadInput).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from popbased.errors import BadInput
from popbased.league import spec as league_spec
from popbased.population import spec as population_spec
from popbased.ppo import shaping as shaping_rules
from popbased.ppo.actions import SCRIPTED, SCRIPTED_KINDS, scripted_kind
from popbased.ppo.config import PPOConfig, from_mapping
from popbased.substrates import resolve

KINDS = ("train", "pbt", "league", "champion")
KIND_KEYS = {"population": "pbt", "league": "league", "policy": "champion"}
"""The key that makes an arm of each kind (an arm with none of them is a `train` arm)."""
ARM_KEYS = {"pbt": ("population", "generations", "selection", "size", "seating", "fitness", "samples",
                    "explore", "inherit"),
            "league": ("league", "generations", "champion_of"),
            "train": ("substrate", "params", "shaping", "ppo", "members"),
            "champion": ("policy",)}
COMMON_ARM_KEYS = ("kind", "note", "agent_steps")
EXPERIMENT_KEYS = ("name", "seeds", "agent_steps", "episodes", "substrate", "reference",
                   "description", "max_episode_steps", "workers", "envs_per_worker",
                   "rollout_length", "suite", "suite_episodes", "tuned_on")
RESERVED = ("random", "reference", "baselines")
"""Names of the baselines' evaluations (eval/random, eval/reference, suite/baselines): not arm
names."""
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
POLICY_SCHEMES = (SCRIPTED, "models:/")
MIN_STEPS_PER_GENERATION = 1000


@dataclass(frozen=True)
class Arm:
    """One way of making a policy, trained once per seed (a champion arm: evaluated once)."""

    name: str
    kind: str
    """train, pbt, league or champion."""
    note: str = ""
    """Who chose what (one sentence for the report)."""
    file: Path | None = None
    """The population (pbt) or league file, as the experiment file names it, resolved."""
    generations: int = 0
    """Generations of a pbt or league run."""
    members: int = 1
    """Members that share the budget: a population's size, a league's members in all, or
    `members` of a train run."""
    substrate: str = "open"
    """What a train arm trains on (pbt/league: their files say)."""
    params: Mapping[str, Any] = field(default_factory=dict)
    shaping: Mapping[str, float] = field(default_factory=dict)
    ppo: Mapping[str, Any] = field(default_factory=dict)
    policy: str | None = None
    """A champion arm's policy (a path resolved, or scripted:NAME / models:/NAME@ALIAS)."""
    champion_population: str | None = None
    """The population whose champion is evaluated (pbt: its name; league: champion_of)."""
    population: Mapping[str, Any] = field(default_factory=dict, compare=False)
    """A pbt arm's population file as TOML data with the arm's overrides (written to
    OUT/files/ARM.toml for the run)."""
    definition: Mapping[str, Any] = field(default_factory=dict, compare=False)
    """The arm as the experiment file gives it (for the report)."""

    own_steps: int | None = None
    """The arm's own agent-steps per seed (`agent_steps` in its table), else the experiment's."""

    def budget(self, agent_steps: int) -> int:
        """Agent-steps per seed: its own, else the experiment's `agent_steps`."""
        return self.own_steps or agent_steps

    def steps_per_generation(self, agent_steps: int) -> int:
        return self.budget(agent_steps) // max(1, self.generations * self.members)


MATRIX_KEYS = ("arms", "modes", "episodes", "baselines")
BASELINES = ("random", "reference")
MODES = ("resident", "visitor")


@dataclass(frozen=True)
class Matrix:
    """Cross-play: per seed, the champions of `arms` and the `baselines` (random play, the
    reference), each focal against each other as background (`evaluate matrix`)."""

    arms: tuple[str, ...]
    modes: tuple[str, ...] = MODES
    episodes: int = 15
    baselines: tuple[str, ...] = BASELINES


@dataclass(frozen=True)
class Tuning:
    """An experiment whose results chose this one's settings (`tuned_on`)."""

    name: str
    file: Path
    seeds: tuple[int, ...]


@dataclass(frozen=True)
class Experiment:
    name: str
    source: Path
    seeds: tuple[int, ...]
    agent_steps: int
    episodes: int
    substrate: str
    arms: tuple[Arm, ...]
    reference: str | None = None
    description: str = ""
    max_episode_steps: int | None = None
    round_shape: Mapping[str, int] = field(default_factory=dict)
    """workers / envs_per_worker / rollout_length given to every training run."""
    suites: tuple[Path, ...] = ()
    """The scenario suites every champion is scored on (popbased.evaluation.suite); the first
    is the report's held-out suite score."""
    suite_names: tuple[str, ...] = ()
    """Each suite's name ([suite] name), in the same order."""
    suite_episodes: int = 0
    """Episodes per scenario and policy of the suite's evaluations."""
    matrix: Matrix | None = None
    """Cross-play between arms' champions ([matrix])."""
    tuned_on: tuple[Tuning, ...] = ()
    """The experiments that chose its settings, and those they were tuned on in turn."""

    def arm(self, name: str) -> Arm:
        return next(a for a in self.arms if a.name == name)

    @property
    def suite_tags(self) -> tuple[tuple[Path, str], ...]:
        """(suite file, tag) per suite: the tag names its steps and folders (suite/TAG/...),
        empty where the experiment has one suite (suite/ARM/seed-S, as before several were
        allowed); none without suites."""
        if len(self.suites) == 1:
            return ((self.suites[0], ""),)
        return tuple(zip(self.suites, self.suite_names))


def _int(value, where: str, low: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise BadInput(f"{where}={value!r}: must be an integer >= {low}")
    return value


def _str(value, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise BadInput(f"{where}={value!r}: must be a non-empty string")
    return value


def _unknown(raw: Mapping, allowed, where: str, what: str = "") -> None:
    for key in raw:
        if key not in allowed:
            raise BadInput(f"{where}: unknown key {key!r}{what}; allowed: {', '.join(allowed)}")


def _file(folder: Path, value, where: str, kind: str) -> Path:
    path = folder / _str(value, where)
    if not path.is_file():
        raise BadInput(f"{where}={value!r}: no such {kind} file ({path}); allowed: a file "
                       f"relative to the experiment file")
    return path


def check_policy(value, folder: Path, where: str) -> str:
    """A policy reference: scripted:NAME, models:/..., or a path relative to the experiment
    file or to the working folder (returned as given when it names a path from here)."""
    ref = _str(value, where)
    try:
        scripted_kind(ref)
    except BadInput:
        raise BadInput(f"{where}={ref!r}: no such scripted policy; allowed: "
                       f"{', '.join(SCRIPTED + k for k in SCRIPTED_KINDS)}") from None
    if ref.startswith(POLICY_SCHEMES):
        return ref
    if ref == "random":
        raise BadInput(f"{where}='random': random play is evaluated anyway (the 0 of the score)")
    for path in (Path(ref), folder / ref):
        if path.exists():
            return str(path)
    raise BadInput(f"{where}={ref!r}: no such checkpoint or export folder (looked in the working "
                   f"folder and beside the experiment file); allowed: a path, scripted:NAME or "
                   f"models:/NAME@ALIAS")


def _kind(name: str, raw: Mapping, where: str) -> str:
    given = [k for k in KIND_KEYS if k in raw]
    if len(given) > 1:
        raise BadInput(f"{where}: {given[0]} and {given[1]} make two kinds of arm; allowed: one of "
                       f"population (pbt), league, policy (champion), or none (train)")
    kind = KIND_KEYS[given[0]] if given else "train"
    if "kind" in raw:
        if raw["kind"] not in KINDS:
            raise BadInput(f"{where}.kind={raw['kind']!r}: unknown arm kind; allowed: "
                           f"{', '.join(KINDS)}")
        if raw["kind"] != kind:
            need = next((k for k, v in KIND_KEYS.items() if v == raw["kind"]), None)
            raise BadInput(f"{where}.kind={raw['kind']!r}: the arm's keys make it a {kind} arm; "
                           + (f"a {raw['kind']} arm needs {need!r}" if need else
                              "a train arm has none of population, league, policy"))
    _unknown(raw, ARM_KEYS[kind] + COMMON_ARM_KEYS, where, f" for a {kind} arm")
    return kind


def _pbt(raw: Mapping, folder: Path, where: str) -> dict:
    path = _file(folder, raw["population"], f"{where}.population", "population")
    _, data = population_spec.read_toml(path, "population")
    data = copy.deepcopy(data)
    if "selection" in raw:
        if raw["selection"] not in population_spec.SELECTION:
            raise BadInput(f"{where}.selection={raw['selection']!r}; allowed: "
                           f"{', '.join(population_spec.SELECTION)} (none: random search)")
        data.setdefault("pbt", {})["selection"] = raw["selection"]
    for key, allowed in (("seating", population_spec.SEATINGS), ("fitness", population_spec.FITNESS),
                         ("samples", population_spec.SAMPLES), ("explore", population_spec.EXPLORES),
                         ("inherit", population_spec.INHERITS)):
        if key in raw:
            if raw[key] not in allowed:
                raise BadInput(f"{where}.{key}={raw[key]!r}; allowed: {', '.join(allowed)}")
            data.setdefault("pbt", {})[key] = raw[key]
    if "size" in raw:
        data.setdefault("population", {})["size"] = _int(raw["size"], f"{where}.size",
                                                          population_spec.MIN_SIZE)
    try:
        pop = population_spec.parse(data, str(path), path.stem)
    except BadInput as err:
        raise BadInput(f"{where}: {err}") from None
    generations = _int(raw.get("generations", 8), f"{where}.generations")
    return dict(file=path, population=data, generations=generations, members=pop.size,
                champion_population=pop.name, substrate=pop.substrate, params=dict(pop.params))


def _league(raw: Mapping, folder: Path, where: str) -> dict:
    path = _file(folder, raw["league"], f"{where}.league", "league")
    try:
        league = league_spec.load(path)
    except BadInput as err:
        raise BadInput(f"{where}: {err}") from None
    names = [p.name for p in league.populations]
    champion_of = raw.get("champion_of", names[0])
    if champion_of not in names:
        raise BadInput(f"{where}.champion_of={champion_of!r}: not a population of {path}; "
                       f"allowed: {', '.join(names)}")
    return dict(file=path, generations=_int(raw.get("generations", 5), f"{where}.generations"),
                members=sum(p.size for p in league.populations), champion_population=champion_of,
                substrate=league.arena, params=dict(league.arena_params))


def _train(raw: Mapping, where: str, default_substrate: str) -> dict:
    substrate = _str(raw.get("substrate", default_substrate), f"{where}.substrate")
    params = raw.get("params", {})
    if not isinstance(params, Mapping):
        raise BadInput(f"{where}.params={params!r}: must be a table of variant parameters")
    try:
        spec = resolve(substrate, params)
    except BadInput as err:
        raise BadInput(f"{where}.substrate={substrate!r}: {err}") from None
    from popbased.env.instance import component_names  # deferred: cv2 and Lab2d, as in spec

    components = component_names(spec, True, fast=True) if spec.instrumented else component_names(spec)
    shaping = raw.get("shaping", {})
    if not isinstance(shaping, Mapping):
        raise BadInput(f"{where}.shaping={shaping!r}: must be a table COMPONENT = WEIGHT")
    shaping = shaping_rules.validate(shaping, components, where=f"{where}.shaping")
    ppo = raw.get("ppo", {})
    if not isinstance(ppo, Mapping):
        raise BadInput(f"{where}.ppo={ppo!r}: must be a table of PPO settings")
    from_mapping(PPOConfig, ppo, f"{where}.ppo")
    return dict(substrate=substrate, params=dict(params), shaping=shaping, ppo=dict(ppo),
                members=_int(raw.get("members", 1), f"{where}.members"))


def _arm(name: str, raw, folder: Path, where: str, experiment: Mapping) -> Arm:
    if not isinstance(raw, Mapping):
        raise BadInput(f"{where}={raw!r}: must be a table ([arms.{name}])")
    if not NAME.match(name) or name in RESERVED:
        raise BadInput(f"{where}: arm name {name!r}; allowed: letters, digits, _ . - (not "
                       f"{' or '.join(RESERVED)})")
    kind = _kind(name, raw, where)
    note = raw.get("note", "")
    if not isinstance(note, str):
        raise BadInput(f"{where}.note={note!r}: must be a string")
    if kind == "pbt":
        fields = _pbt(raw, folder, where)
    elif kind == "league":
        fields = _league(raw, folder, where)
    elif kind == "train":
        fields = _train(raw, where, experiment["substrate"])
    else:
        fields = dict(policy=check_policy(raw["policy"], folder, f"{where}.policy"))
    own = None
    if "agent_steps" in raw:
        if kind == "champion":
            raise BadInput(f"{where}.agent_steps: a champion arm trains nothing; allowed on pbt, "
                           f"league and train arms")
        own = _int(raw["agent_steps"], f"{where}.agent_steps")
    arm = Arm(name=name, kind=kind, note=note, definition=dict(raw), own_steps=own, **fields)
    if kind in ("pbt", "league"):
        per = arm.steps_per_generation(experiment["agent_steps"])
        if per < MIN_STEPS_PER_GENERATION:
            raise BadInput(f"{where}: agent_steps={arm.budget(experiment['agent_steps']):,} over "
                           f"{arm.generations} generations x {arm.members} members is {per} "
                           f"agent-steps per member per generation; allowed: at least "
                           f"{MIN_STEPS_PER_GENERATION} (more agent_steps or fewer generations)")
    return arm


def load(path: str | Path) -> Experiment:
    """The experiment in `path`, checked (BadInput: one line naming file, key and value)."""
    path, raw = population_spec.read_toml(path, "experiment")
    _unknown(raw, ("experiment", "arms", "matrix"), str(path))
    head = raw.get("experiment")
    if not isinstance(head, Mapping):
        raise BadInput(f"{path}: missing [experiment] table")
    where = f"{path}: experiment"
    _unknown(head, EXPERIMENT_KEYS, f"{path}: [experiment]")
    for key in ("seeds", "agent_steps", "episodes"):
        if key not in head:
            raise BadInput(f"{path}: [experiment] needs {key!r}")
    seeds = head["seeds"]
    if not isinstance(seeds, list) or not seeds or len(set(map(repr, seeds))) != len(seeds):
        raise BadInput(f"{where}.seeds={seeds!r}: must be a list of distinct integers >= 0")
    seeds = tuple(_int(s, f"{where}.seeds", 0) for s in seeds)
    substrate = _str(head.get("substrate", "open"), f"{where}.substrate")
    try:
        resolve(substrate, {})
    except BadInput as err:
        raise BadInput(f"{where}.substrate={substrate!r}: {err}") from None
    numbers = {k: _int(head[k], f"{where}.{k}") for k in ("agent_steps", "episodes")}
    optional = {k: _int(head[k], f"{where}.{k}") for k in
                ("max_episode_steps", "workers", "envs_per_worker", "rollout_length") if k in head}
    reference = head.get("reference")
    if reference is not None:
        reference = check_policy(reference, path.parent, f"{where}.reference")
    suites, suite_episodes, names = (), 0, []
    if "suite" in head:
        from popbased.evaluation.suite import load as load_suite  # deferred: checks its scenarios

        given = head["suite"] if isinstance(head["suite"], list) else [head["suite"]]
        if not given or len(set(map(repr, given))) != len(given):
            raise BadInput(f"{where}.suite={head['suite']!r}: a suite file, or a list of distinct ones")
        suites = tuple(_file(path.parent, s, f"{where}.suite", "suite").resolve() for s in given)
        names = [load_suite(s).name for s in suites]
        if len(set(names)) != len(names):
            raise BadInput(f"{where}.suite: two suites are both named {next(n for n in names if names.count(n) > 1)!r}; "
                           f"allowed: suites of distinct names (their steps are named after them)")
        suite_episodes = _int(head.get("suite_episodes", numbers["episodes"]), f"{where}.suite_episodes")
    elif "suite_episodes" in head:
        raise BadInput(f"{where}.suite_episodes: given without suite; add suite = \"SUITE.toml\"")
    description = head.get("description", "")
    if not isinstance(description, str):
        raise BadInput(f"{where}.description={description!r}: must be a string")
    arms_raw = raw.get("arms", {})
    if not isinstance(arms_raw, Mapping) or not arms_raw:
        raise BadInput(f"{path}: [arms] is empty; an experiment needs at least one arm "
                       f"([arms.NAME] with population, league, policy, or substrate and shaping)")
    context = {"agent_steps": numbers["agent_steps"], "substrate": substrate}
    arms = tuple(_arm(n, a, path.parent, f"{path}: arms.{n}", context) for n, a in arms_raw.items())
    matrix = _matrix(raw.get("matrix"), arms, numbers["episodes"], reference is not None, f"{path}: matrix")
    name = _str(head.get("name", path.stem), f"{where}.name")
    if not NAME.match(name):
        raise BadInput(f"{where}.name={name!r}: it names results/NAME; allowed: letters, digits, "
                       f"_ . -")
    tuned_on = _tuned_on(head.get("tuned_on"), path, seeds, f"{where}.tuned_on")
    return Experiment(name=name, source=path, seeds=seeds, agent_steps=numbers["agent_steps"],
                      episodes=numbers["episodes"], substrate=substrate, arms=arms,
                      reference=reference, description=description,
                      max_episode_steps=optional.pop("max_episode_steps", None),
                      round_shape=optional, suites=suites, suite_names=tuple(names) if suites else (),
                      suite_episodes=suite_episodes, matrix=matrix,
                      tuned_on=tuned_on)


def _tuned_on(raw, path: Path, seeds: tuple[int, ...], where: str) -> tuple[Tuning, ...]:
    """The experiments named by `tuned_on`, and theirs in turn (each read for its name and
    seeds only), checked to share no seed with this one."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw or not all(isinstance(v, str) for v in raw):
        raise BadInput(f"{where}={raw!r}: must be a non-empty list of experiment files (beside "
                       f"this file) whose results chose this experiment's settings")
    found: dict[Path, Tuning] = {}
    todo = [(path.parent, value, where) for value in raw]
    while todo:
        folder, value, at = todo.pop(0)
        file = _file(folder, value, at, "experiment").resolve()
        if file == path.resolve() or file in found:
            continue
        _, data = population_spec.read_toml(file, "experiment")
        head = data.get("experiment")
        if not isinstance(head, Mapping) or not isinstance(head.get("seeds"), list):
            raise BadInput(f"{at}={value!r}: {file} is not an experiment file (no [experiment] "
                           f"seeds); allowed: an experiment file")
        tuning = Tuning(str(head.get("name", file.stem)), file,
                        tuple(s for s in head["seeds"] if isinstance(s, int)))
        found[file] = tuning
        shared = sorted(set(seeds) & set(tuning.seeds))
        if shared:
            raise BadInput(f"{where}: seed {shared[0]} of this experiment is a seed of "
                           f"{tuning.name} ({file.name}, seeds {', '.join(map(str, tuning.seeds))}), "
                           f"whose results chose its settings; allowed: seeds no tuning run used")
        more = head.get("tuned_on", [])
        if not isinstance(more, list) or not all(isinstance(v, str) for v in more):
            raise BadInput(f"{where}: {file}: experiment.tuned_on={more!r}: must be a list of "
                           f"experiment files (beside that file)")
        todo += [(file.parent, v, f"{file}: experiment.tuned_on") for v in more]
    return tuple(found.values())


def _matrix(raw, arms: tuple[Arm, ...], episodes: int, has_reference: bool, where: str) -> Matrix | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise BadInput(f"{where}: expected a [matrix] table with arms, modes and episodes")
    _unknown(raw, MATRIX_KEYS, where)
    names = [a.name for a in arms]
    chosen = raw.get("arms")
    if not isinstance(chosen, list) or not chosen or len(set(map(repr, chosen))) != len(chosen):
        raise BadInput(f"{where}.arms={chosen!r}: a list of distinct arm names ({', '.join(names)})")
    for name in chosen:
        if name not in names:
            raise BadInput(f"{where}.arms: {name!r} is not an arm; allowed: {', '.join(names)}")
    modes = raw.get("modes", list(MODES))
    if not isinstance(modes, list) or not modes or any(m not in MODES for m in modes):
        raise BadInput(f"{where}.modes={modes!r}: allowed resident and/or visitor")
    allowed = BASELINES if has_reference else BASELINES[:1]
    baselines = raw.get("baselines", list(allowed))
    if (not isinstance(baselines, list) or len(set(map(repr, baselines))) != len(baselines)
            or any(b not in allowed for b in baselines)):
        raise BadInput(f"{where}.baselines={baselines!r}: a list of distinct baselines among "
                       f"{', '.join(allowed)}" + ("" if has_reference else
                                                  " (reference needs [experiment] reference)"))
    if len(chosen) + len(baselines) < 2:
        raise BadInput(f"{where}: one arm and no baseline is no cross-play; name two arms or keep a baseline")
    return Matrix(tuple(chosen), tuple(dict.fromkeys(modes)),
                  _int(raw.get("episodes", episodes), f"{where}.episodes"),
                  tuple(b for b in BASELINES if b in baselines))
