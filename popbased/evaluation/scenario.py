"""Melting Pot's own scenarios (`popbased evaluate scenario`): our policies in the focal seats,
Melting Pot's bots in the background, built and stepped by Melting Pot's scenario code.

Melting Pot's: the scenario config (the roles, which seats are focal, which bots may fill each
background role), `ScenarioFactory` -> `Scenario` + `Population` (a bot drawn per background
seat each episode, the bots stepped in their threads), every bot built by
`meltingpot.bot.get_factory_from_config` from its `BotConfig` (a `SavedModelPolicy`, or a
`PuppetPolicy` around one), and the substrate's own wrappers. popbased adds:

- the bots' models loaded from another root when one is given (`--bots-root`, or
  $POPBASED_BOTS_ROOT): each bot's `model_path` keeps its `SUBSTRATE/MODEL` under that root;
- on the commons_harvest family, popbased's read-only observers in the substrate (apples on
  the map and each apple's flag for patch deaths, zaps fired: `WORLD.APPLES`,
  `WORLD.APPLES_LIVE`, `ZAPS_FIRED`, as `evaluate run` reads them; the game's
  Lua is untouched, the focal players see only Melting Pot's permitted observations and
  the bots ignore keys they were not saved with);
- our policy in the focal seats, with our action mapping and masks, views downsampled as in
  training;
- the study's metrics over every seat, each seat's action counts and the bots drawn.

Each (policy, scenario, episode) is one Ray task. An episode's seed depends on the seed, the
scenario and the episode's index only, so every policy meets the same bots (Melting Pot's
draw, seeded) in its k-th episode of a scenario; the episode itself (its length, contested
moves) still depends on what the players do, as every Melting Pot episode does.

TensorFlow: choosing scenarios and checking bot files here is TensorFlow-free; only
`play_episode` (in a Ray worker) imports Melting Pot's bot code, and TensorFlow with it.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import os
import random
import time
import traceback
import zlib
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from popbased import substrates as registry
from popbased.env.bots import bot_config, quiet_tensorflow
from popbased.env.fast.ceiling import patch_apples, patch_index
from popbased.env.fast.maps import build_map
from popbased.env.instance import APPLES_LIVE, STATE, downsample, parse_events
from popbased.env.metrics import EpisodeTracker
from popbased.errors import BadInput
from popbased.play.agents import SeatView, agent_for
from popbased.ppo.actions import scripted_kind
from popbased.substrates import commons_harvest, meltingpot_loader, resolve

NOOP_BOT = "noop_bot"  # meltingpot.bot.NOOP_BOT_NAME: built in code, no saved model
ZAPS_FIRED, WORLD_APPLES = "ZAPS_FIRED", "WORLD.APPLES"


@dataclasses.dataclass(frozen=True)
class ScenarioInfo:
    """One scenario, as Melting Pot's config describes it."""

    name: str
    substrate: str
    description: str
    num_players: int
    focal_seats: tuple[int, ...]
    """The focal players' seats (0-based), Melting Pot's `is_focal`."""
    bots: tuple[str, ...]
    """Every bot that may fill a background seat (Melting Pot draws one per seat per episode)."""
    mode: str
    """resident (focal majority), visitor (focal minority) or half (as many of each)."""

    @property
    def background_seats(self) -> tuple[int, ...]:
        return tuple(s for s in range(self.num_players) if s not in self.focal_seats)


def scenario_configs() -> dict:
    return dict(meltingpot_loader.import_module("configs.scenarios").SCENARIO_CONFIGS)


def info(name: str) -> ScenarioInfo:
    config = scenario_configs()[name]
    focal = tuple(i for i, f in enumerate(config.is_focal) if f)
    n = len(config.is_focal)
    tags = set(config.tags)
    mode = ("resident" if "resident" in tags else "visitor" if "visitor" in tags else
            "resident" if 2 * len(focal) > n else "visitor" if 2 * len(focal) < n else "half")
    bots = tuple(sorted(set().union(*config.bots_by_role.values())))
    return ScenarioInfo(name, config.substrate, config.description, n, focal, bots, mode)


