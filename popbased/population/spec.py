"""Population specs (`populations/*.toml`): a variant's substrate, population size, fixed PPO
settings, and the genes PBT evolves (PPO hyperparameters and reward-shaping weights), each
with its initial value or range and its mutation rule.

    [population]
    name = "no_zap"
    substrate = "no_zap"          # any `popbased substrates list` name
    params = {}                   # variant parameters (map, regrowth, zap_cooldown, ...)
    size = 4
    steps_per_generation = 200_000
    env = "auto"                  # fast | meltingpot | auto (fast for the commons_harvest
                                  # family); --env on the command line wins

    [ppo]                         # fixed PPOConfig fields
    epochs = 2

    [evolve.lr]                   # an evolved PPOConfig field (any but bptt, fixed per run)
    init = [1e-4, 1e-3]           # a value, or a range sampled on the gene's scale
    bounds = [1e-5, 1e-2]
    scale = "log"                 # linear | log | one_minus_log (gamma-style: 1 - x on a log scale)

    [shaping.zapped]              # a reward-shaping weight (fixed when it has no bounds)
    init = [-0.2, 0.0]
    bounds = [-1.0, 0.0]
    grid = false                  # true: members start evenly spaced across init, not drawn

    [arenas.closed]               # optional: train across arenas, the worlds split by weight
    substrate = "commons_harvest__closed"   # (popbased.env.arenas; the substrate above still
    weight = 1                    # fixes actions, components and players, and is played only
                                  # if listed here too)

Loading validates everything and names the file and key of the first problem (BadInput).
"""

from __future__ import annotations

import difflib
import math
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from popbased.env import arenas
from popbased.env.engines import ENVS
from popbased.env.social import SOCIAL_COMPONENTS
from popbased.errors import BadInput
from popbased.ppo.config import PPOConfig, from_mapping
from popbased.substrates import resolve

SCALES = ("linear", "log", "one_minus_log")
MIN_SIZE = 2


@dataclass(frozen=True)
class Gene:
    """One evolved value: where it starts, where it may go, how it is mutated."""

    name: str
    """PPOConfig field or reward component."""
    init: tuple[float, float]
    """Initial range (low == high for a single value)."""
    bounds: tuple[float, float] | None
    """Hard bounds; None = never mutated (a fixed shaping weight)."""
    scale: str = "linear"
    """linear, log (positive values) or one_minus_log (values in (0, 1), e.g. gamma)."""
    integer: bool = False
    """Rounded to an integer after every change."""
    grid: bool = False
    """Initial values on a grid instead of random draws: member i of n starts at i/(n-1) of
    the way across `init` on the gene's scale (a grid search when nobody copies or mutates)."""


FITNESS = ("return", "sustainability", "equality", "pareto", "welfare")
SELECTION = ("truncation", "tournament", "none")
MODES = ("sync", "async")
SEATINGS = ("mixed", "world")
SAMPLES = ("fragment", "episode")
EXPLORES = ("gaussian", "pb2")
INHERITS = ("weights", "genes")


