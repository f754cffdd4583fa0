"""League specs (`populations/leagues/*.toml`): which populations meet, where, and how.

    [league]
    name = "commons"
    populations = ["open", "no_zap", "farmer"]  # populations/<name>.toml, or paths to files
    arena = "open"                 # the substrate every match is played in
    arena_params = {}
    size = 3                       # optional: members per population (default: each file's size)
    steps_per_generation = 50_000  # agent-steps per member per generation
    episode_steps = 1000           # episode length (a multiple of the rollout length)
    member_draw = "match"          # match: one member plays all its population's seats in a
                                   # match; seat: every seat draws its own member
    env = "auto"                   # fast | meltingpot | auto (fast where the arena has it);
                                   # --env on the command line wins

    [modes.self_play]              # all seats one population
    share = 0.4
    [modes.resident]               # focal majority
    share = 0.3
    focal = 5
    [modes.visitor]                # focal minority
    share = 0.3
    focal = 1

    [background]
    sources = ["populations", "snapshots", "random"]   # also "bots", then
    # bots = ["scripted:greedy_zapper", "commons_harvest__open_0"]  # scripted players (both
    #                                    engines), Melting Pot's scenarios (their bots) or bots

    [matchmaking]
    train = "pfsp"                 # uniform | pfsp
    evaluate = "uniform"
    pfsp_power = 2.0

    [evaluation]
    episodes = 0                   # extra evaluation episodes per env after each generation
    env = "meltingpot"             # optional: play them on another engine (default: the
                                   # training env), e.g. Melting Pot itself while training fast

    [snapshots]
    every = 1                      # freeze each population's best member every N generations
    keep = 3                       # newest snapshots per population that stay in the pool

    [fitness]
    kind = "league"                # league | return | sustainability | equality | pareto | welfare

In a league, the arena sets the world (map, regrowth, zap cooldown); a population brings
its action set (no_zap members play an open arena with FIRE_ZAP masked), its incentives
(the farmer bonus, its shaping genes) and its PBT settings.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from popbased.env import arenas
from popbased.env.engines import ENGINES, ENVS
from popbased.errors import BadInput
from popbased.league import bots
from popbased.population.spec import (PopulationSpec, _check_keys, load as load_population, parse_pbt,
                                      read_toml)
from popbased.substrates import resolve

MODES = ("self_play", "resident", "visitor")
SOURCES = ("populations", "snapshots", "random", "bots")
RULES = ("uniform", "pfsp")
DRAWS = ("match", "seat")
FITNESS = ("league", "return", "sustainability", "equality", "pareto", "welfare")


@dataclass(frozen=True)
class Mode:
    name: str
    """self_play, resident or visitor."""
    share: float
    """Share of matches played in this mode."""
    focal: int
    """Focal seats per match (the rest are background)."""


@dataclass(frozen=True)
class LeagueSpec:
    name: str
    """League name (defaults to the file name)."""
    populations: tuple[PopulationSpec, ...]
    """The populations; each is focal and each is background for the others."""
    arena: str
    """Substrate or variant every match is played in."""
    arena_params: Mapping[str, Any] = field(default_factory=dict)
    """The arena's variant parameters."""
    steps_per_generation: int = 50_000
    """Agent-steps each member trains per generation (on average: seats are drawn)."""
    episode_steps: int = 1000
    """Episodes are cut at this length; seats change hands only between episodes."""
    member_draw: str = "match"
    """match: in each match, one member (drawn uniformly) plays all of its population's seats
    (its return is its own, and an env runs at most one policy per population); seat: every
    seat draws its own member."""
    modes: tuple[Mode, ...] = ()
    """Match modes and their shares."""
    sources: tuple[str, ...] = ("populations", "snapshots", "random")
    """Background sources besides the populations themselves."""
    train_matchmaking: str = "pfsp"
    """How training matches pick a focal population's background: uniform or pfsp."""
    evaluate_matchmaking: str = "uniform"
    """Same, for evaluation matches."""
    pfsp_power: float = 2.0
    """PFSP weight of a background = (1 - x)^power + 0.1, x = the focal's normalised return
    against it (0 = its worst background)."""
    evaluation_episodes: int = 0
    """Extra evaluation episodes per env after each generation's training (0: the payoff
    table comes from the training matches alone)."""
    snapshot_every: int = 1
    """Freeze each population's best member every this many generations (0: never)."""
    snapshot_keep: int = 3
    """Snapshots per population kept in the background pool (files are always kept)."""
    fitness: str = "league"
    """What PBT ranks members by (see league/fitness.py)."""
    env: str = "auto"
    """Env engine the league trains on: fast, meltingpot, or auto (fast where the arena has
    it); `--env` on the command line overrides it."""
    evaluation_env: str | None = None
    """Env engine of the evaluation matches (`[evaluation] env`): "meltingpot" plays them on
    Melting Pot itself, so the payoff table is the real game's (default: the training env)."""
    bots: tuple = ()
    """Bot sources (`[background] bots`, league/bots.py BotSource), each a background: Melting
    Pot's bots and scripted players."""
    bots_root: str | None = None
    """Where the bots' saved models load from (`[background] bots_root`, else $POPBASED_BOTS_ROOT,
    else the installed assets)."""
    arenas: tuple = ()
    """Arenas its matches are played across ([arenas.NAME] tables, popbased.env.arenas);
    empty: every match plays `arena`."""
    source: str = ""

    @property
    def melting_pot_bots(self) -> tuple:
        """The bot sources of Melting Pot's bots (they play on Melting Pot itself)."""
        return tuple(b for b in self.bots if not b.scripted)

    @property
    def scripted_bots(self) -> bool:
        """Whether scripted players may take background seats (Melting Pot's envs then carry
        their world state)."""
        return any(b.scripted for b in self.bots)

    def mode(self, name: str) -> Mode | None:
        return next((m for m in self.modes if m.name == name), None)


