"""The fast-env benchmark (popbased.bench.fastenv), as a smoke test."""

from popbased.bench.fastenv import bench_fast


def test_bench_fast_smoke():
    row = bench_fast("open", 4, 0.2, 0.05, "cpu")
    assert row["batch"] == 4 and row["steps"] >= 3 and row["agent_steps_per_s"] > 0
    assert set(row["ms_per_part"]) == {"world_step", "rewards_metrics", "episode_ends", "views"}
    assert 1000 < row["state_bytes_per_world"] < 100_000
