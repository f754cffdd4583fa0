"""Training across arenas: a population (or league) trains on a distribution of substrates,
declared in its file and drawn per world.

    [arenas.open]                        # a name of your choosing, recorded with the episodes
    substrate = "open"
    weight = 2
    [arenas.closed]
    substrate = "commons_harvest__closed"
    [arenas.slow]
    substrate = "open"
    params = {regrowth = 0.3}          # a variant's settings, as in [population] params

Each world (an env of the fast env, a Ray rollout worker's envs on Melting Pot) is given one
arena when the run starts, in proportion to the weights (default 1): `allocate` splits the
worlds by largest remainders, every arena at least one. On the fast env the worlds of each
arena are one batch of their own, stepped one after the other (popbased.env.fast.mixed); on
Melting Pot each rollout worker plays one arena. An arena stays with its worlds for the whole
run (per episode draws are not supported: a world's map fixes its tensors' shapes).

The arenas must share what a member sees and does with each other and with the run's own
substrate (which still fixes the learners' actions and reward components, a league's seats, the
[social] genes' requirement): players, actions and reward components (`check`; an arena does not
inherit the population's params: `social = true` goes in each arena's params too); each
episode's summary names its arena (`arena`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from popbased.errors import BadInput
from popbased.substrates import resolve

KEYS = ("substrate", "params", "weight")


@dataclass(frozen=True)
class Arena:
    name: str
    substrate: str
    params: Mapping[str, Any] = field(default_factory=dict)
    weight: float = 1.0

    def spec(self):
        return resolve(self.substrate, dict(self.params))

    def record(self) -> dict[str, Any]:
        return {"substrate": self.substrate, "params": {k: str(v) for k, v in self.params.items()},
                "weight": self.weight}


def parse(raw: Any, where: str) -> tuple[Arena, ...]:
    """The [arenas] tables of a population or league file (empty: none declared)."""
    if raw is None:
        return ()
    if not isinstance(raw, Mapping) or not raw or not all(isinstance(v, Mapping) for v in raw.values()):
        raise BadInput(f"{where} [arenas]: expected [arenas.NAME] tables with substrate, params "
                       f"and weight")
    out = []
    for name, table in raw.items():
        at = f"{where} [arenas.{name}]"
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", str(name)):
            raise BadInput(f"{at}: the name may use letters, digits, '_', '-' and '.' (it names the "
                           f"MLflow metric arenas/NAME and the episodes' records)")
        extra = sorted(set(table) - set(KEYS))
        if extra:
            raise BadInput(f"{at}: unknown key(s) {', '.join(extra)}; allowed: {', '.join(KEYS)}")
        if "substrate" not in table:
            raise BadInput(f"{at}: needs 'substrate'")
        params = table.get("params", {})
        if not isinstance(params, Mapping):
            raise BadInput(f"{at} params: expected a table, got {params!r}")
        weight = table.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not (
                math.isfinite(weight) and weight > 0):
            raise BadInput(f"{at} weight: {weight!r}; allowed: a number > 0")
        arena = Arena(str(name), str(table["substrate"]), dict(params), float(weight))
        try:
            arena.spec()
        except BadInput as err:
            raise BadInput(f"{at}: {err}") from None
        out.append(arena)
    return tuple(out)


def allocate(count: int, weights: Sequence[float], what: str = "worlds") -> list[int]:
    """`count` split in proportion to `weights` (largest remainders), each at least 1."""
    if count < len(weights):
        raise BadInput(f"{count} {what} for {len(weights)} arenas: each arena needs at least one; "
                       f"give more {what} or fewer arenas")
    total = sum(weights)
    spare = count - len(weights)
    exact = [spare * w / total for w in weights]
    out = [1 + int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - int(exact[i])), i))
    for i in order[:count - sum(out)]:
        out[i] += 1
    return out


def check(arenas: Sequence[Arena], engine, obs_size: int, apples_in_view, where: str,
          home=None) -> list:
    """The arenas' specs, each playable on `engine` and alike in players, actions and reward
    components, with each other and with `home` (the run's own substrate spec) when given (one
    line of bad input naming the first that differs)."""
    specs = []
    for a in arenas:
        spec = a.spec()
        try:
            engine.check(spec, obs_size)
        except BadInput as err:
            raise BadInput(f"{where} [arenas.{a.name}]: {err}") from None
        specs.append(spec)
    first, name = (specs[0], f"[arenas.{arenas[0].name}]'s") if home is None else (home, "the run's substrate's")
    components = engine.components(first, apples_in_view)
    for a, spec in (zip(arenas[1:], specs[1:]) if home is None else zip(arenas, specs)):
        for what, mine, theirs in (
                ("players", spec.num_players, first.num_players),
                ("actions", tuple(spec.action_names), tuple(first.action_names)),
                ("reward components", tuple(engine.components(spec, apples_in_view)), tuple(components))):
            if mine != theirs:
                raise BadInput(f"{where} [arenas.{a.name}]: its {what} differ from {name} "
                               f"({mine} against {theirs}); the arenas of one run must share "
                               f"players, actions and reward components with its substrate (an "
                               f"arena's params are its own: repeat social = true there)")
    return specs