@dataclass(frozen=True)
class PBTConfig:
    """How the population evolves (the `[pbt]` table)."""

    fitness: str = "return"
    """return (per-capita harvest rate), sustainability (1 - depletion), equality (1 - Gini),
    pareto (fronts over all three), or welfare (return x equality x (1 + sustainability) / 2)."""
    selection: str = "truncation"
    """truncation: the bottom `fraction` copies members of the top `fraction`;
    tournament: each member meets one random other and copies it if that one is better;
    none: nobody copies or mutates (random search: members keep their initial draws, fitness
    is still measured, so the best is chosen the same way as in PBT)."""
    fraction: float = 0.25
    """Share of the population in the bottom (and top) group for truncation."""
    confidence: float = 0.95
    """A member copies a better one only if a one-sided Welch t-test on their fitness samples
    says so at this confidence (0 = copy on any difference of means)."""
    min_samples: int = 2
    """Fitness samples both members need before a copy is considered."""
    mutation_stdev: float = 0.1
    """EvoTorch GaussianMutation stdev on the normalised [0, 1] gene axis."""
    resample_probability: float = 0.25
    """Chance that a gene is redrawn from its initial range instead of perturbed."""
    crossover: bool = False
    """A clone's genes come from EvoTorch's simulated binary cross-over of its donor and
    another top member (then mutated), instead of the donor's alone."""
    crossover_eta: float = 10.0
    """SBX crowding index: bigger = children closer to their parents."""
    mode: str = "sync"
    """sync: every member steps at the end of a generation; async: each member steps as soon
    as it has trained `steps_per_generation` since its last step."""
    seating: str = "mixed"
    """mixed: every member an equal share of all seats, reshuffled every fragment (the members
    meet each other); world: each world's seats all one member's (the worlds dealt once, in
    equal shares, each keeping its member; after PBT copies a donor into a member, its worlds
    take the new weights at their next episode start): a member plays whole episodes among
    copies of itself, so its fitness is measured as its champion is scored (7 copies) and a
    member that free-rides on the others' restraint depletes its own worlds instead of scoring
    higher."""
    explore: str = "gaussian"
    """How a member that copied a donor changes the copied genes. gaussian: EvoTorch's
    GaussianMutation on each gene's [0, 1] axis (`mutation_stdev`), or a redraw from its initial
    range (`resample_probability`); pb2: the genes a time-varying Gaussian-process bandit
    proposes from every interval the population has trained (PB2, Parker-Holder et al. 2020;
    popbased.population.pb2), the Gaussian explore while fewer than 4 intervals are known."""
    pb2_radius: float = 0.2
    """explore = "pb2": how far from the donor's genes (on each gene's [0, 1] axis) PB2 may
    propose; 1 = anywhere in the bounds, as in PB2's paper (with a population's few intervals
    in wide bounds, UCB then proposes the bounds' corners, where it knows least)."""
    inherit: str = "weights"
    """What a member that loses to a donor takes from it. weights: the donor's learner
    (weights, optimizer state, counters) and genes, PBT's exploit; genes: the donor's genes
    only, its own weights training on under them (explored as usual; the lineage's event is
    `adopt`): whether copied weights carry a habit (an orchard emptied) that the new genes
    cannot undo in one interval."""
    samples: str = "fragment"
    """What one fitness sample is, for the ranking and the confidence test. fragment: the
    return of one seat over one fragment (many samples, but the seats of a world and the
    fragments of an episode are not independent, so the Welch test's p-values are far too
    small; welfare has no per-sample test); episode: one whole episode the member played
    (seating = "world" only: each episode is then one member's from its first step to its
    last; one begun before PBT copied a donor into the member is left out), its return,
    sustainability, equality and welfare (return x equality x (1 + sustainability) / 2) each
    one sample: fewer samples, independent ones, and the Welch test gates welfare too."""


