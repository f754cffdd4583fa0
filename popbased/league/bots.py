"""Bots as a league background source: what a league file names, checked.

    [background]
    sources = ["populations", "snapshots", "bots"]
    bots = ["scripted:greedy_zapper", "commons_harvest__open_0"]
    bots_root = "/data/meltingpot/saved_models"   # optional, for Melting Pot's bots

Scripted players (`scripted:NAME`, popbased.env.fast.scripted: greedy, greedy_zapper, chaser,
sustainable) play on both engines, on the commons_harvest family; the arena needs the actions
they play. Each is a background source of its own, `bots:scripted:NAME`, whose seats are
labelled `scripted:NAME` (the rollout workers and the device collector play them).

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
from popbased.ppo.actions import SCRIPTED, scripted_kind
from popbased.rollout.bots import BOT
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
    seat: str = BOT
    """The prefix of a seat's label (`bot:NAME`, Melting Pot's; `scripted:` seats carry the
    scripted player's own reference)."""

    @property
    def scripted(self) -> bool:
        return self.seat == SCRIPTED

    def label_of(self, bot: str) -> str:
        return bot if self.scripted else f"{self.seat}{bot}"


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
    scripted = tuple(scripted_source(e, arena, where) for e in dict.fromkeys(entries)
                     if e.startswith(SCRIPTED))
    entries = [e for e in entries if not e.startswith(SCRIPTED)]
    if not entries:
        return scripted, root_value
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
    return scripted + tuple(out), root


def scripted_source(entry: str, arena: Lab2dSpec, where: str) -> BotSource:
    """`scripted:NAME` as a background source: a commons_harvest arena with its actions."""
    from popbased.env.fast.scripted import move_actions  # deferred: brings torch

    try:
        kind = scripted_kind(entry)
        if arena.params is None:
            raise BadInput(f"{entry} plays the commons_harvest family only, not {arena.name!r}")
        move_actions(arena.action_names, kind)
    except BadInput as err:
        raise BadInput(f"{where} bots: {err}") from None
    return BotSource(f"{PREFIX}{entry}", entry, (entry,), SCRIPTED)