def split_args(tokens: Sequence[str]) -> tuple[list[str], list[str]]:
    """`SCENARIO... POLICY...` -> (scenario names, policy refs). A scenario is a Melting Pot
    scenario name, a pattern (`commons_harvest__*`) or a substrate (all its scenarios); what
    looks like a misspelt scenario name is bad input; everything else is a policy."""
    known = scenario_configs()
    by_substrate: dict[str, list[str]] = {}
    for name, config in known.items():
        by_substrate.setdefault(config.substrate, []).append(name)
    scenarios: list[str] = []
    policies: list[str] = []
    for token in tokens:
        if token in known:
            scenarios.append(token)
        elif token in by_substrate:
            scenarios += sorted(by_substrate[token])
        elif any(c in token for c in "*?[") and not Path(token).exists():
            matched = sorted(fnmatch.filter(known, token))
            if not matched:
                raise BadInput(f"scenario pattern {token!r} matches none of Melting Pot's {len(known)} "
                               f"scenarios (e.g. commons_harvest__open_0; `popbased substrates list "
                               f"--json` lists each substrate's)")
            scenarios += matched
        else:
            close = difflib.get_close_matches(token, list(known), n=1, cutoff=0.85)
            if close and not Path(token).exists() and "/" not in token:
                raise BadInput(f"scenario {token!r}: not one of Melting Pot's {len(known)} scenarios "
                               f"(did you mean {close[0]}?)")
            policies.append(token)
    scenarios = list(dict.fromkeys(scenarios))
    if not scenarios:
        raise BadInput("give at least one scenario, e.g. commons_harvest__open_0, a pattern such as "
                       "'commons_harvest__*', or a substrate (all its scenarios)")
    return scenarios, policies


def missing_bots(bots: Sequence[str], root: str) -> list[str]:
    """The model folders (SUBSTRATE/MODEL) of `bots` that `root` lacks."""
    return [meltingpot_loader.bot_model(b) for b in bots
            if b != NOOP_BOT and not meltingpot_loader.bot_present(b, root)]


def check(names: Sequence[str], bots_root: str | None = None) -> tuple[list[ScenarioInfo], str]:
    """The scenarios, checked: each one's substrate plays here and each of its bots' saved
    models is under the bots root. Returns (infos, the root); one line of bad input if not."""
    root, origin = meltingpot_loader.bots_root(bots_root)
    infos = [info(n) for n in names]
    for item in infos:
        resolve(item.substrate)  # a substrate popbased cannot play says so here
        missing = missing_bots(item.bots, root)
        if missing:
            tarball = f"meltingpot-assets-{meltingpot_loader.BOT_ASSETS_VERSION}.tar.gz"
            shown = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
            raise BadInput(f"scenario {item.name}: {len(missing)} of its bots are missing from {root} "
                           f"({origin}): {shown} (each a folder with {meltingpot_loader.SAVED_MODEL}); "
                           f"install DeepMind's with `POPBASED_MELTINGPOT_ASSETS=/path/{tarball} "
                           f"scripts/setup`, or give --bots-root / $POPBASED_BOTS_ROOT a folder laid out "
                           f"as SUBSTRATE/MODEL/{meltingpot_loader.SAVED_MODEL}")
    return infos, root


def check_scripted(label: str, infos: Sequence[ScenarioInfo]) -> None:
    """One line of bad input unless every scenario is of the commons_harvest family, the one
    where popbased adds the world state that a scripted policy (`label`) reads."""
    other = [i.name for i in infos if registry.entry(i.substrate).kind != "commons"]
    if other:
        raise BadInput(f"policy {label!r}: scripted policies read the world state, which popbased "
                       f"adds to the commons_harvest family's scenarios only, not {other[0]}")


def episode_seed(seed: int, scenario: str, episode: int) -> int:
    """The seed of a scenario's k-th episode, the same for every policy."""
    return (seed * 1_000_003 + episode * 7_919 + zlib.crc32(scenario.encode())) % (2 ** 32)


# ---------------------------------------------------------------------- Melting Pot's scenario
def substrate_factory(substrate: str, state_dump: bool = False):
    """(Melting Pot's SubstrateFactory for `substrate`, instrumented?). The commons_harvest
    family gets popbased's read-only observers (its stock settings, its Lua level plus the
    observer components: see popbased.substrates.commons_harvest), and with `state_dump` the
    world state (WORLD.POPBASED_STATE) that scripted players read; others are Melting Pot's own."""
    # deferred: `meltingpot.substrate` runs Melting Pot's package __init__, which imports TensorFlow
    from meltingpot import substrate as mp_substrate
    from meltingpot.utils.substrates import substrate_factory as factory_lib

    stock = mp_substrate.get_factory(substrate)
    if registry.entry(substrate).kind != "commons":
        return stock, False
    config = mp_substrate.get_config(substrate)
    params = registry.resolve_params(substrate)
    level_dir = os.path.relpath(os.path.dirname(commons_harvest.LEVEL_PATH), meltingpot_loader.package_root())

    def settings(roles):
        if set(roles) - set(config.valid_roles):
            raise ValueError(f"roles {sorted(set(roles))} are not in {sorted(config.valid_roles)}")
        out = commons_harvest.lab2d_settings(dataclasses.replace(params, players=len(roles)),
                                             state_dump=state_dump)
        out["levelDirectory"] = level_dir  # Melting Pot's builder joins it with levelName
        out["levelName"] = os.path.basename(commons_harvest.LEVEL_PATH)
        return out

    return factory_lib.SubstrateFactory(
        lab2d_settings_builder=settings,
        individual_observations=tuple(config.individual_observation_names) + (ZAPS_FIRED,),
        global_observations=tuple(config.global_observation_names) + (WORLD_APPLES, APPLES_LIVE) +
        ((STATE,) if state_dump else ()),
        action_table=config.action_set, timestep_spec=config.timestep_spec,
        action_spec=config.action_spec, valid_roles=config.valid_roles,
        default_player_roles=config.default_player_roles), True


