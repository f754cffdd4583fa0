"""Loading and running an exported policy folder.

Needs numpy and onnxruntime (format onnx) or torch (torchscript, mlflow); it imports
nothing else of popbased, so a policy runs where popbased's training code is absent (the
folder's README.md shows the same in a few lines with no popbased at all). Each folder is
also an MLflow model (MLmodel): `mlflow.pyfunc.load_model(folder)` runs it too, without this
module (see popbased.export.champion). The runtime of a folder's format (onnxruntime, torch or
MLflow) is imported when that folder is loaded, so that each format needs only its own.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

INFO = "policy.json"
FILES = {"onnx": "policy.onnx", "torchscript": "policy.pt", "mlflow": "MLmodel"}
ONNX_THREADS = 1
"""onnxruntime's intra-op threads for an onnx folder (0: onnxruntime's default, one per core,
spinning while they wait). A policy acts on a few seats at a time, beside the env processes on
the same cores: one thread without spinning took 0.39-0.44x the main process's CPU per env-step
of the default and played a champion's Melting Pot evaluation 1.09-1.14x as fast on the idle
2-core machine (bench/onnx_threads.json), 1.11-1.76x when the machine was busy with an
experiment (bench/onnx_threads_busy.json; two runs each of scripts/bench_onnx_threads, medians
of 4); the same log-probabilities to the bit."""


def is_export(path: str | Path) -> bool:
    return (Path(path) / INFO).is_file()


def unplayable(folder: str | Path) -> str | None:
    """What keeps an export folder from being played (None: nothing): a policy.json that does
    not parse or names no known format, or the format's file missing. An experiment's kept
    champion (results/NAME/state/champions/...) is such a folder: its genes, not its network."""
    try:
        info = json.loads((Path(folder) / INFO).read_text())
    except (OSError, ValueError) as err:
        return f"its {INFO} cannot be read ({type(err).__name__})"
    fmt = info.get("format") if isinstance(info, dict) else None
    if fmt not in FILES:
        return (f"its {INFO} names no network (format {fmt!r}; allowed: {', '.join(FILES)}): a "
                f"champion's record without its policy, as an experiment keeps in results/NAME/state")
    if not (Path(folder) / FILES[fmt]).is_file():
        return f"{FILES[fmt]} is missing (its {INFO} says format {fmt!r})"
    return None


class Exported:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.info = self.describe(folder)
        self.format = self.info["format"]
        self.recurrent = bool(self.info["recurrent"])
        self.lstm = int(self.info["network"]["lstm"])
        self.input_size = int(self.info["observation"]["input"][1])
        self.action_names = list(self.info["actions"])
        if self.format == "onnx":
            import onnxruntime  # deferred: the format's runtime only (see the docstring)

            options = onnxruntime.SessionOptions()
            options.log_severity_level = 3
            if ONNX_THREADS:
                options.intra_op_num_threads = options.inter_op_num_threads = ONNX_THREADS
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._session = onnxruntime.InferenceSession(
                str(self.folder / FILES["onnx"]), options, providers=["CPUExecutionProvider"])
        elif self.format == "torchscript":
            import torch  # deferred: the format's runtime only (see the docstring)

            self._module = torch.jit.load(str(self.folder / FILES["torchscript"]), map_location="cpu")
        elif self.format == "mlflow":
            import mlflow.pytorch  # deferred: the format's runtime only (see the docstring)

            self._module = mlflow.pytorch.load_model(str(self.folder), map_location="cpu")
        else:
            raise ValueError(f"{self.folder}: unknown export format {self.format!r}")

    @staticmethod
    def describe(folder: str | Path) -> dict:
        """policy.json of an export folder, without loading the network; its run folder and
        checkpoint file, written relative to the export folder, resolved against it (an older
        export's absolute paths are kept as they are)."""
        info = json.loads((Path(folder) / INFO).read_text())
        for section, key in (("run", "folder"), ("checkpoint", "file")):
            part = info.get(section)
            if isinstance(part, dict) and part.get(key):
                part[key] = str((Path(folder) / part[key]).resolve())
        return info

    def initial_state(self, n: int) -> np.ndarray | None:
        return np.zeros((n, 2, self.lstm), np.float32) if self.recurrent else None

    def step(self, rgb: np.ndarray, mask: np.ndarray | None = None, state: np.ndarray | None = None,
             starts: np.ndarray | None = None):
        """(log-probabilities [N, A], values [N], next state or None) for N seats."""
        n = rgb.shape[0]
        mask = np.ones((n, len(self.action_names)), bool) if mask is None else mask.astype(bool)
        inputs = [np.ascontiguousarray(rgb, dtype=np.uint8), mask]
        if self.recurrent:
            inputs += [self.initial_state(n) if state is None else state.astype(np.float32),
                       np.zeros(n, bool) if starts is None else starts.astype(bool)]
        if self.format == "onnx":
            feeds = {i.name: x for i, x in zip(self._session.get_inputs(), inputs)}
            out = self._session.run(None, feeds)
        else:
            import torch  # deferred: the format's runtime only (see the docstring)

            with torch.no_grad():
                out = [t.numpy() for t in self._module(*[torch.from_numpy(x) for x in inputs])]
        return out[0], out[1], (out[2] if self.recurrent else None)


class ExportedAgent:
    """Samples actions for every seat of an env from an exported policy."""

    def __init__(self, folder: str | Path, seed: int = 0):
        self.policy = Exported(folder)
        self.rng = np.random.default_rng(seed)
        self.state = None
        self.starts = None

    def act(self, rgb: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        logp, _, self.state = self.policy.step(rgb, mask, self.state, self.starts)
        p = np.exp(logp.astype(np.float64))
        p /= p.sum(-1, keepdims=True)
        return np.array([self.rng.choice(len(row), p=row) for row in p])

    def observe_done(self, done: np.ndarray) -> None:
        self.starts = np.asarray(done, dtype=bool)
