"""Loading Melting Pot without TensorFlow.

`import meltingpot` runs `meltingpot/__init__.py`, which imports the bot code
and, through it, TensorFlow: seconds and hundreds of MB of resident memory in
every process, although substrates never use it. We register the `meltingpot`
package without executing its `__init__` so that `meltingpot.configs` and
`meltingpot.utils.substrates` import on their own, a fraction of that. Code that
needs the bots (`meltingpot.bot`, `meltingpot.scenario`) imports them as
submodules as usual, and TensorFlow comes with them then.

Bots: Melting Pot's bot configs (`meltingpot.configs.bots`, TensorFlow-free) name each
bot's saved model as `MODELS_ROOT/SUBSTRATE/MODEL`, MODELS_ROOT being the install's
`meltingpot/assets/saved_models`. popbased loads the same `SUBSTRATE/MODEL` folders from
another root when one is given (`--bots-root`, or $POPBASED_BOTS_ROOT): DeepMind's assets
unpacked elsewhere, or bots of one's own in the same format.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from types import ModuleType

from popbased.errors import BadInput

BOT_ASSETS_VERSION = "2.3.0"


class MeltingPotMissing(RuntimeError):
    """dm-meltingpot is not installed."""


def meltingpot_package() -> ModuleType:
    """Returns the `meltingpot` package, registered without running its __init__."""
    module = sys.modules.get("meltingpot")
    if module is not None:
        return module
    spec = importlib.util.find_spec("meltingpot")
    if spec is None or spec.submodule_search_locations is None:
        raise MeltingPotMissing(
            "dm-meltingpot is not installed: run scripts/setup (see the README's quick start)")
    module = importlib.util.module_from_spec(spec)
    sys.modules["meltingpot"] = module
    return module


def import_module(name: str) -> ModuleType:
    """Imports `meltingpot.<name>` (e.g. 'configs.substrates') without TensorFlow."""
    meltingpot_package()
    return importlib.import_module(f"meltingpot.{name}")


def package_root() -> str:
    """The folder that holds the `meltingpot` package (Lab2d's level root)."""
    return os.path.dirname(meltingpot_package().__path__[0])


BOTS_ROOT_ENV = "POPBASED_BOTS_ROOT"
"""Environment variable naming a folder of bot saved models to use instead of the installed
assets (the `--bots-root` flag of `popbased evaluate scenario` wins over it)."""
SAVED_MODEL = "saved_model.pb"


def installed_models_root() -> str:
    """Where Melting Pot's bot configs point: `meltingpot/assets/saved_models` of the install
    (`meltingpot.configs.bots.MODELS_ROOT`; each bot's model is `SUBSTRATE/MODEL` under it)."""
    return os.path.join(meltingpot_package().__path__[0], "assets", "saved_models")


def bots_root(root: str | os.PathLike | None = None) -> tuple[str, str]:
    """(the folder bots are loaded from, where that choice came from): `root` (a flag), else
    $POPBASED_BOTS_ROOT, else the installed assets. A given folder that does not exist is
    bad input."""
    for value, origin in ((root, "--bots-root"), (os.environ.get(BOTS_ROOT_ENV) or None, BOTS_ROOT_ENV)):
        if value is not None:
            path = os.path.abspath(os.path.expanduser(os.fspath(value)))
            if not os.path.isdir(path):
                raise BadInput(f"{origin} {value}: no such folder; give a folder laid out as Melting "
                               f"Pot's assets/saved_models (SUBSTRATE/MODEL/{SAVED_MODEL})")
            return path, origin
    return installed_models_root(), "installed assets"


def bot_configs() -> dict:
    """Melting Pot's bot configs by name (TensorFlow-free: `meltingpot.configs.bots`)."""
    return dict(import_module("configs.bots").BOT_CONFIGS)


def bot_model(name: str) -> str:
    """A bot's model folder relative to the models root (`SUBSTRATE/MODEL`), from its config."""
    configs = import_module("configs.bots")
    return os.path.relpath(configs.BOT_CONFIGS[name].model_path, configs.MODELS_ROOT)


def bot_present(name: str, root: str) -> bool:
    return os.path.isfile(os.path.join(root, bot_model(name), SAVED_MODEL))


def bot_assets(root: str | os.PathLike | None = None) -> dict:
    """Which of Melting Pot's bots this install can load, and from where: the installed assets
    (real saved models or the empty placeholder) or a custom root ($POPBASED_BOTS_ROOT)."""
    assets = os.path.join(meltingpot_package().__path__[0], "assets")
    saved_models = os.path.join(assets, "saved_models")
    models = sorted(os.listdir(saved_models)) if os.path.isdir(saved_models) else []
    configs = bot_configs()
    try:
        path, origin = bots_root(root)
        error = None
    except BadInput as err:  # a root that is not there: reported, not raised (doctor, list)
        path, origin, error = None, BOTS_ROOT_ENV if root is None else "--bots-root", str(err)
    present = sorted(name for name in configs if path and bot_present(name, path))
    substrates = sorted({configs[name].substrate for name in present})
    return {
        "installed": bool(models),
        "path": assets,
        "substrates_with_bots": len(models),
        "version": BOT_ASSETS_VERSION,
        "root": path,
        "root_from": origin,
        "root_error": error,
        "bots_known": len(configs),
        "bots_present": len(present),
        "present": present,
        "substrates_with_bots_present": substrates,
    }
