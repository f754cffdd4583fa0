"""The scripted-reference benchmark's figures (popbased.bench.scripted) on known inputs: the
ceiling of the open map, Melting Pot's mean episode length, and per-policy figures from an
evaluation folder written by hand."""

import json

import pandas as pd
import pytest

from popbased.bench.scripted import ceiling_figures, figures, mean_length


def test_ceiling_and_mean_episode_length():
    # 1,099 + 100 (1 / 0.15 - 1), less about one step for the 5,000-step cap
    unbounded = 1099 + 100 * (1 / 0.15 - 1)
    assert mean_length() == pytest.approx(unbounded - 0.85 ** 40 * (unbounded + 4000 - 5000), abs=0.01)
    c = ceiling_figures("open")
    assert c["bound_per_capita_per_1000_steps"] == 130.0 and c["per_capita_per_1000_steps"] == 126.9
    assert c["initial_surplus_apples"] == 64 - 26


def test_figures_from_an_evaluation_folder(tmp_path):
    (tmp_path / "evaluation.json").write_text(json.dumps({"episodes": 2}))
    pd.DataFrame({"policy": ["a", "a", "b", "b"], "per_capita_return": [100.0, 300.0, 10.0, 10.0],
                  "steps": [1000, 2000, 1000, 1000], "depleted": [False, True, True, True],
                  "proxy_depleted": [True, True, True, False], "apples_min": [3, 5, 0, 0]}
                 ).to_parquet(tmp_path / "episodes.parquet")
    a = figures(tmp_path)["policies"]["a"]
    assert a["per_capita_per_1000_steps"]["mean"] == 125.0  # (100 + 150) / 2: per episode, then averaged
    assert a["per_capita_per_1000_steps_pooled"] == pytest.approx(400 / 3000 * 1000, abs=0.01)
    assert a["depleted_world_fraction"] == 0.5 and a["depleted_proxy_fraction"] == 1.0
    b = figures(tmp_path)["policies"]["b"]
    assert b["per_capita_per_1000_steps"]["ci95"] == [10.0, 10.0]
