"""The fast env's `last_apples` reward component (an apple eaten with fewer than 3 live apples
within radius 2): its count matches the live apples around each eaten apple, read from the
world's state before the step; it exists on the fast env only, and a Melting Pot run refuses
it before anything starts."""

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from popbased.cli import cli
from popbased.env.engines import FAST, MELTINGPOT
from popbased.env.fast.env import FastBatchedEnv
from popbased.env.instance import LAST_APPLES_BELOW, component_names
from popbased.errors import BadInput
from popbased.substrates import resolve


def test_eaten_neighbours_are_the_live_apples_around_the_eaten_apple(device):
    spec = resolve("open", {})
    env = FastBatchedEnv(spec, 8, seed=3, device=device)
    env.reset()
    world, col = env.world, env.column["last_apples"]
    neighbours = torch.from_numpy(env.game.neighbours).to(device)  # [A, k], padded with A
    rng = np.random.default_rng(0)
    eats = scarce = 0
    for _ in range(600):
        live = world.live[:, :world.A].clone()
        padded = torch.cat([live, torch.zeros_like(live[:, :1])], 1)
        out = env.step_tensors(torch.from_numpy(rng.integers(0, env.num_actions, env.num_seats))
                               .to(device))
        near = env.last_events.eaten_neighbours  # [B, P]
        for b, p in zip(*torch.nonzero(near >= 0, as_tuple=True)):
            apple = int(world.apple_at[world.pos[b, p]])
            assert apple < world.A and bool(live[b, apple])  # it was live, and eaten
            expected = int(padded[b, neighbours[apple]].sum())
            assert int(near[b, p]) == expected
            eats += 1
            scarce += expected < LAST_APPLES_BELOW
        flags = out.rewards[:, col].view(env.num_envs, env.players)
        assert torch.equal(flags, ((near >= 0) & (near < LAST_APPLES_BELOW)).float())
        if out.episodes:
            break
    assert eats > 100 and 0 < scarce < eats  # random play eats both kinds


def test_last_apples_is_a_fast_env_component_only():
    spec = resolve("open", {})
    assert "last_apples" in component_names(spec, fast=True)
    assert "last_apples" not in component_names(spec)
    FAST.check_components(["last_apples"], "--shaping")
    with pytest.raises(BadInput, match="fast env only"):
        MELTINGPOT.check_components(["reward", "last_apples"], "--shaping")


def test_train_on_meltingpot_with_last_apples_is_one_line_exit_2(tmp_path):
    result = CliRunner().invoke(cli, ["train", "open", "--env", "meltingpot", "--total-steps", "7000",
                                      "--shaping", "last_apples=-3", "--out", str(tmp_path / "t")])
    assert result.exit_code == 2
    assert "'last_apples' is counted by the fast env only" in result.output
    assert not (tmp_path / "t").exists()