@dataclass(frozen=True)
class PopulationSpec:
    name: str
    """Population name (defaults to the file name)."""
    substrate: str
    """Substrate or variant it trains on."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """Variant parameters."""
    size: int = 4
    """Members."""
    steps_per_generation: int = 200_000
    """Agent-steps each member trains between PBT steps."""
    ppo: PPOConfig = PPOConfig()
    """Fixed PPO settings (evolved fields start from their genes)."""
    genes: tuple[Gene, ...] = ()
    """Evolved PPO hyperparameters."""
    shaping: tuple[Gene, ...] = ()
    """Reward-shaping weights (evolved when they have bounds)."""
    social: tuple[Gene, ...] = ()
    """Each member's own social-preference parameters ([social.inequity_decay], [social.svo_angle]:
    lambda and theta of popbased.env.social; evolved when they have bounds)."""
    pbt: PBTConfig = PBTConfig()
    """Selection, fitness and mutation settings."""
    env: str = "auto"
    """Env engine it trains on: fast, meltingpot, or auto (fast where the substrate has it);
    `--env` on the command line overrides it."""
    arenas: tuple = ()
    """Arenas it trains across ([arenas.NAME] tables, popbased.env.arenas); empty: `substrate`."""
    source: str = ""
    """The file it came from."""

    def all_genes(self) -> tuple[Gene, ...]:
        """PPO genes by field name, shaping weights as 'shaping.<component>', social parameters
        as 'social.<parameter>'."""
        return (self.genes + tuple(replace(g, name=f"shaping.{g.name}") for g in self.shaping)
                + tuple(replace(g, name=f"social.{g.name}") for g in self.social))


_POPULATION_KEYS = ("name", "substrate", "params", "size", "steps_per_generation", "env")
_GENE_KEYS = ("init", "bounds", "scale", "integer", "grid")
_TOP_KEYS = ("population", "ppo", "evolve", "shaping", "pbt", "arenas", "social")
SOCIAL_GENES = {"inequity_decay": (0.0, 1.0), "svo_angle": (-180.0, 180.0)}
"""Social parameters a member may have of its own, with the values they may take."""


def _unknown(where: str, key: str, allowed) -> BadInput:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return BadInput(f"{where}: unknown key {key!r}{hint}; allowed: {', '.join(allowed)}")


def _check_keys(table: Mapping, allowed, where: str) -> None:
    if not isinstance(table, Mapping):
        raise BadInput(f"{where}: expected a table, got {table!r}")
    for key in table:
        if key not in allowed:
            raise _unknown(where, key, allowed)


def _pair(value, where: str) -> tuple[float, float]:
    if isinstance(value, bool):
        raise BadInput(f"{where}: expected a number or [low, high], got {value!r}")
    if isinstance(value, (int, float)):
        value = [value, value]
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        raise BadInput(f"{where}: expected a number or [low, high], got {value!r}")
    low, high = float(value[0]), float(value[1])
    if not (math.isfinite(low) and math.isfinite(high)):
        raise BadInput(f"{where}: values must be finite, got {value!r}")
    if low > high:
        raise BadInput(f"{where}: lower {low:g} > upper {high:g}")
    return low, high


def parse_gene(name: str, raw: Mapping, where: str, evolved: bool = True) -> Gene:
    _check_keys(raw, _GENE_KEYS, where)
    if "init" not in raw:
        raise BadInput(f"{where}: missing 'init' (a value or [low, high])")
    init = _pair(raw["init"], f"{where}.init")
    bounds = None
    if "bounds" in raw:
        bounds = _pair(raw["bounds"], f"{where}.bounds")
    elif evolved:
        raise BadInput(f"{where}: missing 'bounds' ([low, high]) for an evolved value")
    scale = raw.get("scale", "linear")
    if scale not in SCALES:
        raise BadInput(f"{where}.scale: {scale!r}; allowed: {', '.join(SCALES)}")
    integer = raw.get("integer", False)
    if not isinstance(integer, bool):
        raise BadInput(f"{where}.integer: expected true or false, got {integer!r}")
    grid = raw.get("grid", False)
    if not isinstance(grid, bool):
        raise BadInput(f"{where}.grid: expected true or false, got {grid!r}")
    limits = bounds or init
    if scale == "log" and limits[0] <= 0:
        raise BadInput(f"{where}: log scale needs positive bounds, got lower {limits[0]:g}")
    if scale == "one_minus_log" and not (0 <= limits[0] and limits[1] < 1):
        raise BadInput(f"{where}: one_minus_log scale needs bounds in [0, 1), got {list(limits)}")
    if bounds is not None and not (bounds[0] <= init[0] and init[1] <= bounds[1]):
        raise BadInput(f"{where}: init {list(init)} is outside bounds {list(bounds)}")
    return Gene(name, init, bounds, scale, integer, grid)


def parse(raw: Mapping[str, Any], source: str = "<toml>", default_name: str = "") -> PopulationSpec:
    _check_keys(raw, _TOP_KEYS, source)
    pop = raw.get("population")
    if pop is None:
        raise BadInput(f"{source}: missing [population] table")
    _check_keys(pop, _POPULATION_KEYS, f"{source}: [population]")
    if "substrate" not in pop:
        raise BadInput(f"{source}: [population] needs 'substrate'")
    params = pop.get("params", {})
    if not isinstance(params, Mapping):
        raise BadInput(f"{source}: population.params: expected a table, got {params!r}")
    try:
        spec = resolve(pop["substrate"], params)
    except BadInput as err:
        raise BadInput(f"{source}: population: {err}") from None
    size = pop.get("size", 4)
    if not isinstance(size, int) or isinstance(size, bool) or size < MIN_SIZE:
        raise BadInput(f"{source}: population.size={size!r}: PBT needs at least {MIN_SIZE} members")
    per_gen = pop.get("steps_per_generation", 200_000)
    if not isinstance(per_gen, int) or isinstance(per_gen, bool) or per_gen < 1:
        raise BadInput(f"{source}: population.steps_per_generation={per_gen!r}: must be an integer >= 1")
    ppo_fields = [f.name for f in fields(PPOConfig)]
    fixed = raw.get("ppo", {})
    _check_keys(fixed, ppo_fields, f"{source}: [ppo]")
    evolve = raw.get("evolve", {})
    _check_keys(evolve, ppo_fields, f"{source}: [evolve]")
    both = sorted(set(fixed) & set(evolve))
    if both:
        raise BadInput(f"{source}: {both[0]!r} is both fixed in [ppo] and evolved in [evolve]")
    if "bptt" in evolve:  # the workers cut every fragment into sequences of it from the start
        raise BadInput(f"{source}: [evolve.bptt]: the LSTM's sequence length is fixed for the whole "
                       f"run; set bptt in [ppo]")
    genes = tuple(parse_gene(k, v, f"{source}: evolve.{k}") for k, v in evolve.items())
    start = {g.name: int(round(g.init[0])) if g.integer else g.init[0] for g in genes}
    ppo = from_mapping(PPOConfig, {**fixed, **start}, f"{source}: ppo")
    # deferred: env.instance brings cv2 and Lab2d; reading a population file stays light
    from popbased.env.instance import component_names

    # All names either engine may give: the run checks fast-only ones against its engine.
    components = component_names(spec, True, fast=True) if spec.instrumented else component_names(spec)
    shaping_raw = raw.get("shaping", {})
    if isinstance(shaping_raw, Mapping):
        for key in shaping_raw:
            if key in SOCIAL_COMPONENTS and key not in components:
                raise BadInput(f"{source}: [shaping.{key}]: a social reward component, given by "
                               f"a commons_harvest variant with social=true; add social = true "
                               f"to population.params")
    _check_keys(shaping_raw, components, f"{source}: [shaping]")
    shaping = tuple(parse_gene(k, v, f"{source}: shaping.{k}", evolved=False)
                    for k, v in shaping_raw.items())
    social = _social_genes(raw.get("social", {}), spec, source)
    pbt = parse_pbt(raw.get("pbt", {}), source, size)
    env = pop.get("env", "auto")
    if env not in ENVS:
        raise BadInput(f"{source}: population.env={env!r}; allowed: {', '.join(ENVS)}")
    return PopulationSpec(name=pop.get("name", default_name or pop["substrate"]),
                          substrate=pop["substrate"], params=dict(params), size=size,
                          steps_per_generation=per_gen, ppo=ppo, genes=genes, shaping=shaping,
                          social=social,
                          pbt=pbt, env=env, arenas=arenas.parse(raw.get("arenas"), f"{source}:"),
                          source=source)


def _social_genes(raw: Any, spec, source: str) -> tuple[Gene, ...]:
    """[social.NAME] genes: lambda and theta of the social components, per member."""
    if not raw:
        return ()
    _check_keys(raw, tuple(SOCIAL_GENES), f"{source}: [social]")
    if not getattr(spec.params, "social", False):
        raise BadInput(f"{source}: [social]: each member's own social parameters need the social "
                       f"components; add social = true to population.params")
    out = []
    for name, table in raw.items():
        gene = parse_gene(name, table, f"{source}: social.{name}", evolved=False)
        low, high = SOCIAL_GENES[name]
        for value in (*gene.init, *(gene.bounds or ())):
            if not low <= value <= high:
                raise BadInput(f"{source}: social.{name}: {value!r} is out of range; allowed "
                               f"{low:g} to {high:g}")
        out.append(gene)
    return tuple(out)


def _same_kind(value, default) -> bool:
    if isinstance(default, (bool, str)):
        return type(value) is type(default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(default, float) or isinstance(value, int)


def parse_pbt(raw: Mapping, source: str, size: int) -> PBTConfig:
    where = f"{source}: [pbt]"
    _check_keys(raw, [f.name for f in fields(PBTConfig)], where)
    for key, allowed in (("fitness", FITNESS), ("selection", SELECTION), ("mode", MODES),
                         ("seating", SEATINGS), ("samples", SAMPLES), ("explore", EXPLORES),
                         ("inherit", INHERITS)):
        if key in raw and raw[key] not in allowed:
            raise BadInput(f"{where} {key}={raw[key]!r}; allowed: {', '.join(allowed)}")
    for f in fields(PBTConfig):
        if f.name in raw and not _same_kind(raw[f.name], f.default):
            raise BadInput(f"{where} {f.name}={raw[f.name]!r}: expected {type(f.default).__name__}")
    config = from_mapping(PBTConfig, raw, where)
    checks = (("fraction", 0 < config.fraction <= 0.5, "must be in (0, 0.5]"),
              ("confidence", 0 <= config.confidence < 1, "must be in [0, 1)"),
              ("min_samples", config.min_samples >= 1, "must be >= 1"),
              ("mutation_stdev", config.mutation_stdev >= 0, "must be >= 0"),
              ("resample_probability", 0 <= config.resample_probability <= 1, "must be in [0, 1]"),
              ("crossover_eta", config.crossover_eta >= 0, "must be >= 0"),
              ("pb2_radius", 0 < config.pb2_radius <= 1, "must be in (0, 1]"))
    for key, ok, rule in checks:
        if not ok:
            raise BadInput(f"{where} {key}={getattr(config, key)!r}: {rule}")
    if config.samples == "episode" and config.seating != "world":
        raise BadInput(f"{where} samples='episode' needs seating = \"world\" (with members "
                       f"mixed in a world, an episode is no one member's); allowed with "
                       f"seating={config.seating!r}: samples = \"fragment\"")
    if config.explore == "pb2" and config.fitness == "pareto":
        raise BadInput(f"{where} explore='pb2' needs a fitness that is a number per member to "
                       f"follow over time (Pareto fronts are ranks within one step); allowed with "
                       f"pb2: fitness = {', '.join(repr(f) for f in FITNESS if f != 'pareto')}")
    if config.explore == "pb2" and config.crossover:
        raise BadInput(f"{where} explore='pb2' proposes the genes itself; crossover = true is "
                       f"allowed with explore = \"gaussian\" only")
    if config.selection == "truncation" and math.ceil(config.fraction * size) * 2 > size:
        raise BadInput(f"{where} fraction={config.fraction:g}: with population.size={size}, the "
                       f"bottom and top groups ({math.ceil(config.fraction * size)} each) overlap; "
                       f"use a smaller fraction or a population of at least "
                       f"{2 * math.ceil(config.fraction * size)}")
    return config


def read_toml(path: str | Path, kind: str) -> tuple[Path, dict[str, Any]]:
    """A spec file's table (BadInput naming the file when it is missing or not TOML)."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path}: no such {kind} file")
    try:
        return path, tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise BadInput(f"{path}: not valid TOML ({err})") from None


def load(path: str | Path) -> PopulationSpec:
    path, raw = read_toml(path, "population")
    return parse(raw, str(path), path.stem)
