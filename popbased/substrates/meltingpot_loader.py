"""Loading Melting Pot without TensorFlow.

`import meltingpot` runs `meltingpot/__init__.py`, which imports the bot code
and, through it, TensorFlow: 4-5 s and ~800 MB of resident memory in every
process, although substrates never use it. We register the `meltingpot`
package without executing its `__init__` so that `meltingpot.configs` and
`meltingpot.utils.substrates` import on their own (0.2 s, ~45 MB). Code that
needs the bots (`meltingpot.bot`, `meltingpot.scenario`) imports them as
submodules as usual, and TensorFlow comes with them then.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from types import ModuleType

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
            "dm-meltingpot is not installed: run scripts/setup (see README, Install)")
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


def bot_assets() -> dict:
    """Which DeepMind bot assets this install has: real saved models or a placeholder."""
    assets = os.path.join(meltingpot_package().__path__[0], "assets")
    saved_models = os.path.join(assets, "saved_models")
    models = sorted(os.listdir(saved_models)) if os.path.isdir(saved_models) else []
    return {
        "installed": bool(models),
        "path": assets,
        "substrates_with_bots": len(models),
        "version": BOT_ASSETS_VERSION,
    }