_LEAGUE_KEYS = ("name", "populations", "arena", "arena_params", "size", "steps_per_generation",
                "episode_steps", "member_draw", "env")
_TOP = ("league", "modes", "background", "matchmaking", "evaluation", "snapshots", "fitness", "arenas")


def _int(value, where: str, low: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise BadInput(f"{where}={value!r}: must be an integer >= {low}")
    return value


def _number(value, where: str, low: float) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < low:
        raise BadInput(f"{where}={value!r}: must be a number >= {low:g}")
    return float(value)


def _choice(value, where: str, allowed) -> str:
    if value not in allowed:
        raise BadInput(f"{where}={value!r}; allowed: {', '.join(allowed)}")
    return value


def _population(name, folder: Path, where: str) -> PopulationSpec:
    if not isinstance(name, str) or not name:
        raise BadInput(f"{where}: expected a population name or file, got {name!r}")
    candidates = [Path(name)] if name.endswith(".toml") else []
    candidates += [folder / name, folder.parent / f"{name}.toml", folder / f"{name}.toml",
                   Path("populations") / f"{name}.toml"]
    for path in candidates:
        if path.is_file():
            return load_population(path)
    known = sorted({p.stem for d in (folder.parent, folder, Path("populations")) for p in d.glob("*.toml")})
    raise BadInput(f"{where}: unknown population {name!r}; known: {', '.join(known) or 'none'} "
                   f"(or give a path to a population .toml)")


def default_focal(mode: str, players: int) -> int:
    """Focal seats of a mode by default: all (self-play), all but a quarter (resident), one
    (visitor), as in Melting Pot's scenarios."""
    return {"self_play": players, "resident": players - max(1, players // 4), "visitor": 1}[mode]


def focal_range(mode: str, players: int) -> tuple[int, int, str]:
    return {"self_play": (players, players, f"{players} (all seats)"),
            "resident": (players // 2 + 1, players - 1, f"{players // 2 + 1}..{players - 1} (a majority, not all)"),
            "visitor": (1, (players - 1) // 2, f"1..{(players - 1) // 2} (a minority)")}[mode]


def _modes(raw: Mapping, players: int, where: str) -> tuple[Mode, ...]:
    _check_keys(raw, MODES, where)
    if not raw:
        raw = {"self_play": {"share": 0.5}, "resident": {"share": 0.25}, "visitor": {"share": 0.25}}
    modes = []
    for name, table in raw.items():
        at = f"{where} {name}"
        if isinstance(table, (int, float)) and not isinstance(table, bool):
            table = {"share": table}
        _check_keys(table, ("share", "focal"), at)
        share = _number(table.get("share", 1.0), f"{at}.share", 0)
        focal = _int(table.get("focal", default_focal(name, players)), f"{at}.focal", 1)
        low, high, text = focal_range(name, players)
        if not low <= focal <= high:
            raise BadInput(f"{at}.focal={focal}: out of range for the arena's {players} players; "
                           f"allowed {text}")
        if share > 0:
            modes.append(Mode(name, share, focal))
    if not modes:
        raise BadInput(f"{where}: every mode has share 0; give at least one a share > 0")
    total = sum(m.share for m in modes)
    return tuple(dataclasses.replace(m, share=m.share / total) for m in modes)


def parse(raw: Mapping[str, Any], source: str, folder: Path, default_name: str = "") -> LeagueSpec:
    _check_keys(raw, _TOP, source)
    league = raw.get("league")
    if league is None:
        raise BadInput(f"{source}: missing [league] table")
    where = f"{source}: [league]"
    _check_keys(league, _LEAGUE_KEYS, where)
    names = league.get("populations")
    if not isinstance(names, list) or not names:
        raise BadInput(f"{where} populations: the league is empty; list at least one population")
    if len(set(map(str, names))) != len(names):
        raise BadInput(f"{where} populations: {names} names a population twice")
    pops = [_population(n, folder, f"{where} populations") for n in names]
    if len({p.name for p in pops}) != len(pops):
        raise BadInput(f"{where} populations: two files share the population name "
                       f"{[p.name for p in pops]}")
    if "size" in league:
        size = _int(league["size"], f"{where} size", 2)
        pops = [dataclasses.replace(p, size=size, pbt=parse_pbt(dataclasses.asdict(p.pbt), p.source,
                                                                  size)) for p in pops]
    for pop in pops:
        if pop.pbt.seating != "mixed":
            raise BadInput(f"{where} populations: {pop.source} has [pbt] seating = "
                           f"{pop.pbt.seating!r}; a league seats its members by its matches "
                           f"([modes]); allowed here: seating = \"mixed\" (or popbased pbt)")
        if pop.pbt.mode == "async":
            raise BadInput(f"{where} populations: {pop.source} has [pbt] mode = \"async\", which a "
                           f"league does not run (its generations end for every population at "
                           f"once, after the payoff table); use mode = \"sync\" or popbased pbt")
    arena = league.get("arena", pops[0].substrate)
    arena_params = league.get("arena_params", {} if "arena" in league else dict(pops[0].params))
    if not isinstance(arena_params, Mapping):
        raise BadInput(f"{where} arena_params: expected a table, got {arena_params!r}")
    try:
        arena_spec = resolve(arena, dict(arena_params))
    except BadInput as err:
        raise BadInput(f"{where} arena: {err}") from None
    # deferred: arena.py brings env.instance (cv2, Lab2d); reading a league file stays light
    from popbased.league.arena import check_playable

    for pop in pops:
        check_playable(pop, arena_spec, f"{where} arena={arena!r}")
    background = raw.get("background", {})
    _check_keys(background, ("sources", "bots", "bots_root"), f"{source}: [background]")
    sources = background.get("sources", ["populations", "snapshots", "random"])
    if not isinstance(sources, list):
        raise BadInput(f"{source}: [background] sources: expected a list of {', '.join(SOURCES)}")
    for s in sources:
        _choice(s, f"{source}: [background] sources entry", SOURCES)
    bot_sources, bots_root = (), None
    if "bots" in sources:  # see popbased/league/bots.py
        bot_sources, bots_root = bots.sources(background, arena_spec, f"{source}: [background]")
    elif "bots" in background or "bots_root" in background:
        raise BadInput(f"{source}: [background] bots: listed, but 'bots' is not among the sources "
                       f"({', '.join(sources)}); add it to sources or remove the list")
    matchmaking = raw.get("matchmaking", {})
    _check_keys(matchmaking, ("train", "evaluate", "pfsp_power"), f"{source}: [matchmaking]")
    evaluation = raw.get("evaluation", {})
    _check_keys(evaluation, ("episodes", "env"), f"{source}: [evaluation]")
    snapshots = raw.get("snapshots", {})
    _check_keys(snapshots, ("every", "keep"), f"{source}: [snapshots]")
    fitness = raw.get("fitness", {})
    _check_keys(fitness, ("kind",), f"{source}: [fitness]")
    modes = _modes(raw.get("modes", {}), arena_spec.num_players, f"{source}: [modes]")
    if len(pops) == 1 and not set(sources) & {"snapshots", "random", "bots"} and any(
            m.name != "self_play" for m in modes):
        raise BadInput(f"{source}: one population and no other background source: resident and "
                       f"visitor matches need a background (add snapshots or random to "
                       f"[background] sources, or another population)")
    spec = LeagueSpec(
        name=league.get("name", default_name), populations=tuple(pops), arena=arena,
        arena_params=dict(arena_params),
        steps_per_generation=_int(league.get("steps_per_generation", 50_000),
                                  f"{where} steps_per_generation", 1),
        episode_steps=_int(league.get("episode_steps", 1000), f"{where} episode_steps", 1),
        member_draw=_choice(league.get("member_draw", "match"), f"{where} member_draw", DRAWS),
        modes=modes, sources=tuple(sources),
        train_matchmaking=_choice(matchmaking.get("train", "pfsp"), f"{source}: [matchmaking] train", RULES),
        evaluate_matchmaking=_choice(matchmaking.get("evaluate", "uniform"),
                                     f"{source}: [matchmaking] evaluate", RULES),
        pfsp_power=_number(matchmaking.get("pfsp_power", 2.0), f"{source}: [matchmaking] pfsp_power", 0),
        evaluation_episodes=_int(evaluation.get("episodes", 0), f"{source}: [evaluation] episodes", 0),
        snapshot_every=_int(snapshots.get("every", 1), f"{source}: [snapshots] every", 0),
        snapshot_keep=_int(snapshots.get("keep", 3), f"{source}: [snapshots] keep", 1),
        fitness=_choice(fitness.get("kind", "league"), f"{source}: [fitness] kind", FITNESS),
        env=_choice(league.get("env", "auto"), f"{where} env", ENVS),
        evaluation_env=(None if "env" not in evaluation else _choice(
            evaluation["env"], f"{source}: [evaluation] env", tuple(ENGINES))),
        bots=bot_sources, bots_root=bots_root, arenas=arenas.parse(raw.get("arenas"), f"{source}:"),
        source=source)
    if spec.melting_pot_bots and any(not ENGINES[e].plays_bots for e in (spec.env, spec.evaluation_env)
                                     if e in ENGINES):
        raise BadInput(f"{source}: [background] bots: Melting Pot's bots play on Melting Pot itself, "
                       f"not the fast env; allowed with them: env = \"meltingpot\" or \"auto\" "
                       f"(scripted:NAME bots play on both)")
    return spec


def load(path: str | Path) -> LeagueSpec:
    path, raw = read_toml(path, "league")
    return parse(raw, str(path), path.parent, path.stem)
