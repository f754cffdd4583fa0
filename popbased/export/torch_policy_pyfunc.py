"""MLflow pyfunc loader of a popbased policy exported with torch (`popbased export champion
--format mlflow`: a torch.export program in data/model.pt2; `--format torchscript`: policy.pt).

MLflow copies this file into the model's `code/` folder and names it as the model's
`python_function` loader, so `mlflow.pyfunc.load_model(...)` runs it from there: it needs
torch, numpy and mlflow, and imports nothing of popbased (keep it that way).

predict takes a dict of numpy arrays named as the model signature's inputs (rgb, mask, and for
recurrent policies state, starts) and returns a dict of numpy arrays named as its outputs
(logp, value, and state_out), as MLflow's onnx flavour does for the ONNX export.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from mlflow.models import Model

PT2 = os.path.join("data", "model.pt2")
TORCHSCRIPT = "policy.pt"


class TorchPolicy:
    def __init__(self, path: str):
        signature = Model.load(os.path.join(path, "MLmodel")).signature
        self.inputs = signature.inputs.input_names()
        self.outputs = signature.outputs.input_names()
        if os.path.isfile(os.path.join(path, PT2)):
            self.module = torch.export.load(os.path.join(path, PT2)).module()
        else:
            self.module = torch.jit.load(os.path.join(path, TORCHSCRIPT), map_location="cpu").eval()

    def predict(self, data, params=None):
        if not isinstance(data, dict):
            raise TypeError(f"expected a dict of numpy arrays named {', '.join(self.inputs)}; "
                            f"got {type(data).__name__}")
        missing = [name for name in self.inputs if name not in data]
        if missing:
            raise ValueError(f"missing inputs {', '.join(missing)} (this policy takes {', '.join(self.inputs)})")
        feeds = [torch.from_numpy(np.ascontiguousarray(data[name])) for name in self.inputs]
        with torch.no_grad():
            out = self.module(*feeds)
        return {name: t.numpy() for name, t in zip(self.outputs, out)}


def _load_pyfunc(path, model_config=None):
    return TorchPolicy(path)
