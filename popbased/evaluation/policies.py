"""Policy references for `popbased evaluate`: what sits in every seat of an evaluation.

    random                       uniform random actions (the study's baseline)
    PATH.pt                      a member checkpoint (popbased train / pbt / league)
    EXPORT_FOLDER                a folder from `popbased export champion` (its policy.json)
    LEAGUE/MEMBER                a league or PBT member (see popbased.runs.refs), its current weights
    bots                         DeepMind's pretrained bots: not yet (a clear message)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from popbased.errors import BadInput
from popbased.ppo.actions import RANDOM



@dataclasses.dataclass(frozen=True)
class PolicyRef:
    label: str  # how tables and plots name it
    kind: str  # random | checkpoint | export
    path: str | None = None


def resolve(ref: str, tracking_uri: str | None = None) -> PolicyRef:
    from popbased.export import runtime

    if ref == RANDOM:
        return PolicyRef(RANDOM, "random")
    if ref in ("bots", "bot") or ref.startswith("bots:"):
        raise BadInput(f"policy {ref!r}: DeepMind's pretrained bots are not yet playable in "
                       f"`evaluate`; use random, a checkpoint, an export folder or LEAGUE/MEMBER")
    path = Path(ref)
    if path.is_file():
        from popbased.ppo import checkpoint

        checkpoint.read(path)  # a bad or damaged checkpoint is one clear line now, not mid-run
        return PolicyRef(path.stem if path.parent.name in ("", ".") else f"{path.parent.name}/{path.stem}",
                         "checkpoint", str(path.resolve()))
    if runtime.is_export(path):
        info = runtime.Exported.describe(path)
        return PolicyRef(f"{info['member']} ({path.name})", "export", str(path.resolve()))
    from popbased.runs import refs

    try:
        run, member = refs.member(ref, tracking_uri)
    except BadInput as err:
        raise BadInput(f"policy {ref!r}: not random, a checkpoint file, an export folder or "
                       f"LEAGUE/MEMBER ({err})") from None
    return PolicyRef(member, "checkpoint", str(run.member(member).checkpoint.resolve()))


def resolve_all(refs_: tuple[str, ...] | list[str], tracking_uri: str | None = None) -> list[PolicyRef]:
    if not refs_:
        raise BadInput("give at least one policy: random, a checkpoint, an export folder or LEAGUE/MEMBER")
    out = [resolve(r, tracking_uri) for r in refs_]
    labels = [p.label for p in out]
    if len(set(labels)) < len(labels):
        raise BadInput(f"policies {', '.join(refs_)}: two of them are the same ({labels})")
    return out


def check_scenarios(names: tuple[str, ...] | list[str]) -> list[str]:
    """Melting Pot scenario names, checked; with DeepMind's bot assets absent, one line that
    says how to install them."""
    import difflib

    from popbased.substrates import meltingpot_loader

    known = meltingpot_loader.import_module("configs.scenarios").SCENARIO_CONFIGS
    if not names:
        raise BadInput("give at least one scenario, e.g. commons_harvest__open_0")
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise BadInput(f"scenario {name!r}: not one of Melting Pot's {len(known)} scenarios{hint}")
    bots = meltingpot_loader.bot_assets()
    if not bots["installed"]:
        raise BadInput(f"scenarios need DeepMind's bot assets, which this install lacks: put "
                       f"https://storage.googleapis.com/dm-meltingpot/meltingpot-assets-{bots['version']}"
                       f".tar.gz in ~/.cache/popbased/, then `rm -rf .venv && scripts/setup`")
    raise BadInput("playing Melting Pot scenarios (DeepMind's saved-model bots in the background "
                   "seats) is not built yet in this version of popbased")
