"""popbased.devices: TF32 off wherever a device resolves to CUDA, and `sync`, which waits for
CUDA's queue and does nothing on a CPU (both checked on the CPU with torch.cuda stood in for)."""

import pytest
import torch

from popbased.devices import exact_float32, sync
from popbased.ppo.learner import resolve_device


@pytest.fixture
def tf32_on():
    """The TF32 flags switched on for the test, restored after it."""
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def test_exact_float32_turns_tf32_off(tf32_on):
    exact_float32()
    assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32


def test_resolving_to_cuda_turns_tf32_off(tf32_on, monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu")
    assert torch.backends.cudnn.allow_tf32  # a CPU run leaves CUDA's flags alone
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    for name in ("cuda", "cuda:1", "auto"):
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        assert resolve_device(name).type == "cuda"
        assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32


def test_sync_waits_on_cuda_only(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append(device))
    sync("cpu")
    sync(torch.device("cpu"))
    assert calls == []
    sync("cuda:0")
    assert calls == [torch.device("cuda:0")]
