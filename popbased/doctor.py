"""What this install has: versions, accelerator, and whether DeepMind's bots are installed."""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
from typing import Any

from popbased.substrates import meltingpot_loader

PACKAGES = ("torch", "dm-meltingpot", "dmlab2d", "tensorflow-cpu", "evotorch", "ray", "mlflow",
            "click", "numpy", "opencv-python-headless", "pettingzoo", "rich")


def report() -> dict[str, Any]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            versions[name] = None
    out: dict[str, Any] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "packages": versions,
        "bots": meltingpot_loader.bot_assets(),
    }
    try:
        import torch  # deferred: the report also describes an install where torch is broken or absent

        out["torch_build"] = "cuda" if torch.version.cuda else "cpu"
        out["cuda_available"] = bool(torch.cuda.is_available())
        out["gpus"] = ([torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
                       if out["cuda_available"] else [])
    except ImportError:
        out["torch_build"] = None
    return out


def bots_line(bots: dict[str, Any]) -> str:
    """One line: which Melting Pot bots can be loaded, from where, and how to add them."""
    tarball = f"meltingpot-assets-{bots['version']}.tar.gz"
    add = (f"to add DeepMind's: `POPBASED_MELTINGPOT_ASSETS=/path/{tarball} scripts/setup` (or "
           f"scripts/setup where it can download them), or point $POPBASED_BOTS_ROOT at a folder of "
           f"saved models laid out as SUBSTRATE/MODEL/saved_model.pb")
    if bots.get("root_error"):
        return f"Melting Pot bots: {bots['root_error']}"
    k = len(bots["substrates_with_bots_present"])
    counts = (f"{bots['bots_present']} of {bots['bots_known']} bots present, "
              f"{k} substrate{'' if k == 1 else 's'}")
    if bots.get("root_from") not in (None, "installed assets"):
        installed = "installed" if bots["installed"] else "not installed"
        return (f"Melting Pot bots from {bots['root_from']}={bots['root']}: {counts} "
                f"(DeepMind's assets {bots['version']}: {installed})")
    if bots["installed"]:
        return (f"DeepMind's pretrained Melting Pot bots: installed ({counts}, assets "
                f"{bots['version']}, in {bots['root']})")
    return ("DeepMind's pretrained Melting Pot bots: NOT installed (the install could not "
            f"download {tarball}; substrates work, scenarios and bot backgrounds do not); {add}.")
