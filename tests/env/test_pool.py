"""BatchedEnv with real worker processes: batching, auto-reset through spares, masks."""

import numpy as np
import pytest

from popbased.env.pool import BatchedEnv
from popbased.errors import BadInput
from popbased.substrates import resolve


@pytest.fixture(scope="module")
def env():
    """One pool for the module's tests, reset here (a pool resets once), so that the tests do
    not depend on their order: pytest-xdist may run another module's tests between them."""
    e = BatchedEnv(resolve("open", {"players": "3"}), num_envs=2, seed=0, spares=1,
                   max_episode_steps=40)
    e.first = e.reset()
    yield e
    e.close()


def test_shapes_and_auto_reset(env):
    obs = env.first
    assert obs.rgb.shape == (6, 11, 11, 3) and obs.rgb.dtype == np.uint8
    assert np.all(obs.ready_to_shoot == 1.0)
    rng = np.random.default_rng(0)
    episodes, dones = [], 0
    for _ in range(130):
        out = env.step(rng.integers(0, env.num_actions, env.num_seats))
        assert out.rewards.shape == (6, len(env.components))
        dones += out.done.sum()
        episodes += out.episodes
    # 130 steps / 40-step episodes: 3 finished episodes per env, each seat flagged (the other
    # test's one step, if it ran first, moves the ends but not their count)
    assert len(episodes) == 6 and dones == 6 * 3
    assert all(e["steps"] == 40 and e["truncated"] for e in episodes)
    assert sorted(e["env"] for e in episodes) == [0, 0, 0, 1, 1, 1]
    # workers rotate: more distinct workers served the envs than there are envs
    assert env.stats["episodes"] == 6
    frame = env.render(0)
    assert frame.ndim == 3 and frame.shape[2] == 3


def test_masked_actions_are_refused(env):
    mask = np.ones((env.num_seats, env.num_actions), dtype=bool)
    mask[0] = env.mask_for([a for a in env.action_names if a != "FIRE_ZAP"])
    env.set_action_mask(mask)
    actions = np.zeros(env.num_seats, dtype=np.int64)
    actions[0] = env.action_names.index("FIRE_ZAP")
    with pytest.raises(BadInput, match="forbids"):
        env.step(actions)
    actions[0] = 0
    env.step(actions)
    with pytest.raises(BadInput, match="do not exist"):
        env.action_indices(["FIRE_CLEAN"])
    env.set_action_mask(np.ones_like(mask))


def test_full_resolution_and_inline_backend():
    with BatchedEnv(resolve("no_zap", {"players": "2"}), num_envs=1, obs_size=88,
                    backend="inline", max_episode_steps=5) as env:
        obs = env.reset()
        assert obs.rgb.shape == (2, 88, 88, 3)
        for _ in range(5):
            out = env.step(np.zeros(2, dtype=np.int64))
        assert out.done.all() and out.episodes[0]["steps"] == 5


def test_stock_substrate_passes_through():
    with BatchedEnv(resolve("clean_up"), num_envs=1, backend="inline", max_episode_steps=20) as env:
        env.reset()
        assert "zaps_fired" not in env.components
        for _ in range(20):
            out = env.step(np.random.default_rng(0).integers(0, env.num_actions, env.num_seats))
        summary = out.episodes[0]
        assert summary["depleted"] is None and summary["steps"] == 20


def test_bad_arguments():
    spec = resolve("open")
    with pytest.raises(BadInput):
        BatchedEnv(spec, num_envs=0)
    with pytest.raises(BadInput):
        BatchedEnv(spec, obs_size=100)


def test_async_steps():
    with BatchedEnv(resolve("open"), 2, seed=1, backend="inline") as env:
        env.reset()
        actions = np.zeros(env.num_seats, dtype=np.int64)
        with pytest.raises(RuntimeError):
            env.step_wait()
        env.step_async(actions)
        with pytest.raises(RuntimeError):
            env.step_async(actions)
        out = env.step_wait()
        assert out.rewards.shape == (14, len(env.components))


@pytest.mark.parametrize("backend", ["inline", "process"])
def test_world_state_rides_along_with_each_observation(backend):
    """world_state (make_env's, for scripted players): each observation carries every env's
    WORLD.POPBASED_STATE (popbased's read-only StateDump observer), the state of the world that
    the views show: the step counter, players on free cells, removed players' views black."""
    from popbased.env.engines import make_env
    from popbased.env.fast.capture import LIVE, parse_state
    from popbased.env.fast.maps import build_map

    spec = resolve("open")
    game = build_map(spec.params)
    rng = np.random.default_rng(0)
    removed = 0
    with make_env(spec, 2, backend=backend, seed=3, world_state=True, max_episode_steps=30) as env:
        obs = env.reset()
        assert obs.world.shape == (2, 1 + 5 * 7 + 5 * 64)
        for t in range(1, 30):
            obs = env.step(rng.integers(0, len(spec.action_names), 2 * spec.num_players)).obs
            for e in range(2):
                state = parse_state(obs.world[e], game, np.zeros(7, np.int64))
                assert state.t == t + 1 and 0 < (state.apple_state == LIVE).sum() <= 64
                on = state.pos[state.alive]  # a removed player is off the map until it respawns
                assert not game.wall[on[:, 0], on[:, 1]].any()
                black = (obs.rgb[e * 7:(e + 1) * 7] == 0).all(axis=(1, 2, 3))
                np.testing.assert_array_equal(black, ~state.alive)
                removed += int((~state.alive).sum())
    assert removed > 0  # random players zap: some were removed
    with make_env(spec, 1, backend="inline") as plain:
        assert plain.reset().world is None
    with pytest.raises(BadInput, match="StateDump"):
        BatchedEnv(spec, 1, backend="inline", world_state=True)
