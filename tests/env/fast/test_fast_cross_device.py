"""The fast env on a device against the fast env on the CPU, bit for bit, fed the same random
draws (`cpu_draws=True`: CUDA's generator gives other numbers than the CPU's from the same
seed) and the same actions: 64 worlds for 1,200 steps (episodes end from step 1,000 on, so
summaries and resets are compared too). On a machine without a GPU the `device` is the CPU,
and the check is CPU against CPU: it still proves that `cpu_draws` leaves the CPU's stream,
and so every validated CPU result, as it was."""

import pytest
import torch

from popbased.env.fast.env import FastBatchedEnv
from popbased.substrates import resolve

WORLDS, STEPS = 64, 1_200
STATE = ("pos", "orient", "alive", "wait", "timer", "live", "group", "grass", "t", "occ")


@pytest.fixture(autouse=True)
def one_thread():
    """Small batches step fastest on one CPU thread (5 ms a step at 64 worlds, against 90 ms
    with two threads beside another busy process on 2 cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _summaries(episodes):
    return [{k: v for k, v in e.items() if k != "series"} | {"series": e.get("series")} for e in episodes]


@pytest.mark.parametrize("name", ["open", "no_zap"])
def test_device_worlds_equal_cpu_worlds_bit_for_bit_with_shared_draws(name, device):
    spec = resolve(name)
    cpu = FastBatchedEnv(spec, WORLDS, seed=3, device="cpu")  # today's CPU env: its own generator
    dev = FastBatchedEnv(spec, WORLDS, seed=3, device=device, cpu_draws=True)
    cpu.reset(), dev.reset()
    actions = torch.Generator().manual_seed(11)
    ended = 0
    for step in range(STEPS):
        a = torch.randint(0, cpu.num_actions, (cpu.num_seats,), generator=actions)
        got, want = dev.step_tensors(a.to(device)), cpu.step_tensors(a)
        assert torch.equal(got.rgb.cpu(), want.rgb), f"views differ at step {step}"
        assert torch.equal(got.rewards.cpu(), want.rewards), f"rewards differ at step {step}"
        assert torch.equal(got.done.cpu(), want.done), f"done differs at step {step}"
        assert torch.equal(got.ready_to_shoot.cpu(), want.ready_to_shoot)
        assert _summaries(got.episodes) == _summaries(want.episodes), f"summaries differ at step {step}"
        ended += len(want.episodes)
        if step % 100 == 99 or want.episodes:
            for field in STATE:
                assert torch.equal(getattr(dev.world, field).cpu(), getattr(cpu.world, field)), \
                    f"world.{field} differs at step {step}"
    assert ended > 0  # the check reached episode ends, summaries and resets
    assert 0 < int(cpu.world.live.sum()) < cpu.world.live.numel()  # apples were eaten, some live


def test_cpu_draws_change_nothing_on_the_cpu():
    spec = resolve("open")
    runs = []
    for shared in (False, True):
        env = FastBatchedEnv(spec, 8, seed=5, device="cpu", cpu_draws=shared)
        env.reset()
        gen = torch.Generator().manual_seed(2)
        out = [env.step_tensors(torch.randint(0, env.num_actions, (env.num_seats,), generator=gen)).rgb.clone()
               for _ in range(50)]
        runs.append(torch.stack(out))
    assert torch.equal(runs[0], runs[1])
