"""What popbased sets and waits for on a torch device: full float32 on CUDA (`exact_float32`,
called by `popbased.ppo.learner.resolve_device`) and `sync`, the wait that timings take at
their part boundaries (CUDA kernels run asynchronously; a CPU does its work before it returns).
"""

from __future__ import annotations

import torch


def exact_float32() -> None:
    """Full float32 matmuls and convolutions on CUDA, for the whole process (TF32 off).

    cuDNN convolutions default to TF32 on Ampere and Hopper (torch.backends.cudnn.allow_tf32 is
    True out of the box): their inputs are rounded to 10 mantissa bits, so the collector's
    grouped convolution and the learner's torso on the same weights differ by about 1e-3, the
    1e-5 / 2e-5 tolerances of tests/ppo/test_stacked.py and test_joint.py fail, and PPO's first
    ratio (the learner's log-probability over the collector's) is no longer exactly 1. cuBLAS
    matmuls are full float32 by default; they are set here as well, so that nothing imported
    earlier leaves them on TF32. A no-op without CUDA (the flags only steer CUDA kernels)."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def sync(device: torch.device | str) -> None:
    """Waits until `device` has run every kernel queued on it (torch.cuda.synchronize): on CUDA
    a `perf_counter` read after it counts the work launched before it. Nothing on a CPU, whose
    operations have finished when they return. Timing paths call it at part boundaries only,
    never the training hot path (each call stalls the GPU's queue)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
