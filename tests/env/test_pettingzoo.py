"""The PettingZoo parallel view of Melting Pot substrates (popbased.env.pettingzoo)."""

import numpy as np
from pettingzoo.test import parallel_api_test

from popbased.env.pettingzoo import parallel_env


def test_parallel_api():
    parallel_api_test(parallel_env("no_zap", {"players": "3"}, max_episode_steps=30), num_cycles=60)


def test_farmer_reward_reaches_other_libraries():
    env = parallel_env("farmer", {"players": "2", "farmer_weight": "0.1"}, max_episode_steps=50)
    env.reset(seed=0)
    total_components = 0.0
    while env.agents:
        _, rewards, _, _, infos = env.step({a: 0 for a in env.agents})
        for agent, info in infos.items():
            c = info["components"]
            assert rewards[agent] == np.float32(c["reward"]) + np.float32(c["farmer"])
            total_components += c["farmer"]
    assert total_components > 0
    assert "episode" in info
    env.close()