def scenario_factory(name: str, root: str, state_dump: bool = False):
    """(Melting Pot's ScenarioFactory for scenario `name`, its bots loaded from `root`,
    instrumented?): `meltingpot.scenario.get_factory_from_config` with the bots' model paths
    under `root` and popbased's observers in a commons_harvest substrate (`state_dump`: the
    world state too, for scripted focal players)."""
    from meltingpot import bot as mp_bot  # deferred: Melting Pot's bots import TensorFlow
    from meltingpot import scenario as mp_scenario
    from meltingpot.utils.scenarios import scenario_factory as factory_lib

    config = mp_scenario.get_config(name)
    substrate, instrumented = substrate_factory(config.substrate, state_dump)
    bots = {b: (mp_bot.get_factory(b) if b == NOOP_BOT else mp_bot.get_factory_from_config(bot_config(b, root)))
            for b in set().union(*config.bots_by_role.values())}
    return factory_lib.ScenarioFactory(
        substrate=substrate, roles=config.roles, bots=bots, bots_by_role=config.bots_by_role,
        is_focal=config.is_focal, permitted_observations=mp_scenario.PERMITTED_OBSERVATIONS), instrumented


def play_episode(name: str, policy: str | None, episode: int, seed: int, max_steps: int | None,
                 root: str) -> dict[str, Any]:
    """One episode of scenario `name` with `policy` (None: random) in its focal seats: the
    episode summary (the study's metrics over every seat) plus its focal seats, the bots drawn
    for the background seats, every seat's action counts and its seed. A scripted focal policy
    reads the world state, which popbased adds to the commons_harvest family only."""
    quiet_tensorflow()
    scripted = policy is not None and scripted_kind(policy) is not None
    if scripted:
        check_scripted(policy, [info(name)])
    s = episode_seed(seed, name, episode)
    random.seed(s)  # Melting Pot draws the env seed, the bots and their keys from `random`
    np.random.seed(s % (2 ** 32))
    factory, instrumented = scenario_factory(name, root, state_dump=scripted)
    t0 = time.perf_counter()
    try:
        scenario = factory.build()
    except Exception as err:
        if not _from_bot_loading(err):
            raise
        first = (str(err).strip().splitlines() or [""])[0][:300]  # a model Melting Pot cannot load
        raise BadInput(f"scenario {name}: its bots (from {root}) do not load as Melting Pot "
                       f"SavedModels: {type(err).__name__}: {first}") from None
    try:
        summary = _play(scenario, info(name), policy, s, max_steps, instrumented)
    finally:
        scenario.close()
    return {**summary, "episode": episode, "seed": s, "seconds": time.perf_counter() - t0}


def _from_bot_loading(err: BaseException) -> bool:
    """Whether `err` came from loading a bot's saved model (Melting Pot's SavedModelPolicy,
    its PermissiveModel or TensorFlow's loader)."""
    marks = ("saved_model_policy.py", "permissive_model.py", os.path.join("saved_model", "load"))
    return any(any(m in frame.filename for m in marks) for frame in traceback.extract_tb(err.__traceback__))


