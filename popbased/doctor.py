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
        import torch

        out["torch_build"] = "cuda" if torch.version.cuda else "cpu"
        out["cuda_available"] = bool(torch.cuda.is_available())
        out["gpus"] = ([torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
                       if out["cuda_available"] else [])
    except ImportError:
        out["torch_build"] = None
    return out


def bots_line(bots: dict[str, Any]) -> str:
    if bots["installed"]:
        return (f"DeepMind's pretrained Melting Pot bots: installed "
                f"({bots['substrates_with_bots']} substrates, assets {bots['version']})")
    return ("DeepMind's pretrained Melting Pot bots: NOT installed (the install could not "
            f"download meltingpot-assets-{bots['version']}.tar.gz; substrates work, bots and "
            "scenarios do not). To add them: put that tarball in $TMPDIR and run "
            "`.venv/bin/pip install --force-reinstall --no-deps dm-meltingpot`.")
