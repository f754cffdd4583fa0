"""ReadCounter: counts the torch calls that read a device value on the host (a host sync on a
GPU), for tests that a hot path makes none (or a fixed number)."""

import collections

import torch
from torch.overrides import TorchFunctionMode

SYNCS = {"__bool__", "item", "tolist", "cpu", "numpy", "nonzero", "masked_select", "unique",
         "__int__", "__float__", "__index__", "_local_scalar_dense"}


class ReadCounter(TorchFunctionMode):
    """Counts host reads of tensor values and boolean-mask indexings (a nonzero inside);
    nothing while `paused`."""

    def __init__(self):
        super().__init__()
        self.calls = collections.Counter()
        self.paused = False

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if not self.paused:
            name = getattr(func, "__name__", str(func))
            if name in SYNCS:
                self.calls[name] += 1
            if name in ("__getitem__", "__setitem__") and len(args) > 1:
                index = args[1] if isinstance(args[1], tuple) else (args[1],)
                if any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in index):
                    self.calls[f"mask {name}"] += 1
        return func(*args, **(kwargs or {}))