def _play(scenario, item: ScenarioInfo, policy: str | None, seed: int, max_steps: int | None,
          instrumented: bool) -> dict[str, Any]:
    actions_names = resolve(item.substrate).action_names
    n, focal = item.num_players, np.asarray(item.focal_seats)
    map_params = (dataclasses.replace(registry.resolve_params(item.substrate), players=n)
                  if instrumented else None)
    agent = agent_for(policy, actions_names, seed=seed, params=map_params)
    reads_world = getattr(agent, "reads_world", False)
    seen: dict[str, Any] = {"timestep": None, "action": None, "names": None, "events": []}
    observables = scenario.observables()
    subscriptions = [
        observables.substrate.timestep.subscribe(lambda t: seen.__setitem__("timestep", t)),
        observables.substrate.action.subscribe(lambda a: seen.__setitem__("action", a)),
        observables.substrate.events.subscribe(lambda e: seen["events"].append(e)),
        observables.background.names.subscribe(lambda n: seen.__setitem__("names", list(n)))]
    mask = np.ones((len(focal), len(actions_names)), dtype=bool)
    counts = np.zeros((n, len(actions_names)), dtype=np.int64)
    tracker = EpisodeTracker(n, counts_zaps_fired=instrumented)
    patches = patch_index(build_map(map_params)) if instrumented else None

    def per_patch(observation):
        return None if patches is None else patch_apples(patches, observation[APPLES_LIVE])

    try:
        timestep = scenario.reset()
        full = seen["timestep"]
        tracker.reset(float(full.observation[0][WORLD_APPLES]) if instrumented else None,
                      per_patch(full.observation[0]))
        fired_before = np.zeros(n)
        truncated = False
        while True:
            world = np.asarray(full.observation[0][STATE])[None] if reads_world else None
            actions = agent.act(SeatView(_views(timestep, agent.obs_size), mask, focal, world))
            seen["events"].clear()
            timestep = scenario.step([int(a) for a in actions])
            full = seen["timestep"]
            eaten, zaps = parse_events(seen["events"])
            fired = apples = None
            if instrumented:
                total = np.array([float(o[ZAPS_FIRED]) for o in full.observation])
                fired, fired_before = total - fired_before, total
                apples = float(full.observation[0][WORLD_APPLES])
            tracker.update(np.asarray(full.reward, dtype=np.float64), eaten, zaps, fired, apples,
                           patch_apples=per_patch(full.observation[0]))
            counts[np.arange(n), np.asarray(seen["action"], dtype=np.int64)] += 1
            done = bool(timestep.last())
            agent.observe_done(np.full(len(focal), done))
            if done:
                break
            if max_steps is not None and tracker.step_count >= max_steps:
                truncated = True
                break
    finally:
        for subscription in subscriptions:
            subscription.dispose()
    return {**tracker.summary(), "truncated": truncated, "focal_seats": item.focal_seats,
            "bots": seen["names"], "actions": counts.tolist(), "action_names": list(actions_names)}


def _views(timestep, size: int | None):
    """The focal players' RGB views at the size their policy reads (None: it reads none)."""
    frames = np.stack([np.asarray(o["RGB"]) for o in timestep.observation])
    if size is None:
        return frames[:, :1, :1]
    out = np.empty((frames.shape[0], size, size, 3), dtype=np.uint8)
    downsample(frames, out)
    return out


# ---------------------------------------------------------------------- evaluation on Ray
def evaluate(policies, scenarios: Sequence[ScenarioInfo], root: str, *, episodes: int, seed: int,
             max_steps: int | None,
             progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """Every policy in the focal seats of every scenario, `episodes` each, one Ray task per
    episode. [{policy, kind, scenario, params, mode, background, focal_seats, episodes}]."""
    import ray  # deferred: heavy, only to run the episodes

    task = ray.remote(num_cpus=1, max_retries=2)(play_episode)
    jobs = [(p, s) for p in policies for s in scenarios]
    refs = {task.remote(s.name, p.path, k, seed, max_steps, root): (j, k)
            for j, (p, s) in enumerate(jobs) for k in range(episodes)}
    played: list[list[dict | None]] = [[None] * episodes for _ in jobs]
    waiting = list(refs)
    while waiting:
        done, waiting = ray.wait(waiting, num_returns=1)
        j, k = refs[done[0]]
        try:
            played[j][k] = ray.get(done[0])
        except ray.exceptions.RayTaskError as err:
            if isinstance(err.cause, BadInput):
                for ref in waiting:
                    ray.cancel(ref)
                raise BadInput(str(err.cause)) from None
            raise
        if progress:
            progress(len(refs) - len(waiting), len(refs))
    out = []
    for (p, s), eps in zip(jobs, played):
        out.append({"policy": p.label, "kind": p.kind, "scenario": s.name, "substrate": s.substrate,
                    "params": {}, "mode": s.mode, "background": f"bots of {s.name}",
                    "focal_seats": list(s.focal_seats), "episodes": eps,
                    "seconds": sum(e["seconds"] for e in eps)})
    return out
