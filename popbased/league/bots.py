"""Melting Pot's bots as a league background source: what a league file names, checked.

    [background]
    sources = ["populations", "snapshots", "bots"]
    bots = ["commons_harvest__open_0", "commons_harvest__open__pacifist_0"]
    bots_root = "/data/meltingpot/saved_models"   # optional

Each entry of `bots` is one background source, named `bots:ENTRY`: a bot name (one of Melting
Pot's bot configs) plays every background seat of its matches; a scenario name stands for the
bots of that scenario (one drawn per background seat and episode, as the scenario does). A bot
must have been trained for the arena's substrate (commons_harvest__open's bots for an arena on
the open map), and its saved model must be under the bots root (`bots_root`, else
$POPBASED_BOTS_ROOT, else the installed assets; laid out as SUBSTRATE/MODEL/saved_model.pb).

Matchmaking draws a bot source like any other background (matchmaking.py); a background seat
of such a match is labelled `bot:NAME`, and the rollout workers play it with Melting Pot's own
bot code (rollout/bots.py). Bots play on Melting Pot itself: a league with bots trains and
evaluates there (env "auto" means "meltingpot"; "fast" is refused).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Mapping

from popbased.errors import BadInput
from popbased.substrates import meltingpot_loader, resolve
from popbased.substrates.commons_harvest import STOCK_MODULE
from popbased.substrates.spec import Lab2dSpec

PREFIX = "bots:"


@dataclass(frozen=True)
class BotSource:
    label: str
    """The background source's name in matches and payoff tables: `bots:ENTRY`."""
    entry: str
    """What the league file named: a bot, or a scenario (its bots)."""
    bots: tuple[str, ...]
    """The bots that may fill a background seat."""


def arena_substrate(arena: Lab2dSpec) -> str | None:
    """The Melting Pot substrate whose bots fit the arena (None: no bot was trained for it)."""
    if arena.params is None:
        return arena.name
    return None if arena.params.map == "private_property" else STOCK_MODULE[arena.params.map]


def sources(background: Mapping[str, Any], arena: Lab2dSpec, where: str) -> tuple[tuple[BotSource, ...], str]:
    """The bot sources of a league file's [background] table and the root their models load from;
    one line of bad input for a name that is not a bot or scenario, a bot trained for another
    substrate than the arena's, or a missing saved model."""
    entries = background.get("bots")
    if not isinstance(entries, list) or not entries or not all(isinstance(e, str) for e in entries):
        raise BadInput(f"{where} bots: expected a list of Melting Pot bot or scenario names (e.g. "
                       f"[\"commons_harvest__open_0\"], the bots of that scenario), got {entries!r}")
    root_value = background.get("bots_root")
    if root_value is not None and not isinstance(root_value, str):
        raise BadInput(f"{where} bots_root: expected a folder, got {root_value!r}")
    root, origin = meltingpot_loader.bots_root(root_value)
    configs = meltingpot_loader.bot_configs()
    scenarios = meltingpot_loader.import_module("configs.scenarios").SCENARIO_CONFIGS
    fits = arena_substrate(arena)
    if fits is not None and arena.params is not None:
        if arena.action_names != resolve(fits).action_names:
            raise BadInput(f"{where} bots: the arena {arena.name!r} has other actions than {fits} "
                           f"({', '.join(arena.action_names)}), which its bots were trained to use; "
                           f"allowed: an arena with {fits}'s actions")
    out = []
    for entry in dict.fromkeys(entries):
        if entry in configs:
            bots = (entry,)
        elif entry in scenarios:
            bots = tuple(sorted(set().union(*scenarios[entry].bots_by_role.values()) - {"noop_bot"}))
        else:
            close = difflib.get_close_matches(entry, [*configs, *scenarios], n=1, cutoff=0.8)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise BadInput(f"{where} bots: {entry!r} is neither one of Melting Pot's {len(configs)} bots nor "
                           f"one of its {len(scenarios)} scenarios{hint}")
        wrong = sorted({configs[b].substrate for b in bots} - {fits})
        if wrong:
            raise BadInput(f"{where} bots: {entry!r} was trained on {', '.join(wrong)}, not on the arena "
                           f"{arena.name!r}; allowed: bots and scenarios of "
                           f"{fits or 'a stock Melting Pot substrate (this arena has none)'}")
        missing = [meltingpot_loader.bot_model(b) for b in bots if not meltingpot_loader.bot_present(b, root)]
        if missing:
            raise BadInput(f"{where} bots: {entry!r} needs {', '.join(missing)} under {root} ({origin}); "
                           f"install DeepMind's assets (POPBASED_MELTINGPOT_ASSETS=... scripts/setup) or "
                           f"set bots_root / $POPBASED_BOTS_ROOT")
        out.append(BotSource(f"{PREFIX}{entry}", entry, bots))
    return tuple(out), root
