"""The PettingZoo parallel view of the fast env (popbased.env.fast.pettingzoo) against the
Melting Pot view."""

import numpy as np
from pettingzoo.test import parallel_api_test

from popbased.env.fast.pettingzoo import parallel_env
from popbased.env.pettingzoo import parallel_env as meltingpot_env


def test_parallel_api():
    parallel_api_test(parallel_env("no_zap", {"players": "3"}, max_episode_steps=30), num_cycles=60)


def test_same_spaces_and_infos_as_the_melting_pot_view():
    fast = parallel_env("farmer", {"players": "2", "farmer_weight": "0.1"}, max_episode_steps=40)
    real = meltingpot_env("farmer", {"players": "2", "farmer_weight": "0.1"}, max_episode_steps=40)
    obs_f, _ = fast.reset(seed=0)
    obs_r, _ = real.reset(seed=0)
    assert fast.possible_agents == real.possible_agents
    for agent in fast.possible_agents:
        assert fast.observation_space(agent) == real.observation_space(agent)
        assert fast.action_space(agent) == real.action_space(agent)
        assert obs_f[agent]["RGB"].shape == obs_r[agent]["RGB"].shape
    total = 0.0
    while fast.agents:
        _, rewards, _, truncations, infos = fast.step({a: 1 for a in fast.agents})
        for agent, info in infos.items():
            c = info["components"]
            assert rewards[agent] == np.float32(c["reward"]) + np.float32(c["farmer"])
            total += c["farmer"]
    assert total > 0 and all(truncations.values())
    _, _, _, _, infos_r = real.step({a: 1 for a in real.agents})
    assert set(infos["player_0"]["components"]) == set(infos_r["player_0"]["components"]) | {"last_apples"}
    assert set(infos["player_0"]["episode"]) >= {"per_capita_return", "gini", "series"}
    real.close()
